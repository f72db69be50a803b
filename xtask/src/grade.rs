//! `cargo xtask grade`: a whole class in one run, unattended.
//!
//! Reads a roster (CSV: `login,token,image[,dockerfile]`), grades every
//! student's image exactly as `verify --image` does (sandboxed, within the
//! time budget), and writes `DIR/<login>.md` and `DIR/<login>.json` per
//! student and `summary.csv`, `summary.json` and `summary.md` for the class.
//! A student already graded in `DIR` is not graded again (unless `--force`),
//! so an interrupted run resumes where it stopped; the summaries are always
//! written from every `<login>.json` in `DIR`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::docker;
use crate::grading::formats::{self, Lang};
use crate::grading::{self, Subject, checks};
use crate::seed::Seed;

/// Options of `cargo xtask grade`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The class: CSV with the header `login,token,image` and an optional
    /// `dockerfile` column (a path relative to the roster).
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// Where the grades go (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many students to grade at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: u16,
    /// `docker pull` the images the engine does not have.
    #[arg(long)]
    pub pull: bool,
    /// Grade again the students already graded in DIR.
    #[arg(long)]
    pub force: bool,
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

/// A student to grade, or why their row cannot be.
#[derive(Debug)]
struct Student {
    login: String,
    image: String,
    subject: Result<Subject, String>,
}

/// One line of the class summary.
#[derive(Debug, Serialize)]
pub struct Line {
    pub login: String,
    pub image: String,
    pub passed: bool,
    /// The failed lab criteria, in the lab's order.
    pub failed: Vec<String>,
    /// Why the image could not be graded at all.
    pub error: Option<String>,
    /// Every lab criterion's result (`pass`, `fail`, `n/a`), for the class table.
    #[serde(skip)]
    results: Vec<(String, &'static str)>,
}

/// Reads the roster: a usage error when the file or its header is wrong;
/// a bad row becomes a student with an error, named by row and field.
fn read_roster(path: &Path) -> Result<Vec<Student>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read the roster {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("roster {}: no header line", path.display()))?
        .clone();
    for required in ["login", "token", "image"] {
        if !header.iter().any(|name| name == required) {
            bail!(
                "roster {}: the header {:?} lacks the column {required:?} (expected login,token,image[,dockerfile])",
                path.display(),
                header.iter().collect::<Vec<_>>().join(",")
            );
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut students: Vec<Student> = Vec::new();
    for (index, record) in reader.records().enumerate() {
        // Row 1 is the header, as a spreadsheet counts.
        let row_number = index + 2;
        let at = |message: String| format!("{} row {row_number}: {message}", path.display());
        let student = match record.and_then(|r| r.deserialize::<Row>(Some(&header))) {
            Err(error) => Student {
                login: format!("row-{row_number}"),
                image: String::new(),
                subject: Err(at(error.to_string())),
            },
            Ok(row) => {
                let earlier = students.iter().position(|s| s.login == row.login);
                let subject = match earlier {
                    // Both would write <login>.json.
                    Some(i) => Err(anyhow::anyhow!(
                        "field \"login\" = {:?}: already on row {}",
                        row.login,
                        i + 2
                    )),
                    None => subject_of(&row, base),
                };
                Student {
                    subject: subject.map_err(|e| at(format!("{e:#}"))),
                    login: row.login,
                    image: row.image,
                }
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
        None => None,
        Some(relative) => {
            let path = base.join(relative);
            if !path.is_file() {
                bail!("field \"dockerfile\" = {relative:?}: no such file");
            }
            Some(path)
        }
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

/// Makes sure the engine has the image: pulled with `--pull`, else an error.
fn ensure_image(image: &str, pull: bool) -> Result<(), String> {
    match docker::image_id(image) {
        Ok(Some(_)) => Ok(()),
        Ok(None) if pull => docker::pull(image).map_err(|e| format!("cannot pull {image}: {e:#}")),
        Ok(None) => Err(format!(
            "no image {image} on this engine (give --pull to pull it)"
        )),
        Err(error) => Err(format!("{error:#}")),
    }
}

/// Grades one student: their `<login>.json` and `<login>.md` in `out`.
fn grade_one(subject: &Subject, out: &Path, pull: bool) -> Result<Value, String> {
    ensure_image(&subject.image, pull)?;
    let grade = grading::grade(subject).map_err(|e| format!("{e:#}"))?;
    let json = formats::json(&grade, false);
    let mut md = format!(
        "# {}: `{}`\n\n**{}**\n\n",
        subject.seed.login,
        subject.image,
        formats::verdict(&grade, false, Lang::En)
    );
    for note in formats::notes(&grade) {
        let _ = writeln!(md, "- {note}");
    }
    let _ = writeln!(
        md,
        "\n## Criteria\n\n{}\n## Evidence\n",
        formats::markdown(&grade, Lang::En)
    );
    for o in &grade.outcomes {
        let _ = writeln!(md, "- `{}`: {}", o.id, o.detail.replace('\n', " "));
    }
    let login = &subject.seed.login;
    write_atomically(&out.join(format!("{login}.md")), &md).map_err(|e| format!("{e:#}"))?;
    write_atomically(&out.join(format!("{login}.json")), &(json.clone() + "\n"))
        .map_err(|e| format!("{e:#}"))?;
    serde_json::from_str(&json).map_err(|e| e.to_string())
}

/// The summary line of a graded student, from their `verify --format json` object.
fn line_of(login: &str, json: &Value) -> Line {
    let lab: Vec<&Value> = json["checks"]
        .as_array()
        .map(|checks| checks.iter().filter(|c| c["lab"] == true).collect())
        .unwrap_or_default();
    let result = |check: &Value| match (check["applicable"] == true, check["passed"] == true) {
        (false, _) => "n/a",
        (true, true) => "pass",
        (true, false) => "fail",
    };
    Line {
        login: login.to_owned(),
        image: json["image"].as_str().unwrap_or_default().to_owned(),
        passed: json["passed"] == true,
        failed: lab
            .iter()
            .filter(|c| result(c) == "fail")
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect(),
        error: None,
        results: lab
            .iter()
            .filter_map(|c| Some((c["id"].as_str()?.to_owned(), result(c))))
            .collect(),
    }
}

fn error_line(student: &Student, error: String) -> Line {
    Line {
        login: student.login.clone(),
        image: student.image.clone(),
        passed: false,
        failed: Vec::new(),
        error: Some(error),
        results: Vec::new(),
    }
}

/// What the stderr line of a finished student says after the image.
fn outcome_text(line: &Line) -> String {
    match &line.error {
        Some(error) => format!("error: {error}"),
        None => {
            let applicable = line.results.iter().filter(|(_, r)| *r != "n/a").count();
            let passed = line.results.iter().filter(|(_, r)| *r == "pass").count();
            if line.failed.is_empty() {
                format!("{passed}/{applicable}")
            } else {
                format!("{passed}/{applicable}  failed: {}", line.failed.join(" "))
            }
        }
    }
}

/// Grades the class and writes the summaries; an error only for a usage
/// problem (no roster, a bad header, no engine, an unwritable DIR).
pub fn run(args: &Args) -> Result<()> {
    let students = read_roster(&args.roster)?;
    docker::ensure_engine()?;
    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let total = students.len();
    let lines: Vec<Mutex<Option<Line>>> = students.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let grading_time = Mutex::new((0usize, Duration::ZERO)); // (graded now, time spent)
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(student) = students.get(index) else {
                        break;
                    };
                    let began = Instant::now();
                    let json_path = args.out.join(format!("{}.json", student.login));
                    let previous = (!args.force)
                        .then(|| fs::read_to_string(&json_path).ok())
                        .flatten()
                        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
                    let (line, when) = match (&student.subject, previous) {
                        (Err(error), _) => (error_line(student, error.clone()), String::new()),
                        (Ok(_), Some(json)) => {
                            (line_of(&student.login, &json), "graded before".to_owned())
                        }
                        (Ok(subject), None) => {
                            let line = match grade_one(subject, &args.out, args.pull) {
                                Ok(json) => line_of(&student.login, &json),
                                Err(error) => error_line(student, error),
                            };
                            let took = began.elapsed();
                            let mut time = grading_time.lock().unwrap_or_else(|e| e.into_inner());
                            *time = (time.0 + 1, time.1 + took);
                            (line, format!("{:.0} s", took.as_secs_f64()))
                        }
                    };
                    let done = finished.fetch_add(1, Ordering::SeqCst) + 1;
                    let (graded, spent) = *grading_time.lock().unwrap_or_else(|e| e.into_inner());
                    let eta = if graded > 0 && done < total {
                        let per_student = spent / u32::try_from(graded).unwrap_or(u32::MAX);
                        let left = per_student * u32::try_from(total - done).unwrap_or(u32::MAX)
                            / u32::from(args.jobs);
                        format!("  (ETA {})", minutes_or_seconds(left))
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "[{done}/{total}] {}  {}  {}  {when}{eta}",
                        line.login,
                        line.image,
                        outcome_text(&line)
                    );
                    *lines[index].lock().unwrap_or_else(|e| e.into_inner()) = Some(line);
                }
            });
        }
    });
    let lines: Vec<Line> = lines
        .into_iter()
        .filter_map(|line| line.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
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

/// "40 s" below two minutes, "7 min" from there.
fn minutes_or_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 120.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

/// `summary.csv`, `summary.json` and `summary.md`.
fn write_summaries(out: &Path, lines: &[Line]) -> Result<()> {
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(["login", "image", "passed", "failed", "error"])?;
    for line in lines {
        csv.write_record([
            line.login.as_str(),
            &line.image,
            if line.passed { "true" } else { "false" },
            &line.failed.join(" "),
            line.error.as_deref().unwrap_or_default(),
        ])?;
    }
    let csv = String::from_utf8(csv.into_inner().context("writing summary.csv")?)?;
    write_atomically(&out.join("summary.csv"), &csv)?;
    #[derive(Serialize)]
    struct Class<'a> {
        students: &'a [Line],
    }
    write_atomically(
        &out.join("summary.json"),
        &(serde_json::to_string_pretty(&Class { students: lines })? + "\n"),
    )?;
    write_atomically(&out.join("summary.md"), &class_table(lines))
}

/// The class as a Markdown table: students down, the lab's criteria across.
fn class_table(lines: &[Line]) -> String {
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
            .map(
                |id| match line.results.iter().find(|(r, _)| r == id).map(|(_, r)| *r) {
                    Some("pass") => "pass",
                    Some("fail") => "**fail**",
                    Some(other) => other,
                    None => "-",
                },
            )
            .collect();
        let verdict = match &line.error {
            Some(error) => format!("not graded: {}", error.replace('|', "\\|")),
            None if line.passed => "**yes**".to_owned(),
            None => "no".to_owned(),
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {verdict} |",
            line.login,
            line.image,
            cells.join(" | ")
        );
    }
    md
}
