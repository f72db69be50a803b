//! The grade as a table for people, JSON for scripts, JUnit XML for CI.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde::Serialize;

use super::{Grade, Status};

/// The one-line verdict.
pub fn verdict(grade: &Grade, strict: bool) -> String {
    let lab: Vec<_> = grade.outcomes.iter().filter(|o| o.lab).collect();
    let passed = lab.iter().filter(|o| o.status == Status::Pass).count();
    let applicable = lab
        .iter()
        .filter(|o| o.status != Status::NotApplicable)
        .count();
    let failed = grade.failed();
    if grade.passed(strict) {
        format!(
            "PASSED: {} meets the lab ({passed}/{applicable} criteria{})",
            grade.evidence.subject.image,
            if strict { ", strict" } else { "" }
        )
    } else {
        format!(
            "FAILED: {} ({passed}/{applicable} lab criteria passed; failed: {})",
            grade.evidence.subject.image,
            failed.join(", ")
        )
    }
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::NotApplicable => "n/a",
    }
}

/// A plain-text table: criterion, result, value, and the command to see it.
pub fn table(grade: &Grade, strict: bool) -> String {
    let mut out = String::new();
    let width = |f: fn(&super::Outcome) -> usize| grade.outcomes.iter().map(f).max().unwrap_or(0);
    let id_width = width(|o| o.id.len());
    let value_width = width(|o| o.value.chars().count()).min(40);
    for (title, lab) in [
        ("Lab criteria", true),
        ("Beyond the lab (count with --strict)", false),
    ] {
        let _ = writeln!(out, "\n{title}");
        for o in grade.outcomes.iter().filter(|o| o.lab == lab) {
            let _ = writeln!(
                out,
                "  {:<4}  {:<id_width$}  {:<value_width$}  {}",
                mark(o.status),
                o.id,
                o.value,
                o.criterion
            );
            let _ = writeln!(out, "        {:<id_width$}  {}", "", o.detail);
            let _ = writeln!(out, "        {:<id_width$}  $ {}", "", o.command);
        }
    }
    let _ = writeln!(out, "\n{}", verdict(grade, strict));
    out
}

#[derive(Serialize)]
struct JsonGrade<'a> {
    image: &'a str,
    passed: bool,
    checks: Vec<JsonCheck<'a>>,
}

#[derive(Serialize)]
struct JsonCheck<'a> {
    id: &'a str,
    lab: bool,
    passed: bool,
    applicable: bool,
    value: &'a str,
    detail: &'a str,
    command: &'a str,
}

/// Exactly one JSON object: `{"image", "passed", "checks": [...]}`.
pub fn json(grade: &Grade, strict: bool) -> String {
    let report = JsonGrade {
        image: &grade.evidence.subject.image,
        passed: grade.passed(strict),
        checks: grade
            .outcomes
            .iter()
            .map(|o| JsonCheck {
                id: o.id,
                lab: o.lab,
                passed: o.status == Status::Pass,
                applicable: o.status != Status::NotApplicable,
                value: &o.value,
                detail: &o.detail,
                command: &o.command,
            })
            .collect(),
    };
    serde_json::to_string(&report).expect("plain structs always serialize")
}

/// JUnit XML: one test case per check; checks that do not count are skipped.
pub fn junit(grade: &Grade, strict: bool) -> String {
    let counted = |o: &&super::Outcome| o.lab || strict;
    let failures = grade
        .outcomes
        .iter()
        .filter(counted)
        .filter(|o| o.status == Status::Fail)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"image-lab {}\" tests=\"{}\" failures=\"{failures}\">",
        escape(grade.evidence.subject.image.as_str()),
        grade.outcomes.len()
    );
    for o in &grade.outcomes {
        let _ = write!(
            out,
            "  <testcase classname=\"image-lab\" name=\"{}: {}\">",
            o.id,
            escape(o.criterion)
        );
        let message = escape(format!("{}: {}", o.value, o.detail)).into_owned();
        match o.status {
            Status::Fail if counted(&o) => {
                let _ = write!(
                    out,
                    "<failure message=\"{message}\">{}</failure>",
                    escape(o.command.as_str())
                );
            }
            Status::Pass => {
                let _ = write!(out, "<system-out>{message}</system-out>");
            }
            _ => {
                let _ = write!(out, "<skipped message=\"{message}\"/>");
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
