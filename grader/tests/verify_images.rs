//! `image-lab-grader verify` judges for real: it passes this repository's
//! image and fails, naming the right criterion, on deliberately broken images;
//! `report` compares it with the naive build.
//!
//! The broken images are built here, on top of the good one (or of the
//! tests' Python base where a shell is needed), each breaking one criterion.
//! Every image and container is removed at the end, also when a check fails.

use std::process::{Command, ExitCode};

use grader::grading::formats::Lang;
use grader::grading::{self, Subject};
use grader::report;
use grader::seed::Seed;
use grader::verify::Target;
use libtest_mimic::{Arguments, Failed};
use serde_json::Value;
use toolkit::docker::{self, Build, Image};
use toolkit::harness::{self, ensure};

mod support;

/// A deliberately broken image: its Dockerfile, and the check that must fail.
struct Broken {
    name: &'static str,
    must_fail: &'static str,
    /// Every criterion it fails, the checks beyond the lab's included.
    fails: &'static [&'static str],
    /// Dockerfile text; `{GOOD}` is the good image, `{PYTHON}` the tests'
    /// Python base (it has a shell), `{LOGIN}`/`{TOKEN}` the seed's.
    dockerfile: &'static str,
}

/// What a well-behaved image declares, for the fixtures that start from the
/// Python base and must break only one thing.
const WELL_BEHAVED: &str = "COPY --from={GOOD} /service /service
USER 10001:10001
ENV LAB_LOGIN={LOGIN} LAB_TOKEN={TOKEN}
LABEL org.lab.login={LOGIN} org.lab.token={TOKEN}
HEALTHCHECK --interval=2s --timeout=2s CMD [\"/service\", \"healthcheck\"]
";

const BROKEN: &[Broken] = &[
    Broken {
        name: "running as root",
        must_fail: "non-root",
        fails: &["non-root"],
        dockerfile: "FROM {GOOD}\nUSER 0:0\n",
    },
    Broken {
        name: "HEALTHCHECK NONE",
        must_fail: "healthcheck",
        fails: &["healthcheck"],
        dockerfile: "FROM {GOOD}\nHEALTHCHECK NONE\n",
    },
    Broken {
        name: "wrong token label",
        must_fail: "labels",
        fails: &["labels"],
        dockerfile: "FROM {GOOD}\nLABEL org.lab.token=not-the-token\n",
    },
    Broken {
        name: "proof with another login",
        must_fail: "proof",
        fails: &["proof"],
        dockerfile: "FROM {GOOD}\nENV LAB_LOGIN=mallory\n",
    },
    Broken {
        name: "entrypoint ignoring SIGTERM",
        must_fail: "sigterm",
        fails: &["sigterm"],
        // PID 1 is a shell that ignores TERM and waits for the service.
        dockerfile: "FROM {PYTHON}\n{WELL_BEHAVED}ENTRYPOINT [\"/bin/sh\", \"-c\", \"trap '' TERM; /service & wait\"]\n",
    },
    Broken {
        name: "writes to / at start",
        must_fail: "read-only",
        fails: &["read-only"],
        dockerfile: "FROM {PYTHON}\nRUN mkdir /data && chown 10001 /data\n{WELL_BEHAVED}\
                     ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo started > /data/started && exec /service\"]\n",
    },
    Broken {
        name: "ignoring ROCKET_SIZE",
        must_fail: "env-config",
        fails: &["env-config"],
        dockerfile: "FROM {PYTHON}\n{WELL_BEHAVED}ENTRYPOINT [\"/bin/sh\", \"-c\", \"ROCKET_SIZE=Fixed exec /service\"]\n",
    },
    Broken {
        name: "over 150 MB",
        must_fail: "size",
        fails: &["size"],
        // 200 MB of zeros: the engine counts a layer's size uncompressed.
        dockerfile: "FROM {PYTHON}\nRUN head -c 200000000 /dev/zero > /ballast\n{WELL_BEHAVED}ENTRYPOINT [\"/service\"]\n",
    },
];

/// Every number in a text (`2.4`, `10`, `0.31`), sorted: what two
/// languages' reports of one measurement must share.
fn figures(text: &str) -> Vec<String> {
    let mut figures: Vec<String> = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| word.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    figures.sort();
    figures
}

fn build_broken(broken: &Broken, good: &str, seed: &Seed) -> Result<Image, Failed> {
    let context = std::env::temp_dir().join(toolkit::unique_name("broken-image"));
    std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
    let text = broken
        .dockerfile
        .replace("{WELL_BEHAVED}", WELL_BEHAVED)
        .replace("{GOOD}", good)
        .replace("{PYTHON}", support::PYTHON_BASE)
        .replace("{LOGIN}", &seed.login)
        .replace("{TOKEN}", &seed.token);
    std::fs::write(context.join("Dockerfile"), text).map_err(|e| e.to_string())?;
    let built = docker::build(&Build {
        context: context.clone(),
        dockerfile: None,
        tag: toolkit::unique_name("image-lab-broken"),
        build_args: vec![],
    });
    let _ = std::fs::remove_dir_all(&context);
    built.map_err(|e| format!("{e:#}").into())
}

/// The repository's image, what the broken ones are built from, and its
/// naive build.
struct Good {
    image: Image,
    naive: Image,
    seed: Seed,
}

impl Good {
    fn build() -> anyhow::Result<Self> {
        // A login of its own: the good image is named <login>/image-lab:<prefix>
        // as the lab requires, and must not replace an image of the user's.
        let seed = Seed::from_parts(&toolkit::unique_name("e2e-student"), "0123456789abcdef")?;
        support::python_base()?;
        let naive = toolkit::unique_name("image-lab-naive");
        Ok(Good {
            image: support::build_repository_image(&seed, "Dockerfile", &seed.image_name())?,
            naive: support::build_repository_image(&seed, "Dockerfile.naive", &naive)?,
            seed,
        })
    }

    fn target(&self) -> Target {
        Target {
            seed: None,
            login: Some(self.seed.login.clone()),
            token: Some(self.seed.token.clone()),
            image: self.image.reference.clone(),
            dockerfile: Some(support::repository().join("Dockerfile")),
            port: None,
        }
    }
}

/// The grader's binary as a student runs it, but with nothing on PATH: it
/// needs a Docker engine and no docker CLI. Strict: every check passes.
fn verify_passes_the_repository_image(good: &Good) -> Result<(), Failed> {
    let mut verify = Command::new(env!("CARGO_BIN_EXE_image-lab-grader"));
    verify.env_clear().env("PATH", "/nonexistent");
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        verify.env("DOCKER_HOST", host);
    }
    let dockerfile = support::repository().join("Dockerfile");
    let out = verify
        .args(["verify", "--image", &good.image.reference])
        .args(["--login", &good.seed.login, "--token", &good.seed.token])
        .arg("--dockerfile")
        .arg(&dockerfile)
        .args(["--strict", "--format", "json"])
        .output()
        .map_err(|e| format!("cannot run the grader: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let grade: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("no JSON on stdout ({e}); stderr:\n{stderr}"))?;
    let checks = grade["checks"].as_array().cloned().unwrap_or_default();
    let not_passed: Vec<&Value> = checks.iter().filter(|c| c["passed"] != true).collect();
    ensure(
        out.status.code() == Some(0) && checks.len() >= 10 && not_passed.is_empty(),
        || format!("{}: {not_passed:#?}\n{stderr}", out.status),
    )
}

/// Both languages from one measurement: each has its headings and rows, and
/// both carry the same figures.
fn report_in_english_and_russian(good: &Good) -> Result<(), Failed> {
    let args = report::Args {
        target: good.target(),
        naive: good.naive.reference.clone(),
        naive_dockerfile: Some(support::repository().join("Dockerfile.naive")),
        output: "unused.md".into(),
        lang: Lang::En,
    };
    let measured = report::measure(&args).map_err(|e| format!("{e:#}"))?;
    let english = report::markdown(&measured, Lang::En);
    let russian = report::markdown(&measured, Lang::Ru);
    for (markdown, expected) in [
        (
            &english,
            [
                "## Criteria",
                "## Image history",
                "## Production versus naive build",
                "| image size |",
                "| user | 10001:10001 | (unset: root) |",
                "| lab criteria passed | 10/10 |",
                "## Why the production image is better",
            ],
        ),
        (
            &russian,
            [
                "## Критерии",
                "## История образа",
                "## Production-образ и наивная сборка",
                "| размер образа |",
                "| пользователь | 10001:10001 | (не задан: root) |",
                "| пройдено критериев | 10/10 |",
                "## Почему production-образ лучше",
            ],
        ),
    ] {
        if let Some(missing) = expected.iter().find(|e| !markdown.contains(*e)) {
            return Err(format!("the report lacks {missing:?}:\n{markdown}").into());
        }
    }
    let (en, ru) = (figures(&english), figures(&russian));
    ensure(en == ru, || {
        format!("the figures differ:\nen {en:?}\nru {ru:?}")
    })
}

/// One mistake costs one criterion: exactly what is wrong fails.
fn verify_fails_exactly(good: &Good, broken: &Broken) -> Result<(), Failed> {
    let image = build_broken(broken, &good.image.reference, &good.seed)?;
    let grade = grading::grade(&Subject {
        image: image.reference.clone(),
        seed: good.seed.clone(),
        dockerfile: None,
        port: None,
    })
    .map_err(|e| format!("{e:#}"))?;
    let failed = grade.failed(true);
    ensure(failed == broken.fails, || {
        format!(
            "failed {failed:?}, expected exactly {:?}: {:#?}",
            broken.fails, grade.outcomes
        )
    })
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut checks = vec![
        harness::check(
            "verify passes this repository's image, strict, with no docker CLI on PATH",
            verify_passes_the_repository_image,
        ),
        harness::check(
            "report compares the image with the naive build, in English and Russian",
            report_in_english_and_russian,
        ),
    ];
    checks.extend(BROKEN.iter().map(|broken| {
        harness::check(
            format!(
                "verify fails exactly {} on an image {}",
                broken.must_fail, broken.name
            ),
            move |good: &Good| verify_fails_exactly(good, broken),
        )
    }));
    harness::run(&args, "this repository's image", Good::build, checks).0
}
