//! `image-lab-grader grade`: a whole class in one run, unattended.
//!
//! Reads a roster (CSV: `login,token,image[,dockerfile]`), grades every
//! student's image exactly as `verify --image` does (sandboxed, within the
//! time budget), and writes `DIR/<login>.md` and `DIR/<login>.json` per
//! student and `summary.csv`, `summary.json` and `summary.md` for the class.
//! A student already graded in `DIR` is not graded again (unless `--force`),
//! so an interrupted run resumes where it stopped.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grading::formats::{self, Lang};
use crate::grading::untrusted::{csv_cell, markdown_code, markdown_text, quoted};
use crate::grading::{self, Subject, checks};
use crate::seed::Seed;
use toolkit::engine;

/// Options of `image-lab-grader grade`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The class: CSV with the header `login,token,image` and an optional
    /// `dockerfile` column (a path relative to the roster).
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// Where the grades go (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many students to grade at once [default: twice the CPUs, at most 16].
    #[arg(long, value_name = "N", default_value_t = default_jobs(), hide_default_value = true,
          value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
    /// `docker pull` the images the engine does not have.
    #[arg(long)]
    pub pull: bool,
    /// Grade again the students already graded in DIR.
    #[arg(long)]
    pub force: bool,
}

/// Twice the CPUs this process may use, at most 16: a grading mostly waits
/// (for answers, a healthcheck, `docker stop`'s 10 s), and on 2 cores a
/// class of 30 took 85 s with 4, 154 s with 2 (docs/grader-speed.md).
pub fn default_jobs() -> u16 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    u16::try_from(2 * cpus).unwrap_or(u16::MAX).min(16)
}

/// One row of the roster, as written.
#[derive(Debug, Deserialize)]
struct Row {
    login: String,
    token: String,
    image: String,
    #[serde(default)]
    dockerfile: Option<String>,
}

/// A student to grade (or why their row cannot be), then their summary line.
#[derive(Debug, Default, Serialize)]
struct Line {
    login: String,
    image: String,
    passed: bool,
    /// The failed lab criteria, in the lab's order.
    failed: Vec<String>,
    /// Why the image could not be graded at all.
    error: Option<String>,
    /// Every lab criterion's result (`pass`, `fail`, `n/a`), for the class table.
    #[serde(skip)]
    results: Vec<(String, &'static str)>,
    #[serde(skip)]
    subject: Option<Subject>,
}

impl Line {
    fn new(login: String, image: String, subject: Result<Subject, String>) -> Self {
        Line {
            login,
            image,
            error: subject.as_ref().err().cloned(),
            subject: subject.ok(),
            ..Line::default()
        }
    }

    /// The results, from the student's `verify --format json` object.
    fn graded(mut self, json: &Value) -> Self {
        let result = |check: &Value| match (check["applicable"] == true, check["passed"] == true) {
            (false, _) => "n/a",
            (true, true) => "pass",
            (true, false) => "fail",
        };
        let lab = json["checks"].as_array().into_iter().flatten();
        self.results = lab
            .filter(|c| c["lab"] == true)
            .filter_map(|c| Some((c["id"].as_str()?.to_owned(), result(c))))
            .collect();
        self.failed = self
            .results
            .iter()
            .filter(|r| r.1 == "fail")
            .map(|r| r.0.clone())
            .collect();
        self.passed = json["passed"] == true;
        self
    }

    /// What the stderr line of a finished student says after the image.
    fn outcome(&self) -> String {
        if let Some(error) = &self.error {
            return format!("error: {error}");
        }
        let count = |f: fn(&str) -> bool| self.results.iter().filter(|r| f(r.1)).count();
        let (passed, applicable) = (count(|r| r == "pass"), count(|r| r != "n/a"));
        match self.failed.is_empty() {
            true => format!("{passed}/{applicable}"),
            false => format!("{passed}/{applicable}  failed: {}", self.failed.join(" ")),
        }
    }
}

/// Reads the roster: a usage error when the file or its header is wrong;
/// a bad row becomes a student with an error, named by row and field.
fn read_roster(path: &Path) -> Result<Vec<Line>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read the roster {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("roster {}: no header line", path.display()))?
        .clone();
    if let Some(missing) = ["login", "token", "image"]
        .iter()
        .find(|column| !header.iter().any(|name| name == **column))
    {
        bail!(
            "roster {}: the header {:?} lacks the column {missing:?} (expected login,token,image[,dockerfile])",
            path.display(),
            header.iter().collect::<Vec<_>>().join(",")
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut students: Vec<Line> = Vec::new();
    for (index, record) in reader.records().enumerate() {
        // Row 1 is the header, as a spreadsheet counts.
        let row_number = index + 2;
        let at = |message: String| format!("{} row {row_number}: {message}", path.display());
        let student = match record.and_then(|r| r.deserialize::<Row>(Some(&header))) {
            Err(error) => Line::new(
                format!("row-{row_number}"),
                String::new(),
                Err(at(error.to_string())),
            ),
            Ok(row) => {
                // Both would write <login>.json.
                let subject = match students.iter().position(|s| s.login == row.login) {
                    Some(i) => Err(anyhow::anyhow!(
                        "field \"login\" = {:?}: already on row {}",
                        row.login,
                        i + 2
                    )),
                    None => subject_of(&row, base),
                };
                Line::new(
                    row.login,
                    row.image,
                    subject.map_err(|e| at(format!("{e:#}"))),
                )
            }
        };
        students.push(student);
    }
    Ok(students)
}

fn subject_of(row: &Row, base: &Path) -> Result<Subject> {
    let seed = Seed::from_parts(&row.login, &row.token)?;
    if row.image.is_empty() {
        bail!("field \"image\" is empty");
    }
    let dockerfile = match row.dockerfile.as_deref().filter(|d| !d.is_empty()) {
        Some(relative) if !base.join(relative).is_file() => {
            bail!("field \"dockerfile\" = {relative:?}: no such file")
        }
        relative => relative.map(|relative| base.join(relative)),
    };
    Ok(Subject {
        image: row.image.clone(),
        seed,
        dockerfile,
        port: None,
    })
}

/// Writes `path` whole or not at all: an interrupted run leaves no half file
/// that a resumed one would take for a grade.
fn write_atomically(path: &Path, contents: &str) -> Result<()> {
    let partial = path.with_extension("partial");
    fs::write(&partial, contents)
        .and_then(|()| fs::rename(&partial, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Grades one student: their `<login>.json` and `<login>.md` in `out`.
fn grade_one(subject: &Subject, out: &Path, pull: bool) -> Result<Value> {
    let image = &subject.image;
    if engine::image_id(image)?.is_none() {
        if !pull {
            bail!("no image {image} on this engine (give --pull to pull it)");
        }
        engine::pull(image).with_context(|| format!("cannot pull {image}"))?;
    }
    let grade = grading::grade(subject)?;
    let json = formats::json(&grade, false);
    let notes: String = formats::notes(&grade)
        .iter()
        .map(|n| format!("- {}\n", markdown_text(n)))
        .collect();
    let evidence: String = grade
        .outcomes
        .iter()
        .map(|o| format!("- `{}`: {}\n", o.check.id, markdown_text(&o.detail)))
        .collect();
    let md = format!(
        "# {}: {}\n\n**{}**\n\n{notes}\n## Criteria\n\n{}\n## Evidence\n\n{evidence}",
        subject.seed.login,
        markdown_code(image),
        markdown_text(&formats::verdict(&grade, false, Lang::En)),
        formats::markdown(&grade, Lang::En)
    );
    let login = &subject.seed.login;
    write_atomically(&out.join(format!("{login}.md")), &md)?;
    write_atomically(&out.join(format!("{login}.json")), &(json.clone() + "\n"))?;
    Ok(serde_json::from_str(&json)?)
}

/// Grades a student unless graded before (or their row is bad): their
/// line, what the progress line says of it, and how long the grading took.
fn grade_student(student: Line, args: &Args) -> (Line, String, Option<Duration>) {
    let began = Instant::now();
    let json_path = args.out.join(format!("{}.json", student.login));
    let previous = fs::read_to_string(json_path).ok().filter(|_| !args.force);
    let previous = previous.and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let Some(subject) = &student.subject else {
        return (student, String::new(), None);
    };
    if let Some(json) = previous {
        return (student.graded(&json), "graded before".into(), None);
    }
    let line = match grade_one(subject, &args.out, args.pull) {
        Ok(json) => student.graded(&json),
        Err(error) => Line {
            error: Some(format!("{error:#}")),
            ..student
        },
    };
    let took = began.elapsed();
    (line, format!("{:.0} s", took.as_secs_f64()), Some(took))
}

/// Grades the class and writes the summaries; an error only for a usage
/// problem (no roster, a bad header, no engine, an unwritable DIR).
pub fn run(args: &Args) -> Result<()> {
    let students = read_roster(&args.roster)?;
    engine::ensure_engine()?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let total = students.len();
    let queue = Mutex::new(students.into_iter().enumerate());
    // Finished students, and the time the ones graded in this run took.
    let done = Mutex::new((Vec::new(), 0u32, Duration::ZERO));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| {
                loop {
                    let next = lock(&queue).next();
                    let Some((index, student)) = next else { break };
                    let (line, when, took) = grade_student(student, args);
                    let mut done = lock(&done);
                    if let Some(took) = took {
                        (done.1, done.2) = (done.1 + 1, done.2 + took);
                    }
                    let finished = done.0.len() + 1;
                    let eta = match done.1 {
                        graded if graded > 0 && finished < total => {
                            let left =
                                done.2 / graded * (total - finished) as u32 / u32::from(args.jobs);
                            format!("  (ETA {})", minutes_or_seconds(left))
                        }
                        _ => String::new(),
                    };
                    // The roster's text too may hold what a terminal obeys.
                    eprintln!(
                        "[{finished}/{total}] {}  {}  {}  {when}{eta}",
                        quoted(&line.login),
                        quoted(&line.image),
                        quoted(&line.outcome())
                    );
                    done.0.push((index, line));
                }
            });
        }
    });
    let mut lines = done.into_inner().unwrap_or_else(|e| e.into_inner()).0;
    lines.sort_by_key(|(index, _)| *index);
    let lines: Vec<Line> = lines.into_iter().map(|(_, line)| line).collect();
    write_summaries(&args.out, &lines)?;
    let passed = lines.iter().filter(|l| l.passed).count();
    let errors = lines.iter().filter(|l| l.error.is_some()).count();
    eprintln!(
        "{total} students in {:.0} s: {passed} passed, {} failed, {errors} not graded; summaries in {}",
        started.elapsed().as_secs_f64(),
        total - passed - errors,
        args.out.display()
    );
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// "40 s" below two minutes, "7 min" from there.
fn minutes_or_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

/// `summary.csv`, `summary.json` and `summary.md` (the class as a table:
/// students down, the lab's criteria across).
fn write_summaries(out: &Path, lines: &[Line]) -> Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["login", "image", "passed", "failed", "error"])?;
    for line in lines {
        let failed = line.failed.join(" ");
        let error = line.error.as_deref().map(csv_cell);
        csv.serialize((
            csv_cell(&line.login),
            csv_cell(&line.image),
            line.passed,
            failed,
            error,
        ))?;
    }
    let csv = String::from_utf8(csv.into_inner().context("writing summary.csv")?)?;
    write_atomically(&out.join("summary.csv"), &csv)?;
    #[derive(Serialize)]
    struct Class<'a> {
        students: &'a [Line],
    }
    let class = serde_json::to_string_pretty(&Class { students: lines })?;
    write_atomically(&out.join("summary.json"), &(class + "\n"))?;
    let ids: Vec<&str> = checks::CHECKS
        .iter()
        .filter(|c| c.lab)
        .map(|c| c.id)
        .collect();
    let mut md = format!(
        "| student | image | {} | passed |\n|---|---|{}---|\n",
        ids.join(" | "),
        "---|".repeat(ids.len())
    );
    for line in lines {
        let cells: Vec<&str> = ids
            .iter()
            .map(|id| match line.results.iter().find(|(r, _)| r == id) {
                Some((_, "fail")) => "**fail**",
                Some((_, result)) => result,
                None => "-",
            })
            .collect();
        let verdict = match &line.error {
            Some(error) => format!("not graded: {}", markdown_text(error)),
            None if line.passed => "**yes**".to_owned(),
            None => "no".to_owned(),
        };
        md += &format!(
            "| {} | {} | {} | {verdict} |\n",
            markdown_text(&line.login),
            markdown_code(&line.image),
            cells.join(" | ")
        );
    }
    write_atomically(&out.join("summary.md"), &md)
}
