//! The grade as a table for people, JSON for scripts, JUnit XML for CI, in
//! English or (from the catalogue `templates/ru.txt`) Russian.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use serde::Serialize;

use super::checks::CHECKS;
use super::untrusted::{self, markdown_code, markdown_text, quoted};
use super::{Grade, Outcome, Status};

/// What a runtime criterion's detail says when the image did not survive
/// `--read-only`; the notes say it once more, as the reason.
pub const WITHOUT_READ_ONLY: &str =
    "judged on a run without --read-only, which this image does not survive";

/// The language of what is printed for people: the tooling speaks English,
/// the course is taught in Russian.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

/// English message -> Russian, from `templates/ru.txt`.
static RUSSIAN: LazyLock<HashMap<&str, &str>> = LazyLock::new(|| {
    include_str!("../../templates/ru.txt")
        .split("\n\n")
        .filter_map(|entry| {
            let mut lines = entry.lines().filter(|line| !line.starts_with('#'));
            Some((lines.next()?, lines.next()?))
        })
        .collect()
});

impl Lang {
    /// `message` (English, the catalogue's key) in this language.
    pub fn tr(self, message: &str) -> &str {
        match self {
            Lang::En => message,
            Lang::Ru => RUSSIAN.get(message).copied().unwrap_or(message),
        }
    }

    /// [`Lang::tr`], each `{}` filled with the next of `args`.
    pub fn say<S: AsRef<str>>(self, message: &str, args: &[S]) -> String {
        let mut parts = self.tr(message).split("{}");
        let mut out = parts.next().unwrap_or_default().to_owned();
        for (part, arg) in parts.zip(args) {
            out += arg.as_ref();
            out += part;
        }
        out
    }
}

/// The one-line verdict.
pub fn verdict(grade: &Grade, strict: bool, lang: Lang) -> String {
    let (passed, applicable) = grade.lab_score();
    let (passed, applicable) = (passed.to_string(), applicable.to_string());
    let image = grade.evidence.subject.image.as_str();
    let (lab_failed, extra_failed) = (grade.failed(true), grade.failed(false));
    let extras = match extra_failed.is_empty() {
        true => String::new(),
        false => lang.say("; beyond the lab failed: {}", &[extra_failed.join(", ")]),
    };
    if grade.passed(strict) {
        let strict = if strict { ", strict" } else { "" };
        let args = [image, &passed, &applicable, strict, &extras];
        lang.say("PASSED: {} meets the lab ({}/{} criteria{}){}", &args)
    } else if lab_failed.is_empty() {
        let args = [image, &passed, &applicable, &extras];
        lang.say("FAILED (strict): {} meets the lab ({}/{}), but{}", &args)
    } else {
        let args = [image, &passed, &applicable, &lab_failed.join(", "), &extras];
        lang.say(
            "FAILED: {} ({}/{} lab criteria passed; failed: {}){}",
            &args,
        )
    }
}

/// What the reader must know before the criteria, each said once: the port
/// probed and why, and why several runtime criteria share one cause.
pub fn notes(grade: &Grade) -> Vec<String> {
    let evidence = &grade.evidence;
    let mut notes = vec![format!(
        "probed on container port {}: {}",
        evidence.port.number, evidence.port.why
    )];
    if let Some(why) = &evidence.unanswered {
        // "no answer on port N": the cause the containers share; what each
        // one's last try met (refused, reset) varies with timing.
        let cause = why.split(':').next().unwrap_or(why);
        let unanswered: Vec<&str> = grade
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Fail && o.detail.starts_with(cause))
            .map(|o| o.check.id)
            .collect();
        let port = evidence.port.number;
        let hint = if evidence.healthy.is_ok() {
            format!(
                "The container is healthy by its own HEALTHCHECK, yet nothing outside it reaches port \
                 {port}: the app almost certainly listens on 127.0.0.1 inside the container (Flask's \
                 app.run() and `flask run` do by default), where only the container itself reaches it; \
                 make it listen on 0.0.0.0. Or it listens on another port: give it with --port N"
            )
        } else {
            "If it listens on another port, give it with --port N".to_owned()
        };
        notes.push(format!(
            "the app never answered, so {} fail for this one reason: {why}. {hint}",
            unanswered.join(", ")
        ));
    } else if !evidence.judged_read_only {
        notes.push(format!(
            "the image does not answer with --read-only: the other runtime criteria were {}",
            WITHOUT_READ_ONLY
        ));
    }
    notes
}

/// A plain-text table: criterion, result, value, and the command to see it.
pub fn table(grade: &Grade, strict: bool) -> String {
    let width = |f: fn(&Outcome) -> usize| grade.outcomes.iter().map(f).max().unwrap_or(0);
    let id_width = width(|o| o.check.id.len());
    let value_width = width(|o| quoted(&o.value.en()).chars().count()).min(40);
    let mut out: String = notes(grade)
        .iter()
        .map(|n| format!("note: {}\n", quoted(n)))
        .collect();
    for (title, lab) in [
        ("Lab criteria", true),
        ("Beyond the lab (count with --strict)", false),
    ] {
        let _ = writeln!(out, "\n{title}");
        for o in grade.outcomes.iter().filter(|o| o.check.lab == lab) {
            let mark = ["PASS", "FAIL", "n/a"][o.status as usize];
            let (id, value, pad) = (o.check.id, quoted(&o.value.en()), "");
            let _ = writeln!(
                out,
                "  {mark:<4}  {id:<id_width$}  {value:<value_width$}  {}\n        {pad:<id_width$}  {}\n        {pad:<id_width$}  $ {}",
                o.check.criterion,
                quoted(&o.detail),
                quoted(&o.command)
            );
        }
    }
    let _ = writeln!(out, "\n{}", verdict(grade, strict, Lang::En));
    out
}

/// A Markdown table: criterion, id, result, measured value, the command to see it.
pub fn markdown(grade: &Grade, lang: Lang) -> String {
    let header = lang.tr("| criterion | id | result | measured | see it yourself |");
    let mut md = header.to_owned() + "\n|---|---|---|---|---|\n";
    for o in &grade.outcomes {
        let result = lang.tr(["pass", "**FAIL**", "n/a"][o.status as usize]);
        let criterion = match o.check.lab {
            true => lang.tr(o.check.criterion).to_owned(),
            false => lang.say("{} (beyond the lab)", &[lang.tr(o.check.criterion)]),
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {result} | {} | {} |",
            markdown_text(&criterion),
            o.check.id,
            markdown_text(&o.value.text(lang)),
            markdown_code(&o.command)
        );
    }
    md
}

#[derive(Serialize)]
struct JsonGrade<'a> {
    image: &'a str,
    passed: bool,
    port: u16,
    notes: Vec<String>,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    id: &'a str,
    lab: bool,
    passed: bool,
    applicable: bool,
    value: String,
    detail: String,
    command: String,
}

/// Exactly one JSON object: `{"image", "passed", "port", "notes": [...], "checks": [...]}`.
pub fn json(grade: &Grade, strict: bool) -> String {
    let checks = grade.outcomes.iter().map(|o| JsonCheck {
        id: o.check.id,
        lab: o.check.lab,
        passed: o.status == Status::Pass,
        applicable: o.status != Status::NotApplicable,
        value: quoted(&o.value.en()),
        detail: quoted(&o.detail),
        command: quoted(&o.command),
    });
    let report = JsonGrade {
        image: &grade.evidence.subject.image,
        passed: grade.passed(strict),
        port: grade.evidence.port.number,
        notes: notes(grade).iter().map(|note| quoted(note)).collect(),
        checks: checks.collect(),
    };
    serde_json::to_string(&report).expect("plain structs always serialize")
}

/// One test of GitHub Classroom's grading reporter.
#[derive(Serialize)]
struct ClassroomTest {
    name: String,
    status: &'static str,
    score: u32,
    max_score: u32,
    message: String,
    test_code: String,
    filename: String,
    line_no: u32,
    duration: u64,
}

/// What GitHub Classroom's grading reporter
/// (`classroom-resources/autograding-grading-reporter`) reads from a runner,
/// base64-encoded in `<RUNNER>_RESULTS`: one point per lab criterion that
/// applies.
#[derive(Serialize)]
struct Classroom {
    version: u32,
    status: &'static str,
    max_score: usize,
    tests: Vec<ClassroomTest>,
}

/// `--format classroom`: the grade as GitHub Classroom scores it.
pub fn classroom(grade: &Grade) -> String {
    let filename = (grade.evidence.dockerfile.as_ref())
        .map(|dockerfile| quoted(&dockerfile.path.display().to_string()))
        .unwrap_or_default();
    let tests: Vec<ClassroomTest> = (grade.outcomes.iter())
        .filter(|o| o.check.lab && o.status != Status::NotApplicable)
        .map(|o| {
            let passed = o.status == Status::Pass;
            ClassroomTest {
                name: format!("{}: {}", o.check.id, o.check.criterion),
                status: if passed { "pass" } else { "fail" },
                score: u32::from(passed),
                max_score: 1,
                message: quoted(&format!("{}: {}", o.value.en(), o.detail)),
                test_code: quoted(&o.command),
                filename: filename.clone(),
                line_no: 0,
                duration: 0,
            }
        })
        .collect();
    let all_passed = tests.iter().all(|test| test.score == 1);
    classroom_json(if all_passed { "pass" } else { "fail" }, tests)
}

/// `--format classroom` when the image could not be graded at all: the
/// reporter shows `why`, and the lab's points are all lost.
pub fn classroom_error(why: &str) -> String {
    let lab_criteria = CHECKS.iter().filter(|check| check.lab).count();
    let test = ClassroomTest {
        name: "the image can be graded".into(),
        status: "error",
        score: 0,
        max_score: u32::try_from(lab_criteria).expect("ten criteria"),
        message: quoted(why),
        test_code: String::new(),
        filename: String::new(),
        line_no: 0,
        duration: 0,
    };
    classroom_json("error", vec![test])
}

fn classroom_json(status: &'static str, tests: Vec<ClassroomTest>) -> String {
    let max_score = tests.iter().map(|test| test.max_score as usize).sum();
    let classroom = Classroom {
        version: 1,
        status,
        max_score,
        tests,
    };
    serde_json::to_string(&classroom).expect("plain structs always serialize")
}

/// JUnit XML: one test case per check; checks that do not count are skipped.
pub fn junit(grade: &Grade, strict: bool) -> String {
    let counted = |o: &Outcome| o.check.lab || strict;
    let failures = grade
        .outcomes
        .iter()
        .filter(|o| counted(o) && o.status == Status::Fail)
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"image-lab {}\" tests=\"{}\" failures=\"{failures}\">\n",
        untrusted::xml(&grade.evidence.subject.image),
        grade.outcomes.len()
    );
    for o in &grade.outcomes {
        let message = untrusted::xml(&format!("{}: {}", o.value.en(), o.detail));
        let result = match o.status {
            Status::Fail if counted(o) => format!(
                "<failure message=\"{message}\">{}</failure>",
                untrusted::xml(&o.command)
            ),
            Status::Pass => format!("<system-out>{message}</system-out>"),
            _ => format!("<skipped message=\"{message}\"/>"),
        };
        let _ = writeln!(
            out,
            "  <testcase classname=\"image-lab\" name=\"{}: {}\">{result}</testcase>",
            o.check.id,
            untrusted::xml(o.check.criterion)
        );
    }
    out + "</testsuite>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image that cannot be graded still gives the reporter a result:
    /// the error, and none of the lab's ten points.
    #[test]
    fn classroom_reports_an_error_as_no_points() {
        let result: serde_json::Value =
            serde_json::from_str(&classroom_error("no image \"x\" on this engine\u{1b}[2J"))
                .unwrap();
        assert_eq!(result["version"], 1);
        assert_eq!(result["status"], "error");
        assert_eq!(result["max_score"], 10);
        let test = &result["tests"][0];
        assert_eq!(
            (test["status"].as_str(), test["score"].as_u64()),
            (Some("error"), Some(0))
        );
        assert_eq!(test["message"], "no image \"x\" on this engine\\u{1b}[2J");
    }

    /// A key the catalogue misses would print English in a Russian report.
    #[test]
    fn the_catalogue_says_every_criterion_and_fills_figures_in_order() {
        for check in super::super::checks::CHECKS {
            let same_in_both = check.criterion.starts_with("/proof");
            assert_eq!(
                Lang::Ru.tr(check.criterion) == check.criterion,
                same_in_both
            );
        }
        let said = Lang::Ru.say("exit {} after {} s", &["143", "0.25"]);
        assert_eq!(said, "код выхода 143 через 0.25 с");
    }
}
