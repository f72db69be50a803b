//! The lesson (docs/lesson.md, docs/lesson.ru.md) says what is true: every
//! step's Dockerfile, and every mistake shown beside one, builds and fails
//! exactly the lab criteria the lesson gives it; the figures the lesson
//! gives are those of grader/lesson/measured.json, which agrees with the
//! steps; and both files are what their templates make of them now (edit a
//! template or a step, and `cargo lesson` must be run again). Timings are
//! not checked: they move from machine to machine.

use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed};
use toolkit::docker::Image;
use toolkit::harness;

mod support;

use support::lesson::{self, LESSONS, Measured};

/// Every step and mistake, built from the repository as the lesson builds them.
struct Built {
    images: Vec<(&'static str, Image)>,
}

impl Built {
    fn build() -> anyhow::Result<Self> {
        let images = lesson::build_all(&lesson::repository())?;
        Ok(Built { images })
    }
}

fn graded_as_the_lesson_says(built: &Built, file: &str, fails: &[&str]) -> Result<(), Failed> {
    let (_, image) = (built.images.iter().find(|(f, _)| *f == file))
        .ok_or_else(|| format!("{file} was not built"))?;
    let grade = lesson::grade(&image.reference, &lesson::repository().join(file))
        .map_err(|e| format!("{e:#}"))?;
    let failed = grade.failed(true);
    harness::ensure(failed == fails, || {
        format!(
            "{file}: failed {failed:?}, the lesson says {fails:?}: {:#?}",
            grade.outcomes
        )
    })
}

fn the_text_is_what_the_templates_make_of_the_measurements(_: &Built) -> Result<(), Failed> {
    let measured = Measured::read().map_err(|e| format!("{e:#}"))?;
    measured
        .agrees_with_the_steps()
        .map_err(|e| format!("{e:#}"))?;
    for (lang, template, output) in LESSONS {
        let rendered = lesson::render(&measured, *lang, template).map_err(|e| format!("{e:#}"))?;
        let written =
            std::fs::read_to_string(lesson::repository().join(output)).unwrap_or_default();
        harness::ensure(rendered == written, || {
            format!(
                "{output} is not what {template} makes of the steps and grader/lesson/measured.json: run `cargo lesson render` (a step changed: `cargo lesson`)"
            )
        })?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut checks = vec![harness::check(
        "the lesson's text is what its templates make of the measured steps",
        the_text_is_what_the_templates_make_of_the_measurements,
    )];
    checks.extend(lesson::every_dockerfile().into_iter().map(|(file, fails)| {
        harness::check(
            format!("{file} builds and fails exactly {fails:?}"),
            move |built: &Built| graded_as_the_lesson_says(built, file, fails),
        )
    }));
    harness::run(&args, "the lesson's images", Built::build, checks).0
}
