//! `cargo xtask verify` judges for real: it passes this repository's image
//! and fails, naming the right criterion, on deliberately broken images.
//!
//! The broken images are built here, on top of the good one (or of the
//! build-stage image where a shell is needed), each breaking one criterion.
//! Every image and container is removed at the end, also when a check fails.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use xtask::docker::{self, Build, Image};
use xtask::grading::{self, Status, Subject};
use xtask::report;
use xtask::seed::Seed;
use xtask::verify::{Target, build_production_image};

/// A deliberately broken image: its Dockerfile, and the check that must fail.
struct Broken {
    name: &'static str,
    must_fail: &'static str,
    /// Dockerfile text; `{GOOD}` is the good image, `{RUST}` the build-stage
    /// image (it has a shell), `{LOGIN}`/`{TOKEN}` the seed's.
    dockerfile: &'static str,
}

/// What a well-behaved image declares, for the fixtures that start from the
/// build-stage image and must break only one thing.
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
        dockerfile: "FROM {GOOD}\nUSER 0:0\n",
    },
    Broken {
        name: "HEALTHCHECK NONE",
        must_fail: "healthcheck",
        dockerfile: "FROM {GOOD}\nHEALTHCHECK NONE\n",
    },
    Broken {
        name: "wrong token label",
        must_fail: "labels",
        dockerfile: "FROM {GOOD}\nLABEL org.lab.token=not-the-token\n",
    },
    Broken {
        name: "proof with another login",
        must_fail: "proof",
        dockerfile: "FROM {GOOD}\nENV LAB_LOGIN=mallory\n",
    },
    Broken {
        name: "entrypoint ignoring SIGTERM",
        must_fail: "sigterm",
        // PID 1 is a shell that ignores TERM and waits for the service.
        dockerfile: "FROM {RUST}\n{WELL_BEHAVED}ENTRYPOINT [\"/bin/sh\", \"-c\", \"trap '' TERM; /service & wait\"]\n",
    },
    Broken {
        name: "writes to / at start",
        must_fail: "read-only",
        dockerfile: "FROM {RUST}\nRUN mkdir /data && chown 10001 /data\n{WELL_BEHAVED}\
                     ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo started > /data/started && exec /service\"]\n",
    },
    Broken {
        name: "ignoring ROCKET_SIZE",
        must_fail: "env-config",
        dockerfile: "FROM {RUST}\n{WELL_BEHAVED}ENTRYPOINT [\"/bin/sh\", \"-c\", \"ROCKET_SIZE=Fixed exec /service\"]\n",
    },
    Broken {
        name: "over 150 MB",
        must_fail: "size",
        dockerfile: "FROM {RUST}\n{WELL_BEHAVED}ENTRYPOINT [\"/service\"]\n",
    },
];

/// The `ARG RUST_IMAGE=` default of the repository's Dockerfile.
fn rust_image(root: &Path) -> String {
    let dockerfile =
        std::fs::read_to_string(root.join("Dockerfile")).expect("the repository has a Dockerfile");
    dockerfile
        .lines()
        .find_map(|line| line.trim().strip_prefix("ARG RUST_IMAGE="))
        .expect("the Dockerfile declares ARG RUST_IMAGE=...")
        .trim()
        .to_owned()
}

fn build_broken(broken: &Broken, good: &str, rust: &str, seed: &Seed) -> Result<Image, Failed> {
    let context = std::env::temp_dir().join(docker::unique_name("broken-image"));
    std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
    let text = broken
        .dockerfile
        .replace("{WELL_BEHAVED}", WELL_BEHAVED)
        .replace("{GOOD}", good)
        .replace("{RUST}", rust)
        .replace("{LOGIN}", &seed.login)
        .replace("{TOKEN}", &seed.token);
    std::fs::write(context.join("Dockerfile"), text).map_err(|e| e.to_string())?;
    let built = docker::build(&Build {
        context: context.clone(),
        dockerfile: None,
        tag: docker::unique_name("image-lab-broken"),
        build_args: vec![],
    });
    let _ = std::fs::remove_dir_all(&context);
    built.map_err(|e| format!("{e:#}").into())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    if let Err(error) = docker::ensure_engine() {
        eprintln!("these tests build and run images on a real Docker engine: {error:#}");
        return ExitCode::FAILURE;
    }
    xtask::cleanup::remove_on_interrupt();
    let root = xtask::project_root();
    // A login of its own: the good image is named <login>/image-lab:<prefix>
    // as the lab requires, and must not replace an image of the user's.
    let seed = Seed::from_parts(&docker::unique_name("e2e-student"), "0123456789abcdef")
        .expect("a valid seed");
    let good = match build_production_image(&seed, "Dockerfile", &seed.image_name()) {
        Ok(image) => Arc::new(image),
        Err(error) => {
            eprintln!("cannot build the repository's image: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let rust = rust_image(&root);

    let mut trials = Vec::new();
    {
        let (good, seed, root) = (good.clone(), seed.clone(), root.clone());
        trials.push(Trial::test(
            "verify passes this repository's image, strict",
            move || {
                let grade = grading::grade(&Subject {
                    image: good.reference.clone(),
                    seed,
                    dockerfile: Some(root.join("Dockerfile")),
                })
                .map_err(|e| format!("{e:#}"))?;
                let not_passed: Vec<_> = grade
                    .outcomes
                    .iter()
                    .filter(|o| o.status != Status::Pass)
                    .collect();
                if !not_passed.is_empty() || !grade.passed(true) {
                    return Err(format!("{not_passed:#?}").into());
                }
                Ok(())
            },
        ));
    }
    {
        let (good, seed, root) = (good.clone(), seed.clone(), root.clone());
        trials.push(Trial::test(
            "report compares the image with the naive build",
            move || {
                let output =
                    std::env::temp_dir().join(format!("{}.md", docker::unique_name("lab-report")));
                let args = report::Args {
                    target: Target {
                        seed: None,
                        login: Some(seed.login.clone()),
                        token: Some(seed.token.clone()),
                        image: Some(good.reference.clone()),
                        dockerfile: Some(root.join("Dockerfile")),
                    },
                    output: output.clone(),
                };
                let written = report::run(&args).map(|()| std::fs::read_to_string(&output));
                let _ = std::fs::remove_file(&output);
                let markdown = written
                    .map_err(|e| format!("{e:#}"))?
                    .map_err(|e| e.to_string())?;
                for expected in [
                    "## Criteria",
                    "## Image history",
                    "## Production versus naive build",
                    "| image size |",
                    "| user | 10001:10001 | (unset: root) |",
                    "| lab criteria passed | 10/10 |",
                    "## Why the production image is better",
                ] {
                    if !markdown.contains(expected) {
                        return Err(format!("the report lacks {expected:?}:\n{markdown}").into());
                    }
                }
                Ok(())
            },
        ));
    }
    for broken in BROKEN {
        let (good, seed, rust) = (good.clone(), seed.clone(), rust.clone());
        trials.push(Trial::test(
            format!(
                "verify fails {} on an image {}",
                broken.must_fail, broken.name
            ),
            move || {
                let image = build_broken(broken, &good.reference, &rust, &seed)?;
                let grade = grading::grade(&Subject {
                    image: image.reference.clone(),
                    seed,
                    dockerfile: None,
                })
                .map_err(|e| format!("{e:#}"))?;
                let outcome = grade.outcome(broken.must_fail).expect("every id is graded");
                if outcome.status != Status::Fail {
                    return Err(format!("{} was not failed: {outcome:?}", broken.must_fail).into());
                }
                if grade.passed(false) {
                    return Err("the broken image passed the lab".into());
                }
                Ok(())
            },
        ));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(good);
    conclusion.exit_code()
}
