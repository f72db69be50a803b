//! Writes the lesson, docs/lesson.md and docs/lesson.ru.md: `cargo lesson`
//! (about 14 minutes on 2 cores).
//!
//! In a copy of the repository, for each step: the build cache emptied
//! (layers and cache mounts: `docker builder prune --all --force`, so the
//! engine's whole build cache goes), a cold build, timed; the grader's
//! verdict, which must be the one the lesson gives the step; one `.rs` file
//! of the service edited and the image built again, timed; then each mistake
//! shown at that step built and graded. The figures go to
//! grader/lesson/measured.json and through the templates beside it into the
//! two files. `cargo lesson render` only renders them again from that file
//! (after editing a template).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use grader::grading::checks::final_base;
use toolkit::docker;

#[path = "../tests/support/mod.rs"]
mod support;

use support::lesson::{self, LESSONS, Measured, STEPS, StepFigures, Verdict};

/// The file edited before each rebuild: what a day's work touches.
const EDITED: &str = "service/src/routes.rs";

fn main() -> ExitCode {
    toolkit::run_command(false, || {
        let measured = if std::env::args().any(|arg| arg == "render") {
            Measured::read()?
        } else {
            let measured = measure()?;
            measured.write()?;
            measured
        };
        measured.agrees_with_the_steps()?;
        for (lang, template, output) in LESSONS {
            let text = lesson::render(&measured, *lang, template)?;
            let path = lesson::repository().join(output);
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn measure() -> Result<Measured> {
    let engine = toolkit::engine::ensure_engine()?;
    lesson::debian_slim()?;
    let (tree, _removed) = toolkit::copy_of_tree(&lesson::repository())?;
    // Each step's final base, as its Dockerfile says, and each base's size
    // and layer count, asked of the engine once.
    let step_bases = (STEPS.iter())
        .map(|step| {
            let text = std::fs::read_to_string(tree.join(step.file))?;
            final_base(&text).with_context(|| format!("{} has no FROM", step.file))
        })
        .collect::<Result<Vec<_>>>()?;
    let (mut bases, mut base_layers) =
        (BTreeMap::new(), BTreeMap::from([("scratch".to_owned(), 0)]));
    for base in step_bases.iter().filter(|base| *base != "scratch") {
        if !bases.contains_key(base) {
            bases.insert(base.clone(), toolkit::engine::inspect_image(base)?.size);
            base_layers.insert(base.clone(), toolkit::engine::history(base)?.len());
        }
    }
    let steps = (STEPS.iter().zip(&step_bases))
        .map(|(step, base)| measure_step(&tree, step, base_layers[base]))
        .collect::<Result<Vec<_>>>()?;
    let now = time::OffsetDateTime::now_utc();
    Ok(Measured {
        cpu: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        engine,
        date: format!("{} {:02}:{:02} UTC", now.date(), now.hour(), now.minute()),
        bases,
        steps,
    })
}

/// Measures `step`, whose final stage's base has `base_layers` layers.
fn measure_step(tree: &Path, step: &lesson::Step, base_layers: usize) -> Result<StepFigures> {
    eprintln!("step {}: {}", step.id, step.file);
    docker::run(&["builder", "prune", "--all", "--force"])?;
    let spec = lesson::build_spec(tree, step.file, &lesson::tag(step.file));
    let started = Instant::now();
    let image = docker::build(&spec)?;
    let cold_build = started.elapsed().as_secs_f64();
    let grade = lesson::grade(&image.reference, &tree.join(step.file))?;
    let verdict = Verdict::of(&grade);
    if verdict.failed != step.fails {
        bail!(
            "{} fails {:?}, but the lesson says {:?}: change the step or what the lesson says of it",
            step.file,
            verdict.failed,
            step.fails
        );
    }
    let history = lesson::own_layers(&grade.evidence.history, base_layers);
    let size = grade.evidence.image.size;

    let edited = tree.join(EDITED);
    let original = std::fs::read_to_string(&edited)?;
    std::fs::write(
        &edited,
        format!("{original}\n// Edited by the lesson's rebuild.\n"),
    )?;
    let started = Instant::now();
    let rebuilt = docker::build(&spec);
    let rebuild = started.elapsed().as_secs_f64();
    std::fs::write(&edited, original)?;
    drop(rebuilt?);

    let mut mistakes = BTreeMap::new();
    for mistake in step.mistakes {
        let image = docker::build(&lesson::build_spec(
            tree,
            mistake.file,
            &lesson::tag(mistake.file),
        ))?;
        let verdict = Verdict::of(&lesson::grade(&image.reference, &tree.join(mistake.file))?);
        if verdict.failed != mistake.fails {
            bail!(
                "{} fails {:?}, but the lesson says {:?}",
                mistake.file,
                verdict.failed,
                mistake.fails
            );
        }
        mistakes.insert(mistake.id.to_owned(), verdict);
    }
    eprintln!(
        "step {}: {} bytes, cold {cold_build:.0} s, rebuild {rebuild:.0} s, {}/{}",
        step.id, size, verdict.passed, verdict.of
    );
    Ok(StepFigures {
        id: step.id.to_owned(),
        size,
        cold_build,
        rebuild,
        verdict,
        history,
        mistakes,
    })
}

/// The CPU's name, from /proc/cpuinfo.
fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    (cpuinfo.lines())
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(
            || "an unknown CPU".to_owned(),
            |(_, name)| name.trim().to_owned(),
        )
}
