//! `image-lab-grader report`: the Markdown lab report for a graded image,
//! with a measured comparison against the student's naive build (for this
//! repository, `Dockerfile.naive`). The text is the template `templates/report.md`,
//! every sentence of its discussion chosen from the numbers measured in this
//! run, in English or in Russian (`--lang ru`, the course's language, from
//! the catalogue `templates/ru.txt`): both say the same figures.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use minijinja::value::Rest;
use serde::Serialize;
use toolkit::engine::Layer;

use crate::grading::formats::{self, Lang};
use crate::grading::untrusted::markdown_block;
use crate::grading::{self, Grade, Subject};
use crate::verify::Target;

/// Options of `image-lab-grader report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// The naive build of the same service, to compare against.
    #[arg(long, value_name = "REF")]
    pub naive: String,
    /// The Dockerfile the naive build was made from.
    #[arg(long, value_name = "PATH")]
    pub naive_dockerfile: Option<PathBuf>,
    /// Where to write the report.
    #[arg(long, value_name = "FILE", default_value = "lab-report.md")]
    pub output: PathBuf,
    /// The report's language (the course is taught in Russian).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

/// The figures compared between the two images, as the report prints them.
#[derive(Serialize)]
struct Figures {
    /// Megabytes, one decimal.
    size: String,
    layers: usize,
    user: String,
    healthcheck: Option<String>,
    /// Seconds, two decimals.
    healthy_after: Option<String>,
    first_answer: Option<String>,
    stop: Option<String>,
    exit_code: Option<i64>,
    has_shell: Option<bool>,
    /// Lab criteria passed of those that apply: `10/10`.
    lab: String,
}

fn seconds(duration: &Duration) -> String {
    format!("{:.2}", duration.as_secs_f64())
}

impl Figures {
    fn of(grade: &Grade) -> Self {
        let e = &grade.evidence;
        let (passed, applicable) = grade.lab_score();
        let stopped = e.stopped.as_ref().ok();
        Figures {
            size: format!("{:.1}", e.image.size as f64 / 1e6),
            layers: e.image.root_fs.layers.len(),
            user: e.image.config.user.clone(),
            healthcheck: e.image.healthcheck().map(|check| check.command()),
            healthy_after: e.healthy.as_ref().ok().map(seconds),
            first_answer: e.lab.first_answer.as_ref().ok().map(|(t, _)| seconds(t)),
            stop: stopped.map(|s| seconds(&s.elapsed)),
            exit_code: stopped.map(|s| s.exit_code),
            has_shell: e.has_shell.as_ref().ok().copied(),
            lab: format!("{passed}/{applicable}"),
        }
    }
}

/// "1 layer", "2 layers"; "1 слой", "3 слоя", "12 слоёв".
fn layers(n: usize, lang: Lang) -> String {
    let word = match lang {
        Lang::En if n == 1 => "layer",
        Lang::En => "layers",
        Lang::Ru => match (n % 10, n % 100) {
            (1, tens) if tens != 11 => "слой",
            (2..=4, tens) if !(12..=14).contains(&tens) => "слоя",
            _ => "слоёв",
        },
    };
    format!("{n} {word}")
}

/// Compares `a` to `b` in words: "8.0x faster than", "about as fast as" ...
fn compared(a: Duration, b: Duration, lang: Lang) -> String {
    let ratio = b.as_secs_f64() / a.as_secs_f64().max(1e-6);
    match ratio {
        _ if (0.8..=1.25).contains(&ratio) => lang.tr("about as fast as").to_owned(),
        _ if ratio > 1.0 => lang.say("{}x faster than", &[format!("{ratio:.1}")]),
        _ => lang.say("{}x slower than", &[format!("{:.1}", 1.0 / ratio)]),
    }
}

/// What the report is written from: both grades.
pub struct Measured {
    pub grade: Grade,
    pub naive: Grade,
}

/// `docker history --no-trunc --format 'table {{.Size}}\t{{.CreatedBy}}'`
/// as a code block: the image's text kept text.
fn history(layers: &[Layer]) -> String {
    let header = format!("{:>7}  CREATED BY", "SIZE");
    let rows = layers
        .iter()
        .map(|layer| format!("{:>7}  {}", human_size(layer.size), layer.created_by));
    markdown_block(std::iter::once(header).chain(rows))
}

/// Bytes as `docker history` writes them: three significant digits, units
/// of 1000 (`2.68MB`, `0B`).
fn human_size(bytes: i64) -> String {
    let mut value = bytes.max(0) as f64;
    let mut units = ["B", "kB", "MB", "GB", "TB"].iter();
    let mut unit = units.next().expect("a unit");
    while value >= 999.5 {
        let Some(next) = units.next() else { break };
        value /= 1000.0;
        unit = next;
    }
    let digits = if value < 1.0 {
        1
    } else {
        value.log10().floor() as usize + 1
    };
    let text = format!("{value:.*}", 3usize.saturating_sub(digits));
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

/// The report as Markdown, in `lang`.
pub fn markdown(measured: &Measured, lang: Lang) -> String {
    let (grade, naive) = (&measured.grade, &measured.naive);
    let first_answer = |g: &Grade| g.evidence.lab.first_answer.as_ref().ok().map(|a| a.0);
    let than = first_answer(grade)
        .zip(first_answer(naive))
        .map(|(p, n)| compared(p, n, lang));
    let mut env = minijinja::Environment::new();
    env.set_trim_blocks(true);
    env.set_keep_trailing_newline(true);
    env.add_function("t", move |message: String, args: Rest<minijinja::Value>| {
        let args: Vec<String> = args.iter().map(ToString::to_string).collect();
        lang.say(&message, &args)
    });
    env.add_function("layers", move |n: usize| layers(n, lang));
    let template = include_str!("../templates/report.md");
    let subject = &grade.evidence.subject;
    let context = minijinja::context! {
        image => subject.image,
        naive_image => naive.evidence.subject.image,
        login => subject.seed.login,
        verdict => formats::verdict(grade, false, lang),
        criteria => formats::markdown(grade, lang),
        history => history(&grade.evidence.history),
        prod => Figures::of(grade),
        naive => Figures::of(naive),
        times_smaller => format!("{:.0}", naive.evidence.image.size as f64 / grade.evidence.image.size.max(1) as f64),
        than,
    };
    env.render_str(template, context)
        .expect("the report's template renders any figures")
}

/// Grades the image and its naive build.
pub fn measure(args: &Args) -> Result<Measured> {
    let subject = args.target.prepare()?;
    eprintln!("grading {}", subject.image);
    let grade = grading::grade(&subject)?;
    eprintln!("grading the naive build {}", args.naive);
    let naive = grading::grade(&Subject {
        image: args.naive.clone(),
        seed: subject.seed.clone(),
        dockerfile: args.naive_dockerfile.clone(),
        port: subject.port,
    })
    .context("grading the naive build")?;
    Ok(Measured { grade, naive })
}

/// Measures, and writes the report.
pub fn run(args: &Args) -> Result<()> {
    let measured = measure(args)?;
    std::fs::write(&args.output, markdown(&measured, args.lang))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{}\nreport written to {}",
        formats::verdict(&measured.grade, false, args.lang),
        args.output.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_docker_history_writes_them() {
        let cases = [
            (0, "0B"),
            (999, "999B"),
            (2_684_000, "2.68MB"),
            (26_840_000, "26.8MB"),
            (1_276_000_000, "1.28GB"),
            (1_500, "1.5kB"),
        ];
        for (bytes, shown) in cases {
            assert_eq!(human_size(bytes), shown, "{bytes}");
        }
    }
}
