//! The grader on images built the way students write their Dockerfiles.
//!
//! `tests/students/` holds a class ([`support::class`]): the lab's Flask
//! app, one Dockerfile per student in a style seen in public submissions,
//! and `roster.csv`. `main` makes the Python base (a registry-free stand-in for
//! `python:3.11-slim`, kept between runs like the builder image), builds every
//! student's image, grades the class once with `image-lab-grader grade` (two at a
//! time), and each trial checks one thing a teacher would. The images and
//! the grades' folder are removed at the end, also when a trial fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use grader::grade;
use grader::grading::{self, Subject, checks, formats};
use grader::seed::Seed;
use libtest_mimic::{Arguments, Failed};
use serde_json::Value;
use toolkit::docker::{self, Image};
use toolkit::harness::{self, ensure};

mod support;

use support::class::{self, EXPECTED, IMAGE_USER, Student};

/// The class built and graded once on the host, and once more by the
/// grader's own image.
struct Fixture {
    students: Vec<Student>,
    _images: Vec<Image>,
    out: PathBuf,
    /// The grader's image, and its grades of the class (a folder of its own,
    /// which it wrote as [`IMAGE_USER`]).
    grader: Image,
    from_image: PathBuf,
}

impl Fixture {
    fn build() -> anyhow::Result<Self> {
        support::python_base()?;
        let students = class::roster();
        let images = (students.iter().map(|student| student.build(&class::dir())))
            .collect::<anyhow::Result<_>>()?;
        let out = std::env::temp_dir().join(toolkit::unique_name("grades"));
        grade::run(&grade_args(&class::dir().join("roster.csv"), &out))?;
        let grader = support::grader_image()?;
        let from_image =
            class::grade_in_the_graders_image(&grader.reference, &class::dir(), 2)?.dir;
        Ok(Fixture {
            students,
            _images: images,
            out,
            grader,
            from_image,
        })
    }

    fn json(&self, name: &str) -> Result<Value, Failed> {
        let path = self.out.join(name);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
    }

    /// The `verify --format json` check `id` of a student.
    fn check(&self, login: &str, id: &str) -> Result<Value, Failed> {
        let grade = self.json(&format!("{login}.json"))?;
        grade["checks"]
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["id"] == id))
            .cloned()
            .ok_or_else(|| format!("{login}.json has no check {id}").into())
    }

    fn student(&self, login: &str) -> &Student {
        self.students
            .iter()
            .find(|s| s.login == login)
            .expect("a student of the roster")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.out);
        let _ = std::fs::remove_dir_all(&self.from_image);
    }
}

fn grade_args(roster: &Path, out: &Path) -> grade::Args {
    grade::Args {
        roster: roster.to_owned(),
        out: out.to_owned(),
        jobs: 2,
        pull: false,
        force: false,
    }
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The summary and the student's own JSON both give exactly the expected set.
fn fails_exactly(fx: &Fixture, login: &str, expected: &[&str]) -> Result<(), Failed> {
    let expected: BTreeSet<String> = expected.iter().map(|id| id.to_string()).collect();
    let summary = fx.json("summary.json")?;
    let line = summary["students"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["login"] == login))
        .ok_or_else(|| format!("summary.json has no {login}"))?;
    ensure(line["error"].is_null(), || format!("not graded: {line}"))?;
    ensure(strings(&line["failed"]) == expected, || {
        format!(
            "summary.json: {login} failed {}, expected {expected:?}",
            line["failed"]
        )
    })?;
    ensure(line["passed"] == expected.is_empty(), || {
        format!("summary.json: passed = {}", line["passed"])
    })?;
    let own = fx.json(&format!("{login}.json"))?;
    let failed_lab: BTreeSet<String> = own["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["lab"] == true && c["applicable"] == true && c["passed"] == false)
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    ensure(failed_lab == expected, || {
        format!("{login}.json: failed {failed_lab:?}, expected {expected:?}")
    })
}

fn multi_stage_shows_the_stages(fx: &Fixture) -> Result<(), Failed> {
    let check = fx.check("venv-two-stage", "multi-stage")?;
    let base = support::PYTHON_BASE;
    let expected = format!("deps: {base} -> final: {base}, COPY --from=deps");
    ensure(check["value"] == expected.as_str(), || {
        format!("value {}, expected {expected:?}", check["value"])
    })
}

fn the_one_exposed_port_is_probed(fx: &Fixture) -> Result<(), Failed> {
    let grade = fx.json("port-5000.json")?;
    ensure(grade["port"] == 5000, || format!("port {}", grade["port"]))?;
    let notes = strings(&grade["notes"]);
    ensure(
        notes.contains("probed on container port 5000: the image's one exposed port (EXPOSE 5000)"),
        || format!("the notes do not say which port and why: {notes:?}"),
    )
}

fn a_healthcheck_never_healthy_shows_its_last_probe(fx: &Fixture) -> Result<(), Failed> {
    let check = fx.check("healthcheck-port", "healthcheck")?;
    let detail = check["detail"].as_str().unwrap_or_default();
    ensure(
        detail.contains("the last probe exited 1") && detail.contains("Connection refused"),
        || format!("detail: {detail}"),
    )
}

fn read_only_costs_one_criterion(fx: &Fixture) -> Result<(), Failed> {
    let read_only = fx.check("gunicorn-tmp", "read-only")?;
    let detail = read_only["detail"].as_str().unwrap_or_default();
    ensure(
        detail.contains("No usable temporary directory found")
            && detail.contains("without --read-only it answers"),
        || format!("read-only detail: {detail}"),
    )?;
    for id in ["healthcheck", "sigterm", "env-config", "proof", "health"] {
        let check = fx.check("gunicorn-tmp", id)?;
        let detail = check["detail"].as_str().unwrap_or_default();
        ensure(detail.contains(formats::WITHOUT_READ_ONLY), || {
            format!("{id} does not say it was judged without --read-only: {detail}")
        })?;
    }
    Ok(())
}

/// An app that listens on 127.0.0.1 inside its container answers nobody
/// outside, with --read-only or without: read-only is not blamed, and the
/// note names the likely cause from what the evidence shows (healthy by
/// its own HEALTHCHECK, unreachable from outside).
fn an_app_on_127_0_0_1_is_named_and_read_only_not_blamed(fx: &Fixture) -> Result<(), Failed> {
    let read_only = fx.check("flask-run", "read-only")?;
    let detail = read_only["detail"].as_str().unwrap_or_default();
    ensure(
        read_only["passed"] == true
            && detail.contains("did no worse with --read-only than without"),
        || format!("read-only: {read_only}"),
    )?;
    let grade = fx.json("flask-run.json")?;
    let notes = grade["notes"].to_string();
    ensure(
        notes.contains("healthy by its own HEALTHCHECK")
            && notes.contains("listens on 127.0.0.1 inside the container")
            && !notes.contains("does not survive")
            && !grade["checks"]
                .to_string()
                .contains(formats::WITHOUT_READ_ONLY),
        || format!("flask-run.json: {grade}"),
    )
}

fn a_shell_as_pid_1_is_named(fx: &Fixture) -> Result<(), Failed> {
    let check = fx.check("shell-no-exec", "sigterm")?;
    let detail = check["detail"].as_str().unwrap_or_default();
    ensure(
        detail.starts_with("PID 1 is a shell (\"/bin/sh -c /venv/bin/gunicorn"),
        || format!("detail: {detail}"),
    )
}

/// `verify --format classroom` on a student who runs as root: GitHub
/// Classroom's reporter gets one point per lab criterion, 9 of 10.
fn classroom_scores_one_point_per_criterion(fx: &Fixture) -> Result<(), Failed> {
    let student = fx.student("as-root");
    let grade = grading::grade(&Subject {
        image: student.image.clone(),
        seed: Seed::from_parts(&student.login, &student.token).map_err(|e| e.to_string())?,
        dockerfile: Some(class::dir().join(&student.dockerfile)),
        port: None,
    })
    .map_err(|e| format!("{e:#}"))?;
    let result: Value =
        serde_json::from_str(&formats::classroom(&grade)).map_err(|e| e.to_string())?;
    let tests = result["tests"].as_array().cloned().unwrap_or_default();
    let scores: Vec<(String, u64)> = tests
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("?").to_owned(),
                t["score"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    let lost: Vec<&str> = scores
        .iter()
        .filter(|(_, s)| *s == 0)
        .map(|(n, _)| n.as_str())
        .collect();
    ensure(
        result["version"] == 1
            && result["status"] == "fail"
            && result["max_score"] == 10
            && tests.len() == 10
            && tests.iter().all(|t| t["max_score"] == 1)
            && lost == ["non-root: runs as a non-root user"],
        || format!("{result:#}"),
    )
}

/// The grader's image and the grader on the host give every student the
/// same verdict and the same failed set.
fn the_graders_image_grades_as_the_host_does(fx: &Fixture) -> Result<(), Failed> {
    let summary = |dir: &Path| -> Result<Vec<(String, bool, Value, Value)>, Failed> {
        let path = dir.join("summary.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let summary: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let students = summary["students"].as_array().cloned().unwrap_or_default();
        Ok(students
            .iter()
            .map(|s| {
                let login = s["login"].as_str().unwrap_or("?").to_owned();
                (
                    login,
                    s["passed"] == true,
                    s["failed"].clone(),
                    s["error"].clone(),
                )
            })
            .collect())
    };
    let (host, image) = (summary(&fx.out)?, summary(&fx.from_image.join("class"))?);
    ensure(host.len() == fx.students.len() && host == image, || {
        format!("on the host:\n{host:#?}\nfrom the image:\n{image:#?}")
    })
}

/// What the grader's image writes in the mounted folder is its user's
/// (`--user`), and it leaves no container or network behind.
fn the_graders_image_writes_as_its_user_and_leaves_nothing(fx: &Fixture) -> Result<(), Failed> {
    use std::os::unix::fs::MetadataExt;
    let written = fx.from_image.join("class/summary.json");
    let owner = std::fs::metadata(&written)
        .map_err(|e| e.to_string())?
        .uid();
    ensure(owner == IMAGE_USER, || {
        format!("{} belongs to UID {owner}", written.display())
    })?;
    let left: Vec<String> = [
        ("container", "name=labcheck"),
        ("network", "name=image-lab-grading"),
    ]
    .iter()
    .map(|(kind, filter)| docker::list(kind, filter).map_err(|e| e.to_string()))
    .collect::<Result<Vec<_>, _>>()?
    .concat();
    ensure(left.is_empty(), || format!("left behind: {left:?}"))
}

/// The grader's image is one static binary `FROM scratch` (one layer, the
/// binary's), at most 20 MB.
fn the_graders_image_is_small(fx: &Fixture) -> Result<(), Failed> {
    let image =
        toolkit::engine::inspect_image(&fx.grader.reference).map_err(|e| format!("{e:#}"))?;
    let megabytes = image.size as f64 / 1e6;
    ensure(image.root_fs.layers.len() == 1 && megabytes <= 20.0, || {
        format!("{megabytes:.1} MB in {} layers", image.root_fs.layers.len())
    })
}

/// `verify --port 8000` on the app that listens on 5000: every criterion
/// that needs an answer fails for that one reason, said once.
fn no_answer_on_the_port_is_said_once(fx: &Fixture) -> Result<(), Failed> {
    let student = fx.student("port-5000");
    let grade = grading::grade(&Subject {
        image: student.image.clone(),
        seed: Seed::from_parts(&student.login, &student.token).map_err(|e| e.to_string())?,
        dockerfile: None,
        port: Some(8000),
    })
    .map_err(|e| format!("{e:#}"))?;
    let failed = grade.failed(true);
    ensure(failed == ["env-config", "proof", "health"], || {
        format!("failed {failed:?}")
    })?;
    let table = formats::table(&grade, false);
    let note = "note: the app never answered, so env-config, proof, health, hardened \
                fail for this one reason: no answer on port 8000";
    ensure(table.matches(note).count() == 1, || {
        format!("the table does not say it once:\n{table}")
    })
}

fn summary_csv_has_a_row_per_student(fx: &Fixture) -> Result<(), Failed> {
    let path = fx.out.join("summary.csv");
    let csv = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut expected = vec!["login,image,passed,failed,error".to_owned()];
    for (login, failed) in EXPECTED {
        let student = fx.student(login);
        expected.push(format!(
            "{login},{},{},{},",
            student.image,
            failed.is_empty(),
            failed.join(" ")
        ));
    }
    let lines: Vec<&str> = csv.lines().collect();
    ensure(lines == expected, || format!("summary.csv:\n{csv}"))
}

fn summary_md_is_a_class_table(fx: &Fixture) -> Result<(), Failed> {
    let md = std::fs::read_to_string(fx.out.join("summary.md")).map_err(|e| e.to_string())?;
    let lab: Vec<&str> = checks::CHECKS
        .iter()
        .filter(|c| c.lab)
        .map(|c| c.id)
        .collect();
    let header = format!("| student | image | {} | passed |", lab.join(" | "));
    let lines: Vec<&str> = md.lines().collect();
    ensure(lines.first() == Some(&header.as_str()), || {
        format!("summary.md:\n{md}")
    })?;
    ensure(lines.len() == 2 + EXPECTED.len(), || {
        format!("summary.md:\n{md}")
    })?;
    let row = lines
        .iter()
        .find(|l| l.starts_with("| gunicorn-tmp |"))
        .ok_or("no gunicorn-tmp row")?;
    let cells: Vec<&str> = row.split(" | ").collect();
    let column = 2 + lab
        .iter()
        .position(|id| *id == "read-only")
        .unwrap_or_default();
    ensure(
        cells[column] == "**fail**" && row.ends_with("| no |"),
        || format!("row: {row}"),
    )
}

fn a_second_run_resumes(fx: &Fixture) -> Result<(), Failed> {
    let before = std::fs::metadata(fx.out.join("venv-two-stage.json"))
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    let summary = std::fs::read_to_string(fx.out.join("summary.csv")).map_err(|e| e.to_string())?;
    grade::run(&grade_args(&class::dir().join("roster.csv"), &fx.out))
        .map_err(|e| format!("{e:#}"))?;
    let after = std::fs::metadata(fx.out.join("venv-two-stage.json"))
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    ensure(before == after, || "venv-two-stage was graded again".into())?;
    let again = std::fs::read_to_string(fx.out.join("summary.csv")).map_err(|e| e.to_string())?;
    ensure(again == summary, || {
        format!("the summary changed:\n{again}")
    })
}

/// Bad rows are named by row and field; an image that cannot be pulled is
/// that student's error; the others are graded.
fn bad_rows_do_not_stop_the_class(fx: &Fixture) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(toolkit::unique_name("roster"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let good = fx.student("venv-two-stage");
    let roster = dir.join("roster.csv");
    // Loopback port 1: the pull is refused at once, nothing leaves the machine.
    let unpullable = "127.0.0.1:1/nobody/image-lab:00000000";
    let text = format!(
        "login,token,image,dockerfile\n\
         short-token,abc,x/image-lab:abc,\n\
         {0},{1},{2},\n\
         no-dockerfile,0123456789abcdef,y/image-lab:01234567,missing/Dockerfile\n\
         {0},{1},{2},\n\
         gone,0123456789abcdef,{unpullable},\n",
        good.login, good.token, good.image
    );
    std::fs::write(&roster, text).map_err(|e| e.to_string())?;
    let out = dir.join("grades");
    let mut args = grade_args(&roster, &out);
    args.pull = true;
    let run = grade::run(&args);
    let summary = std::fs::read_to_string(out.join("summary.json"));
    let _ = std::fs::remove_dir_all(&dir);
    run.map_err(|e| format!("{e:#}"))?;
    let summary: Value =
        serde_json::from_str(&summary.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let errors: Vec<String> = summary["students"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["error"].as_str().unwrap_or("graded").to_owned())
        .collect();
    let at = |row: usize| format!("{} row {row}: ", roster.display());
    let expected = [
        format!(
            "{}field \"token\" = \"abc\": expected at least 8 characters",
            at(2)
        ),
        "graded".to_owned(),
        format!(
            "{}field \"dockerfile\" = \"missing/Dockerfile\": no such file",
            at(4)
        ),
        format!(
            "{}field \"login\" = \"{}\": already on row 3",
            at(5),
            good.login
        ),
    ];
    ensure(errors[..4] == expected, || format!("errors: {errors:#?}"))?;
    ensure(
        errors[4].starts_with(&format!("cannot pull {unpullable}")),
        || format!("the unpullable image: {}", errors[4]),
    )
}

fn a_roster_without_its_columns_is_a_usage_error(_: &Fixture) -> Result<(), Failed> {
    let dir = std::env::temp_dir().join(toolkit::unique_name("roster"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let roster = dir.join("roster.csv");
    std::fs::write(&roster, "login,token\nalice,0123456789abcdef\n").map_err(|e| e.to_string())?;
    let result = grade::run(&grade_args(&roster, &dir.join("grades")));
    let _ = std::fs::remove_dir_all(&dir);
    let error = format!(
        "{:#}",
        result.err().ok_or("a roster without images was accepted")?
    );
    ensure(
        error.ends_with("the header \"login,token\" lacks the column \"image\" (expected login,token,image[,dockerfile])"),
        || error.clone(),
    )
}

const CHECKS: &[(&str, harness::CheckFn<Fixture>)] = &[
    (
        "multi-stage shows the stages, same base or not",
        multi_stage_shows_the_stages,
    ),
    (
        "the image's one EXPOSEd port is probed, and said",
        the_one_exposed_port_is_probed,
    ),
    (
        "a HEALTHCHECK never healthy shows its last probe",
        a_healthcheck_never_healthy_shows_its_last_probe,
    ),
    (
        "the grader's image grades the class as the host does",
        the_graders_image_grades_as_the_host_does,
    ),
    (
        "the grader's image writes as --user and leaves nothing behind",
        the_graders_image_writes_as_its_user_and_leaves_nothing,
    ),
    (
        "the grader's image is FROM scratch and at most 20 MB",
        the_graders_image_is_small,
    ),
    (
        "classroom: one point per lab criterion",
        classroom_scores_one_point_per_criterion,
    ),
    (
        "no --read-only costs one criterion, the rest judged without it",
        read_only_costs_one_criterion,
    ),
    (
        "an app on 127.0.0.1 is named, and read-only not blamed",
        an_app_on_127_0_0_1_is_named_and_read_only_not_blamed,
    ),
    (
        "a shell as PID 1 is named in the sigterm detail",
        a_shell_as_pid_1_is_named,
    ),
    (
        "no answer on the port is said once (--port 8000 on a 5000 app)",
        no_answer_on_the_port_is_said_once,
    ),
    (
        "grade: summary.csv has a row per student",
        summary_csv_has_a_row_per_student,
    ),
    (
        "grade: summary.md is the class table",
        summary_md_is_a_class_table,
    ),
    (
        "grade: a second run resumes and grades no one again",
        a_second_run_resumes,
    ),
    (
        "grade: bad rows are named and the others graded",
        bad_rows_do_not_stop_the_class,
    ),
    (
        "grade: a roster without its columns is a usage error",
        a_roster_without_its_columns_is_a_usage_error,
    ),
];

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut checks: Vec<_> = EXPECTED
        .iter()
        .map(|&(login, expected)| {
            harness::check(
                format!("grade fails exactly {expected:?} for {login}"),
                move |fx: &Fixture| fails_exactly(fx, login, expected),
            )
        })
        .collect();
    checks.extend(harness::table(CHECKS));
    harness::run(&args, "the class of student images", Fixture::build, checks).0
}
