//! How long a class takes to grade, and one image that never answers:
//! `cargo bench --manifest-path xtask/Cargo.toml -p image-lab-grader --bench class`.
//!
//! The class is 30 students: the styles of `tests/students/` in turn, each
//! under a login of its own and built with its own labels. It is graded with
//! `--jobs 1, 2, 4` (and the default, when it is none of them) by the
//! release binary on the host and by the grader's own image. Every run must
//! give each student the failed set the students test expects: a grading
//! that got faster by judging wrong is no gain. Writes
//! `docs/grader-speed.md`; the images and grades are removed at the end.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

#[path = "../tests/support/mod.rs"]
mod support;

use support::class::{self, EXPECTED, Student};

const CLASS_SIZE: usize = 30;
const JOBS: [u16; 3] = [1, 2, 4];
const GRADER: &str = env!("CARGO_BIN_EXE_image-lab-grader");

/// One grading of the class: where, with how many jobs, how long.
struct Timing {
    jobs: u16,
    host: Duration,
    image: Duration,
}

fn main() -> std::process::ExitCode {
    toolkit::run_command(false, || {
        bench()?;
        Ok(std::process::ExitCode::SUCCESS)
    })
}

fn bench() -> Result<()> {
    support::python_base()?;
    let dir = std::env::temp_dir().join(toolkit::unique_name("class-bench"));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    let path = support::repository().join("docs/grader-speed.md");
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The class's students, their Dockerfiles written in `dir`, and each
/// one's expected failed set.
fn class(dir: &Path) -> Result<Vec<(Student, &'static [&'static str])>> {
    let roster = class::roster();
    (0..CLASS_SIZE)
        .map(|i| {
            let (style, failed) = EXPECTED[i % EXPECTED.len()];
            let model = (roster.iter().find(|student| student.login == style))
                .with_context(|| format!("no {style} in roster.csv"))?;
            let login = format!("{style}-{}", i / EXPECTED.len() + 1);
            Ok((Student::like(model, &login, dir)?, failed))
        })
        .collect()
}

fn measure(dir: &Path) -> Result<String> {
    let students = class(dir)?;
    let _images =
        (students.iter().map(|(student, _)| student.build(dir))).collect::<Result<Vec<_>>>()?;
    // The roster, beside the Dockerfiles its rows name.
    let mut roster = String::from("login,token,image,dockerfile\n");
    for (student, _) in &students {
        roster += &(student.row() + "\n");
    }
    std::fs::write(dir.join("roster.csv"), roster)?;
    let grader_image = support::grader_image()?;
    let default_jobs = grader::grade::default_jobs();
    let mut jobs = JOBS.to_vec();
    if !jobs.contains(&default_jobs) {
        jobs.push(default_jobs);
    }
    let mut timings = Vec::new();
    let mut shown = Vec::new();
    for jobs in jobs {
        let out = dir.join(format!("host-{jobs}"));
        let args = grade_args(&dir.join("roster.csv"), &out, jobs);
        let started = Instant::now();
        let status = Command::new(GRADER).args(&args).status()?;
        let host = started.elapsed();
        ensure!(
            status.success(),
            "{GRADER} {} exited with {status}",
            args.join(" ")
        );
        judged_as_expected(&out, &students).context("on the host")?;
        let from_image = class::grade_in_the_graders_image(&grader_image.reference, dir, jobs)?;
        let judged = judged_as_expected(&from_image.dir.join("class"), &students);
        let _ = std::fs::remove_dir_all(&from_image.dir);
        judged.context("from the grader's image")?;
        eprintln!(
            "--jobs {jobs}: {:.0} s on the host, {:.0} s from the image",
            host.as_secs_f64(),
            from_image.took.as_secs_f64()
        );
        if shown.is_empty() {
            shown = vec![
                format!("image-lab-grader {}", args.join(" ")),
                from_image.command,
            ];
        }
        timings.push(Timing {
            jobs,
            host,
            image: from_image.took,
        });
    }
    let alone = never_answers(&students)?;
    Ok(report(&timings, default_jobs, &alone, &shown))
}

fn grade_args(roster: &Path, out: &Path, jobs: u16) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    [
        "grade",
        "--roster",
        &path(roster),
        "--out",
        &path(out),
        "--jobs",
        &jobs.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Every student of `summary.json` in `out` graded, failing exactly the expected set.
fn judged_as_expected(out: &Path, students: &[(Student, &[&str])]) -> Result<()> {
    let path = out.join("summary.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let summary: Value = serde_json::from_str(&text)?;
    let lines = summary["students"].as_array().cloned().unwrap_or_default();
    ensure!(
        lines.len() == students.len(),
        "{} students in {}",
        lines.len(),
        path.display()
    );
    for (student, expected) in students {
        let line = (lines
            .iter()
            .find(|line| line["login"] == student.login.as_str()))
        .with_context(|| format!("{} is not in {}", student.login, path.display()))?;
        let failed: Vec<&str> = (line["failed"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        if !line["error"].is_null() || failed != *expected {
            bail!("{}: {line}, expected failed {expected:?}", student.login);
        }
    }
    Ok(())
}

/// One image that never answers (the app listens on 127.0.0.1 inside its
/// container), graded alone with `verify`: how long, and the command.
struct Alone {
    took: Duration,
    command: String,
}

fn never_answers(students: &[(Student, &[&str])]) -> Result<Alone> {
    let (student, _) = (students
        .iter()
        .find(|(s, _)| s.login.starts_with("flask-run-")))
    .context("the class has no flask-run")?;
    let args = [
        "verify",
        "--image",
        &student.image,
        "--login",
        &student.login,
        "--token",
        &student.token,
    ];
    let started = Instant::now();
    let output = Command::new(GRADER).args(args).output()?;
    let took = started.elapsed();
    // Exit status 1: graded, and a lab criterion failed, as expected.
    ensure!(
        output.status.code() == Some(1),
        "{GRADER} {} exited with {}",
        args.join(" "),
        output.status
    );
    Ok(Alone {
        took,
        command: format!("image-lab-grader {}", args.join(" ")),
    })
}

fn report(timings: &[Timing], default_jobs: u16, alone: &Alone, shown: &[String]) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine =
        toolkit::engine::ensure_engine().unwrap_or_else(|error| format!("unknown ({error:#})"));
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{} {:02}:{:02} UTC", now.date(), now.hour(), now.minute());
    let mut md = String::new();
    let _ = writeln!(md, "# How long the grader takes\n");
    let _ = writeln!(
        md,
        "Written by `cargo bench --manifest-path xtask/Cargo.toml -p image-lab-grader --bench class` \
         on {date}: {cores} cores, Docker Engine {engine}. A class of {CLASS_SIZE}: the {} styles of \
         [`grader/tests/students/`](../grader/tests/students/) in turn, each under a login of its own, \
         built with its own labels. Every run gave every student the failed set the students test \
         expects.\n",
        EXPECTED.len()
    );
    let _ = writeln!(
        md,
        "| `--jobs` | on the host | from the grader's image |\n|---|---|---|"
    );
    for t in timings {
        let default = if t.jobs == default_jobs {
            " (the default here)"
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "| {}{default} | {:.0} s | {:.0} s |",
            t.jobs,
            t.host.as_secs_f64(),
            t.image.as_secs_f64()
        );
    }
    let _ = writeln!(
        md,
        "\nAn image that never answers (`flask-run`: the app listens on 127.0.0.1 inside its container), \
         graded alone: {:.0} s.\n",
        alone.took.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "The commands, as run (the first with `--jobs 1`):\n\n```sh"
    );
    for command in shown.iter().chain([&alone.command]) {
        let _ = writeln!(md, "{command}");
    }
    let _ = writeln!(md, "```");
    md
}
