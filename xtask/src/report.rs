//! `cargo xtask report`: the Markdown lab report for a graded image, with a
//! measured comparison against the naive single-stage build
//! (`Dockerfile.naive`). Every sentence of the discussion is written from
//! the numbers measured in this run, in English or in Russian (`--lang ru`,
//! the course's language): both say the same figures.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::docker;
use crate::grading::formats::{self, Lang};
use crate::grading::{self, Grade, Status, Subject, checks};
use crate::project_root;
use crate::verify::{Target, build_repository_image};

/// Options of `cargo xtask report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Where to write the report.
    #[arg(long, value_name = "FILE", default_value = "lab-report.md")]
    pub output: PathBuf,
    /// The report's language (the course is taught in Russian).
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
}

/// The figures compared between the two images.
struct ImageFacts {
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

impl ImageFacts {
    fn of(grade: &Grade) -> Self {
        let e = &grade.evidence;
        let lab = grade.outcomes.iter().filter(|o| o.lab);
        ImageFacts {
            size_bytes: e.image.size,
            layers: e.image.root_fs.layers.len(),
            user: e.image.config.user.clone(),
            healthcheck: e.image.healthcheck().map(|check| check.command()),
            healthy_after: e.healthy.as_ref().ok().copied(),
            first_answer: e.lab.first_answer.as_ref().ok().map(|(after, _)| *after),
            stop: e.stopped.as_ref().ok().map(|s| (s.elapsed, s.exit_code)),
            has_shell: e.has_shell.as_ref().ok().copied(),
            lab_passed: lab.clone().filter(|o| o.status == Status::Pass).count(),
            lab_applicable: lab.filter(|o| o.status != Status::NotApplicable).count(),
        }
    }
}

fn mb(bytes: u64, lang: Lang) -> String {
    match lang {
        Lang::En => checks::megabytes(bytes),
        Lang::Ru => checks::megabytes_ru(bytes),
    }
}

fn secs(duration: Option<Duration>, lang: Lang) -> String {
    duration.map_or_else(
        || lang.pick("never", "никогда").to_owned(),
        |d| format!("{:.2} {}", d.as_secs_f64(), lang.pick("s", "с")),
    )
}

fn user(user: &str, lang: Lang) -> String {
    if user.is_empty() {
        lang.pick("(unset: root)", "(не задан: root)").to_owned()
    } else {
        user.to_owned()
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
    match lang {
        _ if (0.8..=1.25).contains(&ratio) => lang
            .pick("about as fast as", "примерно так же быстро, как")
            .to_owned(),
        Lang::En if ratio > 1.0 => format!("{ratio:.1}x faster than"),
        Lang::En => format!("{:.1}x slower than", 1.0 / ratio),
        Lang::Ru if ratio > 1.0 => format!("в {ratio:.1} раза быстрее, чем"),
        Lang::Ru => format!("в {:.1} раза медленнее, чем", 1.0 / ratio),
    }
}

/// The discussion: one sentence per measured difference, in `lang`; both
/// languages say the same figures.
fn discussion(prod: &ImageFacts, naive: &ImageFacts, lang: Lang) -> Vec<String> {
    let ru = lang == Lang::Ru;
    let times_smaller = naive.size_bytes as f64 / prod.size_bytes.max(1) as f64;
    let (prod_mb, naive_mb) = (mb(prod.size_bytes, lang), mb(naive.size_bytes, lang));
    let mut sentences = vec![if ru {
        format!(
            "Production-образ весит {prod_mb}, в {times_smaller:.0} раз меньше наивной сборки ({naive_mb}): в его \
             финальной стадии только статический бинарник, а наивная сборка несёт весь инструментарий Rust и дерево сборки."
        )
    } else {
        format!(
            "The production image weighs {prod_mb}, {times_smaller:.0}x less than the naive build's {naive_mb}: its \
             final stage keeps only the static binary, while the naive one ships the whole Rust toolchain and build tree."
        )
    }];
    let (prod_layers, naive_layers) = (layers(prod.layers, lang), layers(naive.layers, lang));
    sentences.push(if ru {
        format!(
            "В нём {prod_layers} против {naive_layers}: меньше скачивать, хранить и сканировать."
        )
    } else {
        format!(
            "It has {prod_layers} against {naive_layers}, so there is less to pull, store and scan."
        )
    });
    sentences.push(match (prod.user.is_empty(), naive.user.is_empty(), ru) {
        (false, true, false) => format!(
            "It runs as user {} while the naive image runs as root, so a compromised process cannot \
             write to system paths or use root's privileges.",
            prod.user
        ),
        (false, true, true) => format!(
            "Он работает от пользователя {}, а наивный образ от root: взломанный процесс не сможет писать \
             в системные каталоги и пользоваться правами root.",
            prod.user
        ),
        (_, _, false) => format!(
            "It runs as {} and the naive image as {}.",
            user(&prod.user, lang),
            user(&naive.user, lang)
        ),
        (_, _, true) => format!(
            "Он работает от {}, наивный образ от {}.",
            user(&prod.user, lang),
            user(&naive.user, lang)
        ),
    });
    let healthy = secs(prod.healthy_after, lang);
    sentences.push(match (&prod.healthcheck, &naive.healthcheck, ru) {
        (Some(check), None, false) => format!(
            "Its HEALTHCHECK (`{check}`) reported healthy {healthy} after `docker run`; the naive image has none, \
             so Docker cannot tell a hung service from a working one."
        ),
        (Some(check), None, true) => format!(
            "Его HEALTHCHECK (`{check}`) сообщил healthy через {healthy} после `docker run`; у наивного образа \
             проверки нет, и Docker не отличит зависший сервис от работающего."
        ),
        (Some(check), Some(_), false) => {
            format!("Both declare a HEALTHCHECK; ours (`{check}`) was healthy after {healthy}.")
        }
        (Some(check), Some(_), true) => {
            format!("HEALTHCHECK есть у обоих; наш (`{check}`) стал healthy через {healthy}.")
        }
        (None, _, _) => lang
            .pick(
                "The production image declares no HEALTHCHECK.",
                "В production-образе нет HEALTHCHECK.",
            )
            .to_owned(),
    });
    if let (Some(p), Some(n)) = (prod.first_answer, naive.first_answer) {
        let (p_secs, n_secs, than) = (
            secs(Some(p), lang),
            secs(Some(n), lang),
            compared(p, n, lang),
        );
        sentences.push(if ru {
            format!("Он ответил на первый запрос через {p_secs} после `docker run`, {than} наивный образ ({n_secs}).")
        } else {
            format!("It answered its first request {p_secs} after `docker run`, {than} the naive image ({n_secs}).")
        });
    }
    if let (Some((p, p_code)), Some((n, n_code))) = (prod.stop, naive.stop) {
        let (p_secs, n_secs) = (secs(Some(p), lang), secs(Some(n), lang));
        let killed = n_code == 137;
        sentences.push(if ru {
            format!(
                "`docker stop` занял {p_secs} с кодом выхода {p_code}, у наивного образа {n_secs} с кодом {n_code}{}.",
                if killed { ": он проигнорировал SIGTERM, и его пришлось убить" } else { "" }
            )
        } else {
            format!(
                "`docker stop` took {p_secs} with exit code {p_code}, against {n_secs} with exit code {n_code} for the naive image{}.",
                if killed { ", which ignored SIGTERM and had to be killed" } else { "" }
            )
        });
    }
    if let (Some(false), Some(true)) = (prod.has_shell, naive.has_shell) {
        sentences.push(
            lang.pick(
                "There is no shell in the production image (`docker exec ... sh` fails), while the naive image hands \
                 an intruder a full Debian userland.",
                "В production-образе нет shell (`docker exec ... sh` не работает), а наивный образ даёт \
                 взломщику всю пользовательскую среду Debian.",
            )
            .to_owned(),
        );
    }
    sentences.push(if ru {
        format!(
            "По критериям лабораторной production-образ проходит {}/{}, наивный {}/{}.",
            prod.lab_passed, prod.lab_applicable, naive.lab_passed, naive.lab_applicable
        )
    } else {
        format!(
            "On the lab's criteria the production image passes {}/{}, the naive one {}/{}.",
            prod.lab_passed, prod.lab_applicable, naive.lab_passed, naive.lab_applicable
        )
    });
    sentences
}

/// What the report is written from: both grades and the image's history.
pub struct Measured {
    pub grade: Grade,
    pub naive: Grade,
    pub history: String,
}

/// The report as Markdown, in `lang`.
pub fn markdown(measured: &Measured, lang: Lang) -> String {
    let Measured {
        grade,
        naive,
        history,
    } = measured;
    let (prod, naive_figures) = (ImageFacts::of(grade), ImageFacts::of(naive));
    let subject = &grade.evidence.subject;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# {}: `{}`\n",
        lang.pick("Lab report", "Отчёт по лабораторной работе"),
        subject.image
    );
    let _ = writeln!(
        md,
        "{}: `{}`. {}\n",
        lang.pick("Student", "Студент"),
        subject.seed.login,
        lang.pick(
            "Generated by `cargo xtask report`; every figure below was measured on this run's Docker engine.",
            "Отчёт создан командой `cargo xtask report`; все цифры ниже измерены в этом запуске на Docker Engine."
        )
    );
    let _ = writeln!(md, "**{}**\n", formats::verdict(grade, false, lang));
    let _ = writeln!(
        md,
        "## {}\n\n{}",
        lang.pick("Criteria", "Критерии"),
        formats::markdown(grade, lang)
    );
    let _ = writeln!(
        md,
        "\n## {}\n\n`docker history {}`:\n\n```\n{}\n```\n",
        lang.pick("Image history", "История образа"),
        subject.image,
        history.trim_end()
    );
    let _ = writeln!(
        md,
        "## {}\n\n{}\n",
        lang.pick(
            "Production versus naive build",
            "Production-образ и наивная сборка"
        ),
        lang.pick(
            "The naive build is `Dockerfile.naive`: one stage on the full toolchain image, root user, no healthcheck.",
            "Наивная сборка — `Dockerfile.naive`: одна стадия на полном образе с инструментарием, пользователь root, без healthcheck."
        )
    );
    let _ = writeln!(
        md,
        "| | production | {} |\n|---|---|---|",
        lang.pick("naive", "наивная")
    );
    // Each row: its name in both languages, and its value for one image.
    type Value = fn(&ImageFacts, Lang) -> String;
    let rows: [(&str, &str, Value); 8] = [
        ("image size", "размер образа", |f, lang| {
            mb(f.size_bytes, lang)
        }),
        ("layers", "слоёв", |f, _| f.layers.to_string()),
        ("user", "пользователь", |f, lang| {
            user(&f.user, lang)
        }),
        ("healthcheck", "healthcheck", |f, lang| {
            f.healthcheck
                .clone()
                .unwrap_or_else(|| lang.pick("none", "нет").to_owned())
        }),
        (
            "`docker run` to first answer",
            "от `docker run` до первого ответа",
            |f, lang| secs(f.first_answer, lang),
        ),
        (
            "`docker stop` time",
            "время `docker stop`",
            |f, lang| secs(f.stop.map(|s| s.0), lang),
        ),
        (
            "exit code after `docker stop`",
            "код выхода после `docker stop`",
            |f, _| f.stop.map_or("-".into(), |s| s.1.to_string()),
        ),
        (
            "lab criteria passed",
            "пройдено критериев",
            |f, _| format!("{}/{}", f.lab_passed, f.lab_applicable),
        ),
    ];
    for (en, ru, value) in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            lang.pick(en, ru),
            value(&prod, lang),
            value(&naive_figures, lang)
        );
    }
    let _ = writeln!(
        md,
        "\n## {}\n\n{}",
        lang.pick(
            "Why the production image is better",
            "Почему production-образ лучше"
        ),
        discussion(&prod, &naive_figures, lang).join(" ")
    );
    md
}

/// Grades the image and the naive build (removed again afterwards).
pub fn measure(target: &Target) -> Result<Measured> {
    let subject = target.prepare()?;
    let history = docker::run(&[
        "history",
        "--format",
        "table {{.CreatedBy}}\t{{.Size}}",
        &subject.image,
    ])?;
    eprintln!("grading {}", subject.image);
    let grade = grading::grade(&subject)?;
    let naive_tag = crate::unique_name("image-lab-naive");
    let naive_image = build_repository_image(&subject.seed, "Dockerfile.naive", &naive_tag)
        .context("building Dockerfile.naive for the comparison")?;
    eprintln!("grading the naive build {naive_tag}");
    let naive = grading::grade(&Subject {
        image: naive_image.reference.clone(),
        seed: subject.seed.clone(),
        dockerfile: Some(project_root().join("Dockerfile.naive")),
        port: subject.port,
    })?;
    Ok(Measured {
        grade,
        naive,
        history,
    })
}

/// Measures, and writes the report.
pub fn run(args: &Args) -> Result<()> {
    let measured = measure(&args.target)?;
    std::fs::write(&args.output, markdown(&measured, args.lang))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "{}\nreport written to {}",
        formats::verdict(&measured.grade, false, args.lang),
        args.output.display()
    );
    Ok(())
}
