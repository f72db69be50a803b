//! Gathers, on the real engine, everything the checks judge: the image's
//! metadata and history, and what three containers of it did.
//!
//! Containers, all started from the same image ID:
//! - `lab`: the lab's own flags (`--read-only -e ROCKET_SIZE=... -p ...`) plus
//!   a random `SECRET`; it answers `/`, `/health`, `/proof`, must become
//!   healthy, shows its UIDs, is probed for a shell, and finally gets `docker stop`;
//! - `second`: the same flags with another `ROCKET_SIZE`;
//! - `hardened`: `--cap-drop ALL --security-opt no-new-privileges` too.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::docker::{self, Answer, Container, Run, Stopped};
use crate::seed::Seed;

/// The port the lab's app listens on inside the container.
pub const APP_PORT: u16 = 8000;
/// Docker's default kill timeout for `docker stop`.
pub const KILL_AFTER: Duration = Duration::from_secs(10);
/// How long a container may take to answer its first request.
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(30);
/// The longest wait for `healthy`, whatever the image's healthcheck timing.
const HEALTHY_AT_MOST: Duration = Duration::from_secs(180);

/// What is being graded.
#[derive(Debug, Clone)]
pub struct Subject {
    pub image: String,
    pub seed: Seed,
    /// The Dockerfile the image was built from, when known.
    pub dockerfile: Option<PathBuf>,
}

/// A Dockerfile and what sits beside it.
#[derive(Debug, Clone)]
pub struct DockerfileInfo {
    pub path: PathBuf,
    pub text: String,
    pub has_dockerignore: bool,
}

/// What one running container showed.
#[derive(Debug)]
pub struct Observed {
    /// The `docker run` command, as a student would type it.
    pub command: String,
    /// From `docker run` to the first answer on `/`.
    pub first_answer: Result<(Duration, Answer), String>,
    pub health: Result<Answer, String>,
    pub proof: Result<Answer, String>,
}

/// Everything the checks judge.
#[derive(Debug)]
pub struct Evidence {
    pub subject: Subject,
    pub inspect: Value,
    /// `docker history --no-trunc`: every layer's creating command.
    pub history: Vec<String>,
    pub dockerfile: Option<DockerfileInfo>,
    pub secret: String,
    pub rocket_sizes: [String; 2],
    pub lab: Observed,
    pub second: Observed,
    pub hardened: Observed,
    /// Time from `docker run` to `healthy`.
    pub healthy: Result<Duration, String>,
    /// Host-side UIDs of the lab container's processes.
    pub uids: Result<Vec<u32>, String>,
    /// Whether `docker exec CONTAINER sh -c true` succeeded.
    pub has_shell: Result<bool, String>,
    pub stopped: Result<Stopped, String>,
    pub lab_logs: String,
}

/// A random lowercase word, for values an image cannot have guessed.
pub fn random_word(prefix: &str) -> String {
    // RandomState is seeded from the OS's randomness: plenty for test values.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    format!("{prefix}{:016x}", hasher.finish())
}

fn lab_flags(image: &str, rocket_size: &str, secret: &str) -> Run {
    let mut run = Run::new(image)
        .env("ROCKET_SIZE", rocket_size)
        .env("SECRET", secret)
        .publish(APP_PORT);
    run.read_only = true;
    run
}

fn progress(started: Instant, step: &str) {
    eprintln!("  [{:>5.1}s] {step}", started.elapsed().as_secs_f64());
}

fn text<T>(result: Result<T>) -> Result<T, String> {
    result.map_err(|error| format!("{error:#}"))
}

/// How long to wait for `healthy`: the image's own schedule, bounded.
fn healthy_wait(inspect: &Value) -> Duration {
    let config = &inspect["Config"]["Healthcheck"];
    let nanos =
        |key: &str, default: u64| config[key].as_u64().filter(|n| *n > 0).unwrap_or(default);
    let interval = Duration::from_nanos(nanos("Interval", 30_000_000_000));
    let start_period = Duration::from_nanos(nanos("StartPeriod", 0));
    let timeout = Duration::from_nanos(nanos("Timeout", 30_000_000_000));
    let retries = u32::try_from(nanos("Retries", 3)).unwrap_or(3);
    (start_period + (interval + timeout) * (retries + 1)).min(HEALTHY_AT_MOST)
}

impl Observed {
    /// Waits for `container`'s first answer, then asks `/health` and `/proof`.
    fn watch(run: &Run, container: &Container, image: &str) -> Self {
        let first_answer = text(container.wait_answering("/", FIRST_ANSWER_WITHIN))
            .map(|(_, answer)| (container.started.elapsed(), answer));
        let (health, proof) = if first_answer.is_ok() {
            (
                text(container.get("/health")),
                text(container.get("/proof")),
            )
        } else {
            let why = || Err("the container never answered".to_owned());
            (why(), why())
        };
        Observed {
            // The run names the image by ID (every run the same image); show its name.
            command: run.shown_command().replace(&run.image, image),
            first_answer,
            health,
            proof,
        }
    }
}

impl DockerfileInfo {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let has_dockerignore = dir.join(".dockerignore").is_file()
            || path
                .with_file_name(format!(
                    "{}.dockerignore",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ))
                .is_file();
        Ok(DockerfileInfo {
            path: path.to_owned(),
            text,
            has_dockerignore,
        })
    }
}

impl Evidence {
    /// Runs the containers and collects everything; engine errors (no engine,
    /// no such image) are errors, while what the image does wrong is evidence.
    pub fn gather(subject: &Subject) -> Result<Self> {
        let started = Instant::now();
        let inspect = docker::inspect_image(&subject.image)?;
        let image_id = inspect["Id"]
            .as_str()
            .context("docker inspect shows no image Id")?
            .to_owned();
        let history = docker::run(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &image_id,
        ])?
        .lines()
        .map(str::to_owned)
        .collect();
        let dockerfile = subject
            .dockerfile
            .as_deref()
            .map(DockerfileInfo::read)
            .transpose()?;
        let secret = random_word("secret-");
        let rocket_sizes = [random_word("Rocket"), random_word("Rocket")];

        progress(
            started,
            "starting 3 containers: the lab's flags twice (two ROCKET_SIZE values), and hardened",
        );
        let lab_run = lab_flags(&image_id, &rocket_sizes[0], &secret);
        let second_run = lab_flags(&image_id, &rocket_sizes[1], &secret);
        let hardened_run = Run {
            hardened: true,
            ..lab_run.clone()
        };
        let lab = lab_run.start()?;
        let second = second_run.start()?;
        let hardened = hardened_run.start()?;

        progress(started, "waiting for answers on / (at most 30 s)");
        let lab_observed = Observed::watch(&lab_run, &lab, &subject.image);
        let second_observed = Observed::watch(&second_run, &second, &subject.image);
        let hardened_observed = Observed::watch(&hardened_run, &hardened, &subject.image);
        drop((second, hardened));

        let has_healthcheck = inspect["Config"]["Healthcheck"]["Test"]
            .as_array()
            .is_some_and(|test| !test.is_empty() && test[0] != "NONE");
        let healthy = if has_healthcheck {
            let wait = healthy_wait(&inspect);
            progress(
                started,
                &format!("waiting for the healthcheck to report healthy (at most {wait:?})"),
            );
            text(lab.wait_healthy(wait)).map(|_| lab.started.elapsed())
        } else {
            Err("the image has no HEALTHCHECK".to_owned())
        };
        let uids = text(lab.process_uids());
        let has_shell = text(
            lab.exec(&["sh", "-c", "true"])
                .map(|out| out.status.success()),
        );
        progress(started, "docker stop (the kill comes after 10 s)");
        let stopped = if lab.is_running() {
            text(lab.stop(KILL_AFTER))
        } else {
            Err("the container was no longer running".to_owned())
        };
        let lab_logs = lab.logs();
        progress(started, "done");
        Ok(Evidence {
            subject: subject.clone(),
            inspect,
            history,
            dockerfile,
            secret,
            rocket_sizes,
            lab: lab_observed,
            second: second_observed,
            hardened: hardened_observed,
            healthy,
            uids,
            has_shell,
            stopped,
            lab_logs,
        })
    }
}
