//! The grade as a table for people, JSON for scripts, JUnit XML for CI.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde::Serialize;

use super::{Grade, Status};

/// The language of what is printed for people: the tooling speaks English,
/// the course is taught in Russian.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    /// The words of this language.
    pub fn pick<'a>(self, en: &'a str, ru: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }
}

/// The one-line verdict.
pub fn verdict(grade: &Grade, strict: bool, lang: Lang) -> String {
    let lab: Vec<_> = grade.outcomes.iter().filter(|o| o.lab).collect();
    let passed = lab.iter().filter(|o| o.status == Status::Pass).count();
    let applicable = lab
        .iter()
        .filter(|o| o.status != Status::NotApplicable)
        .count();
    let image = &grade.evidence.subject.image;
    let (lab_failed, extra_failed) = (grade.failed(true), grade.failed(false));
    let extras = if extra_failed.is_empty() {
        String::new()
    } else {
        format!(
            "; {} {}",
            lang.pick("beyond the lab failed:", "вне лабораторной не пройдены:"),
            extra_failed.join(", ")
        )
    };
    if grade.passed(strict) {
        format!(
            "{} {image} {} ({passed}/{applicable} {}{}){extras}",
            lang.pick("PASSED:", "ПРИНЯТО:"),
            lang.pick("meets the lab", "выполняет лабораторную"),
            lang.pick("criteria", "критериев"),
            if strict { ", strict" } else { "" }
        )
    } else if lab_failed.is_empty() {
        format!(
            "{} {image} {} ({passed}/{applicable}), {}{extras}",
            lang.pick("FAILED (strict):", "НЕ ПРИНЯТО (strict):"),
            lang.pick("meets the lab", "выполняет лабораторную"),
            lang.pick("but", "но")
        )
    } else {
        format!(
            "{} {image} ({passed}/{applicable} {}; {} {}){extras}",
            lang.pick("FAILED:", "НЕ ПРИНЯТО:"),
            lang.pick("lab criteria passed", "критериев пройдено"),
            lang.pick("failed:", "не пройдены:"),
            lab_failed.join(", ")
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
        let unanswered: Vec<&str> = grade
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Fail && o.detail.starts_with(why.as_str()))
            .map(|o| o.id)
            .collect();
        notes.push(format!(
            "the app never answered, so {} fail for this one reason: {why}. \
             If it listens on another port, give it with --port N",
            unanswered.join(", ")
        ));
    } else if !evidence.judged_read_only {
        notes.push(format!(
            "the image does not answer with --read-only: the other runtime criteria were {}",
            super::checks::WITHOUT_READ_ONLY
        ));
    }
    notes
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
    for note in notes(grade) {
        let _ = writeln!(out, "note: {note}");
    }
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
    let _ = writeln!(out, "\n{}", verdict(grade, strict, Lang::En));
    out
}

/// A Markdown table: criterion, id, result, measured value, the command to see it.
pub fn markdown(grade: &Grade, lang: Lang) -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut md = format!(
        "| {} | id | {} | {} | {} |\n|---|---|---|---|---|\n",
        lang.pick("criterion", "критерий"),
        lang.pick("result", "результат"),
        lang.pick("measured", "измерено"),
        lang.pick("see it yourself", "проверить самому")
    );
    for o in &grade.outcomes {
        let result = match o.status {
            Status::Pass => lang.pick("pass", "пройден"),
            Status::Fail => lang.pick("**FAIL**", "**НЕ ПРОЙДЕН**"),
            Status::NotApplicable => lang.pick("n/a", "н/п"),
        };
        let beyond = match (o.lab, lang) {
            (true, _) => "",
            (false, Lang::En) => " (beyond the lab)",
            (false, Lang::Ru) => " (вне лабораторной)",
        };
        let _ = writeln!(
            md,
            "| {}{beyond} | `{}` | {result} | {} | `{}` |",
            cell(lang.pick(o.criterion, o.criterion_ru)),
            o.id,
            cell(lang.pick(&o.value, &o.value_ru)),
            cell(&o.command)
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
    value: &'a str,
    detail: &'a str,
    command: &'a str,
}

/// Exactly one JSON object: `{"image", "passed", "port", "notes": [...], "checks": [...]}`.
pub fn json(grade: &Grade, strict: bool) -> String {
    let report = JsonGrade {
        image: &grade.evidence.subject.image,
        passed: grade.passed(strict),
        port: grade.evidence.port.number,
        notes: notes(grade),
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
