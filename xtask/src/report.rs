//! `cargo xtask report`: the Markdown lab report for a graded image, with a
//! measured comparison against the naive single-stage build
//! (`Dockerfile.naive`). Every sentence of the discussion is written from
//! the numbers measured in this run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::docker;
use crate::grading::{self, Grade, Status, Subject, output};
use crate::project_root;
use crate::verify::{Target, build_production_image};

/// Options of `cargo xtask report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Where to write the report.
    #[arg(long, value_name = "FILE", default_value = "lab-report.md")]
    pub output: PathBuf,
}

/// The figures compared between the two images.
struct Figures {
    size_bytes: u64,
    layers: usize,
    user: String,
    healthcheck: Option<String>,
    healthy_after: Option<Duration>,
    first_answer: Option<Duration>,
    stop: Option<(Duration, i64)>,
    has_shell: Option<bool>,
    lab_passed: usize,
    lab_applicable: usize,
}

impl Figures {
    fn of(grade: &Grade) -> Self {
        let e = &grade.evidence;
        let test = &e.inspect["Config"]["Healthcheck"]["Test"];
        let healthcheck = test
            .as_array()
            .filter(|t| !t.is_empty() && t[0] != "NONE")
            .map(|t| {
                t.iter()
                    .skip(1)
                    .filter_map(|w| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        let lab = grade.outcomes.iter().filter(|o| o.lab);
        Figures {
            size_bytes: e.inspect["Size"].as_u64().unwrap_or(0),
            layers: e.inspect["RootFS"]["Layers"].as_array().map_or(0, Vec::len),
            user: e.inspect["Config"]["User"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            healthcheck,
            healthy_after: e.healthy.as_ref().ok().copied(),
            first_answer: e.lab.first_answer.as_ref().ok().map(|(after, _)| *after),
            stop: e.stopped.as_ref().ok().map(|s| (s.elapsed, s.exit_code)),
            has_shell: e.has_shell.as_ref().ok().copied(),
            lab_passed: lab.clone().filter(|o| o.status == Status::Pass).count(),
            lab_applicable: lab.filter(|o| o.status != Status::NotApplicable).count(),
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn secs(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "never".to_owned(),
        |d| format!("{:.2} s", d.as_secs_f64()),
    )
}

fn user(user: &str) -> String {
    if user.is_empty() {
        "(unset: root)".to_owned()
    } else {
        user.to_owned()
    }
}

/// Compares `a` to `b` in words: "8.0x faster", "about the same" ...
fn compared(a: Duration, b: Duration, faster: &str, slower: &str) -> String {
    let ratio = b.as_secs_f64() / a.as_secs_f64().max(1e-6);
    if (0.8..=1.25).contains(&ratio) {
        "about as fast as".to_owned()
    } else if ratio > 1.0 {
        format!("{ratio:.1}x {faster} than")
    } else {
        format!("{:.1}x {slower} than", 1.0 / ratio)
    }
}

/// The discussion: one sentence per measured difference.
fn discussion(prod: &Figures, naive: &Figures) -> Vec<String> {
    let mut sentences = vec![format!(
        "The production image weighs {}, {:.0}x less than the naive build's {}: its final stage keeps only \
         the static binary, while the naive one ships the whole Rust toolchain and build tree.",
        mb(prod.size_bytes),
        naive.size_bytes as f64 / prod.size_bytes.max(1) as f64,
        mb(naive.size_bytes)
    )];
    let layers = |n: usize| {
        if n == 1 {
            "1 layer".to_owned()
        } else {
            format!("{n} layers")
        }
    };
    sentences.push(format!(
        "It has {} against {}, so there is less to pull, store and scan.",
        layers(prod.layers),
        layers(naive.layers)
    ));
    sentences.push(match (prod.user.is_empty(), naive.user.is_empty()) {
        (false, true) => format!(
            "It runs as user {} while the naive image runs as root, so a compromised process cannot \
             write to system paths or use root's privileges.",
            prod.user
        ),
        _ => format!("It runs as {} and the naive image as {}.", user(&prod.user), user(&naive.user)),
    });
    sentences.push(match (&prod.healthcheck, &naive.healthcheck) {
        (Some(check), None) => format!(
            "Its HEALTHCHECK (`{check}`) reported healthy {} after `docker run`; the naive image has none, \
             so Docker cannot tell a hung service from a working one.",
            secs(prod.healthy_after)
        ),
        (Some(check), Some(_)) => format!("Both declare a HEALTHCHECK; ours (`{check}`) was healthy after {}.", secs(prod.healthy_after)),
        (None, _) => "The production image declares no HEALTHCHECK.".to_owned(),
    });
    if let (Some(p), Some(n)) = (prod.first_answer, naive.first_answer) {
        sentences.push(format!(
            "It answered its first request {} after `docker run`, {} the naive image ({}).",
            secs(Some(p)),
            compared(p, n, "faster", "slower"),
            secs(Some(n))
        ));
    }
    if let (Some((p, p_code)), Some((n, n_code))) = (prod.stop, naive.stop) {
        sentences.push(format!(
            "`docker stop` took {} with exit code {p_code}, against {} with exit code {n_code} for the naive image{}.",
            secs(Some(p)),
            secs(Some(n)),
            if n_code == 137 { ", which ignored SIGTERM and had to be killed" } else { "" }
        ));
    }
    if let (Some(false), Some(true)) = (prod.has_shell, naive.has_shell) {
        sentences.push(
            "There is no shell in the production image (`docker exec ... sh` fails), while the naive image hands \
             an intruder a full Debian userland."
                .to_owned(),
        );
    }
    sentences.push(format!(
        "On the lab's criteria the production image passes {}/{}, the naive one {}/{}.",
        prod.lab_passed, prod.lab_applicable, naive.lab_passed, naive.lab_applicable
    ));
    sentences
}

/// The report as Markdown.
fn markdown(grade: &Grade, naive: &Grade, history: &str) -> String {
    let (prod, naive_figures) = (Figures::of(grade), Figures::of(naive));
    let subject = &grade.evidence.subject;
    let mut md = String::new();
    let _ = writeln!(md, "# Lab report: `{}`\n", subject.image);
    let _ = writeln!(
        md,
        "Student: `{}`. Generated by `cargo xtask report`; every figure below was measured on this run's Docker engine.\n",
        subject.seed.login
    );
    let _ = writeln!(md, "**{}**\n", output::verdict(grade, false));
    let _ = writeln!(
        md,
        "## Criteria\n\n| criterion | id | result | measured | see it yourself |\n|---|---|---|---|---|"
    );
    for o in &grade.outcomes {
        let result = match o.status {
            Status::Pass => "pass",
            Status::Fail => "**FAIL**",
            Status::NotApplicable => "n/a",
        };
        let lab = if o.lab { "" } else { " (beyond the lab)" };
        let _ = writeln!(
            md,
            "| {}{lab} | `{}` | {result} | {} | `{}` |",
            o.criterion.replace('|', "\\|"),
            o.id,
            o.value.replace('|', "\\|"),
            o.command.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        md,
        "\n## Image history\n\n`docker history {}`:\n\n```\n{}\n```\n",
        subject.image,
        history.trim_end()
    );
    let _ = writeln!(md, "## Production versus naive build\n");
    let _ = writeln!(
        md,
        "The naive build is `Dockerfile.naive`: one stage on the full toolchain image, root user, no healthcheck.\n"
    );
    let _ = writeln!(md, "| | production | naive |\n|---|---|---|");
    let rows: [(&str, String, String); 8] = [
        (
            "image size",
            mb(prod.size_bytes),
            mb(naive_figures.size_bytes),
        ),
        (
            "layers",
            prod.layers.to_string(),
            naive_figures.layers.to_string(),
        ),
        ("user", user(&prod.user), user(&naive_figures.user)),
        (
            "healthcheck",
            prod.healthcheck.clone().unwrap_or_else(|| "none".into()),
            naive_figures
                .healthcheck
                .clone()
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "`docker run` to first answer",
            secs(prod.first_answer),
            secs(naive_figures.first_answer),
        ),
        (
            "`docker stop` time",
            secs(prod.stop.map(|s| s.0)),
            secs(naive_figures.stop.map(|s| s.0)),
        ),
        (
            "exit code after `docker stop`",
            prod.stop.map_or("-".into(), |s| s.1.to_string()),
            naive_figures.stop.map_or("-".into(), |s| s.1.to_string()),
        ),
        (
            "lab criteria passed",
            format!("{}/{}", prod.lab_passed, prod.lab_applicable),
            format!(
                "{}/{}",
                naive_figures.lab_passed, naive_figures.lab_applicable
            ),
        ),
    ];
    for (name, p, n) in rows {
        let _ = writeln!(md, "| {name} | {p} | {n} |");
    }
    let _ = writeln!(
        md,
        "\n## Why the production image is better\n\n{}",
        discussion(&prod, &naive_figures).join(" ")
    );
    md
}

/// Grades the image and the naive build, and writes the report.
pub fn run(args: &Args) -> Result<()> {
    let subject = args.target.prepare()?;
    let history = docker::run(&[
        "history",
        "--format",
        "table {{.CreatedBy}}\t{{.Size}}",
        &subject.image,
    ])?;
    eprintln!("grading {}", subject.image);
    let grade = grading::grade(&subject)?;
    let naive_tag = docker::unique_name("image-lab-naive");
    let naive_image = build_production_image(&subject.seed, "Dockerfile.naive", &naive_tag)
        .context("building Dockerfile.naive for the comparison")?;
    eprintln!("grading the naive build {naive_tag}");
    let naive = grading::grade(&Subject {
        image: naive_image.reference.clone(),
        seed: subject.seed.clone(),
        dockerfile: Some(project_root().join("Dockerfile.naive")),
    })?;
    std::fs::write(&args.output, markdown(&grade, &naive, &history))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{}\nreport written to {}",
        output::verdict(&grade, false),
        args.output.display()
    );
    Ok(())
}
