//! Gathers, on the real engine, everything the checks judge: the image's
//! metadata and history, and what its containers did.
//!
//! The lab's way: two containers of the image ID, started together in a
//! [`Sandbox`]:
//! - `lab`: the lab's own flags (`--read-only -e ROCKET_SIZE=... -p ...`),
//!   `ROCKET_SIZE` and `SECRET` random words no image can hold; it answers
//!   `/`, `/health`, `/proof`, must become healthy, shows its UIDs, is probed
//!   for a shell, and finally gets `docker stop`;
//! - `hardened`: `--cap-drop ALL --security-opt no-new-privileges` too.
//!
//! One mistake costs one criterion: when the `--read-only` lab has not
//! answered within 5 s (or has exited), a third starts beside it, `lab`
//! without `--read-only`, and one wait settles both ([`race`]). When the
//! `--read-only` one does not answer and the other does, `read-only`
//! fails and every other runtime criterion is judged without `--read-only`
//! (on that one, and two more like `second` and `hardened`). When neither
//! answers, the cause is elsewhere, and is said once. The app is probed on
//! one port ([`Port`]): `--port`, else the image's one EXPOSEd port, else
//! the lab's 8000.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::sandbox::{self, Sandbox};
use crate::seed::Seed;
use anyhow::{Context, Result};
use toolkit::container::{Container, Ended, Exec, Process, Run, Stop};
use toolkit::engine::{self, Layer};
use toolkit::http::Answer;
use toolkit::inspect;

/// The port the lab's app listens on inside the container.
pub const APP_PORT: u16 = 8000;
/// Docker's default kill timeout for `docker stop`.
pub const KILL_AFTER: Duration = Duration::from_secs(10);
/// How the lab container is stopped: as `docker stop` does by default.
pub const STOP: Stop = Stop {
    kill_after: KILL_AFTER,
};
/// Whether the image has a shell: `docker exec CONTAINER sh -c true`.
pub const SHELL_PROBE: Exec = Exec {
    command: &["sh", "-c", "true"],
};
/// A whole grading of one image ends within this, whatever the image does.
pub const BUDGET: Duration = Duration::from_secs(120);
/// How long a container may take to answer its first request. An image
/// that never answers is then judged within this and `docker stop`'s 10 s:
/// under the 35 s a teacher waits for it.
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// How much longer the `--read-only` container gets to answer than the one
/// started beside it without `--read-only`, once that one has answered.
const GRACE: Duration = Duration::from_secs(5);
/// How long the `--read-only` container may go unanswered before one
/// without `--read-only` starts beside it: that one then still has 15 s.
const ALONE: Duration = Duration::from_secs(5);
/// The longest `docker exec` of the shell probe.
const EXEC_WITHIN: Duration = Duration::from_secs(5);
/// Kept back from the budget for what follows the waits: the shell probe,
/// `docker stop` (up to its kill) and removing the containers.
const RESERVE: Duration = Duration::from_secs(25);

/// What is being graded.
#[derive(Debug, Clone)]
pub struct Subject {
    pub image: String,
    pub seed: Seed,
    /// The Dockerfile the image was built from, when known.
    pub dockerfile: Option<PathBuf>,
    /// The port the app listens on, when the grader was told (`--port`).
    pub port: Option<u16>,
}

/// A Dockerfile and what sits beside it.
#[derive(Debug, Clone)]
pub struct DockerfileInfo {
    pub path: PathBuf,
    pub text: String,
    pub has_dockerignore: bool,
}

/// The container port the app is probed on, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub number: u16,
    pub why: String,
}

/// What one running container showed.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The `docker run` command, as a student would type it.
    pub command: String,
    /// From `docker run` to the first answer on `/`.
    pub first_answer: Result<(Duration, Answer), String>,
    /// How the container stood when that wait ended.
    pub standing: Standing,
    pub health: Result<Answer, String>,
    pub proof: Result<Answer, String>,
}

/// A container's state at one moment: what two runs of an image are
/// compared on when neither answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub running: bool,
    /// `State.Health.Status`; `None` without a healthcheck.
    pub health: Option<String>,
}

impl Standing {
    pub fn healthy(&self) -> bool {
        self.running && self.health.as_deref() == Some("healthy")
    }
}

/// Everything the checks judge.
#[derive(Debug)]
pub struct Evidence {
    pub subject: Subject,
    pub image: inspect::Image,
    /// `docker history --no-trunc`: every layer, newest first.
    pub history: Vec<Layer>,
    pub dockerfile: Option<DockerfileInfo>,
    pub port: Port,
    pub secret: String,
    /// A random word: shown by `/`, it can only have come from the run's environment.
    pub rocket_size: String,
    /// The lab container run the lab's way, with `--read-only`.
    pub read_only: Observed,
    /// Whether the containers below ran with `--read-only` (they ran
    /// without when the `--read-only` one did not answer).
    pub judged_read_only: bool,
    pub lab: Observed,
    pub hardened: Observed,
    /// Why the app never answered, when it did not: "no answer on port N ...".
    pub unanswered: Option<String>,
    /// Time from `docker run` to `healthy`.
    pub healthy: Result<Duration, String>,
    /// The lab container's processes (host-side UIDs), its PID 1 first.
    pub processes: Result<Vec<Process>, String>,
    /// Whether [`SHELL_PROBE`] succeeded.
    pub has_shell: Result<bool, String>,
    pub stopped: Result<Ended, String>,
}

fn text<T>(result: Result<T>) -> Result<T, String> {
    result.map_err(|error| format!("{error:#}"))
}

/// The port to probe: `given`, else the image's one exposed TCP port, else the lab's.
pub fn choose_port(given: Option<u16>, image: &inspect::Image) -> Port {
    let port = |number, why: String| Port { number, why };
    if let Some(number) = given {
        return port(number, "given with --port".into());
    }
    let exposed: Vec<&str> = image
        .config
        .exposed_ports
        .iter()
        .map(String::as_str)
        .collect();
    let tcp: Vec<u16> = exposed
        .iter()
        .filter_map(|port| port.strip_suffix("/tcp")?.parse().ok())
        .collect();
    match tcp[..] {
        [number] => port(
            number,
            format!("the image's one exposed port (EXPOSE {number})"),
        ),
        [] => port(
            APP_PORT,
            "the lab's port: the image exposes no TCP port".into(),
        ),
        _ => port(
            APP_PORT,
            format!(
                "the lab's port: the image exposes several ({}), choose one with --port",
                exposed.join(", ")
            ),
        ),
    }
}

type FirstAnswer = Result<(Duration, Answer), String>;

/// A container of the grading, and the run it was started from.
struct Started {
    run: Run,
    container: Container,
}

impl Started {
    fn new(run: Run, sandbox: &Sandbox) -> Result<Self> {
        let run = sandbox.confine(run);
        let container = run.start()?;
        Ok(Started { run, container })
    }

    /// One try at `GET /`: `Some` once it answered, or has exited (saying
    /// how); else `None`, with the try's error in `last`.
    fn poll(&self, last: &mut String) -> Option<FirstAnswer> {
        let answered = self.container.try_answering("/", last)?;
        Some(answered.map(|answer| (self.container.started.elapsed(), answer)))
    }

    /// Waits (at most until `by`) for it to answer `GET /`.
    fn wait(&self, by: Instant) -> FirstAnswer {
        let wait = by.saturating_duration_since(Instant::now());
        (self.container.wait_answering("/", wait))
            .map(|(_, answer)| (self.container.started.elapsed(), answer))
            .map_err(|error| format!("{error:#}"))
    }

    /// What it showed, `first_answer` the outcome of the wait on it.
    fn observe(&self, image: &str, first_answer: FirstAnswer) -> Observed {
        let port = self.run.publish.first().copied().unwrap_or(APP_PORT);
        let first_answer = first_answer.map_err(|why| format!("no answer on port {port}: {why}"));
        let state = (self.container.inspect().map(|c| c.state)).unwrap_or_default();
        let standing = Standing {
            running: state.running,
            health: state.health_status().map(str::to_owned),
        };
        let (health, proof) = match &first_answer {
            Ok(_) => (
                text(self.container.get("/health")),
                text(self.container.get("/proof")),
            ),
            Err(why) => (Err(why.clone()), Err(why.clone())),
        };
        Observed {
            command: shown_run(&self.run, image),
            first_answer,
            standing,
            health,
            proof,
        }
    }
}

/// The `docker run` of `run` as a student types it. The run names the image
/// by ID (every run the same image); this shows its name.
fn shown_run(run: &Run, image: &str) -> String {
    run.shown_command().replace(&run.image, image)
}

/// One wait for both lab containers, at most until `by`: for the one
/// `with` `--read-only` until it answers or exits, or [`GRACE`] after the
/// one without has answered; for that one until it answers or exits. The
/// one without is started (by `start_without`) only when the other has
/// exited or not answered within [`ALONE`]: most images answer sooner, and
/// on 2 cores a class is bound by its containers' CPU (starting this one
/// always cost a class of 12 a quarter more). Returns it, when started,
/// with both answers.
fn race(
    with: &Started,
    start_without: impl FnOnce() -> Result<Started>,
    by: Instant,
) -> Result<(FirstAnswer, Option<(Started, FirstAnswer)>)> {
    let (mut with_answer, mut without_answer) = (None, None);
    let (mut with_last, mut without_last) = (String::new(), String::new());
    let mut without_answered = None;
    let mut start_without = Some(start_without);
    let mut without = None;
    loop {
        if with_answer.is_none() {
            with_answer = with.poll(&mut with_last);
        }
        if matches!(with_answer, Some(Ok(_))) {
            break;
        }
        let alone_too_long = with.container.started.elapsed() >= ALONE || with_answer.is_some();
        if alone_too_long && let Some(start) = start_without.take() {
            without = Some(start()?);
        }
        if let (Some(started), None) = (&without, &without_answer) {
            without_answer = started.poll(&mut without_last);
            if matches!(without_answer, Some(Ok(_))) {
                without_answered = Some(Instant::now());
            }
        }
        let done = (with_answer.is_some() && without_answer.is_some())
            || without_answered.is_some_and(|at| at.elapsed() >= GRACE)
            || Instant::now() >= by;
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let without = without.map(|started| (started, without_answer.unwrap_or(Err(without_last))));
    Ok((with_answer.unwrap_or(Err(with_last)), without))
}

impl DockerfileInfo {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let beside = |file: &str| path.with_file_name(file).is_file();
        Ok(DockerfileInfo {
            path: path.to_owned(),
            text,
            has_dockerignore: beside(".dockerignore") || beside(&format!("{name}.dockerignore")),
        })
    }
}

impl Evidence {
    /// Runs the containers and collects everything, within [`BUDGET`];
    /// engine errors (no engine, no such image) are errors, while what the
    /// image does wrong is evidence.
    pub fn gather(subject: &Subject) -> Result<Self> {
        let started = Instant::now();
        macro_rules! progress {
            ($($step:tt)*) => { toolkit::progress(started, format_args!($($step)*)) };
        }
        let deadline = started + BUDGET - RESERVE;
        let image = engine::inspect_image(&subject.image)?;
        let image_id = image.id.clone();
        let history = engine::history(&image_id)?;
        let dockerfile = subject
            .dockerfile
            .as_deref()
            .map(DockerfileInfo::read)
            .transpose()?;
        let port = choose_port(subject.port, &image);
        let secret = toolkit::random_word("secret-");
        let rocket_size = toolkit::random_word("Rocket");
        let lab_runs = |read_only: bool| {
            let lab = Run::new(&image_id)
                .env("ROCKET_SIZE", &rocket_size)
                .env("SECRET", &secret)
                .publish(port.number);
            let lab = Run { read_only, ..lab };
            let hardened = Run {
                hardened: true,
                ..lab.clone()
            };
            [lab, hardened]
        };
        let answers_by = || (Instant::now() + FIRST_ANSWER_WITHIN).min(deadline);
        let at_most = FIRST_ANSWER_WITHIN.as_secs();

        let sandbox = Sandbox::create()?;
        progress!(
            "port {}: {}; sandbox: {}",
            port.number,
            port.why,
            sandbox::shown()
        );
        progress!(
            "starting 2 containers with the lab's flags (--read-only; one hardened too); \
             waiting for answers on / (at most {at_most} s; one without --read-only joins them when the first \
             has not answered within {} s)",
            ALONE.as_secs()
        );
        let [lab_run, hardened_run] = lab_runs(false);
        let [with_lab, with_hardened] = lab_runs(true).map(|run| Started::new(run, &sandbox));
        let (with_lab, with_hardened) = (with_lab?, with_hardened?);
        let by = answers_by();
        let start_without = || {
            progress!(
                "no answer yet with --read-only: starting the lab's container without it too"
            );
            Started::new(lab_run.clone(), &sandbox)
        };
        let (with_answer, without) = race(&with_lab, start_without, by)?;
        let judged_read_only = with_answer.is_ok();
        let read_only = with_lab.observe(&subject.image, with_answer);
        // Every container but the lab one is removed as soon as it has been
        // observed: the sandbox's network can go only once they are gone.
        let (lab, lab_observed, hardened) = match without {
            without if judged_read_only => {
                drop(without);
                let hardened = with_hardened.observe(&subject.image, with_hardened.wait(by));
                drop(with_hardened);
                (with_lab.container, read_only.clone(), hardened)
            }
            Some((without, without_answer @ Ok(_))) => {
                progress!(
                    "the --read-only container did not answer, the one without did: the other criteria are \
                     judged without --read-only, 1 more container (at most {at_most} s)",
                );
                drop((with_lab, with_hardened));
                let lab_observed = without.observe(&subject.image, without_answer);
                let hardened = Started::new(hardened_run, &sandbox)?;
                let hardened = hardened.observe(&subject.image, hardened.wait(answers_by()));
                (without.container, lab_observed, hardened)
            }
            without => {
                drop(with_hardened);
                // Neither answered; the one without --read-only is the lab
                // one, unless the budget left it no time to start.
                let (lab, lab_observed) = match without {
                    Some((without, answer)) => {
                        drop(with_lab);
                        let observed = without.observe(&subject.image, answer);
                        (without.container, observed)
                    }
                    None => (with_lab.container, read_only.clone()),
                };
                // Not started: every criterion that needs an answer fails for the one reason.
                let hardened = Observed {
                    command: shown_run(&hardened_run, &subject.image),
                    ..lab_observed.clone()
                };
                (lab, lab_observed, hardened)
            }
        };
        let unanswered = lab_observed.first_answer.as_ref().err().cloned();

        let healthy = if let Some(check) = image.healthcheck() {
            // The schedule runs from the container's start.
            let wait = (check.schedule().saturating_sub(lab.started.elapsed()))
                .min(deadline.saturating_duration_since(Instant::now()));
            let at_most = wait.as_secs_f64();
            progress!("waiting for the healthcheck to report healthy (at most {at_most:.0} s)");
            text(lab.wait_healthy(wait))
        } else {
            Err("the image has no HEALTHCHECK".to_owned())
        };
        let processes = if lab.is_running() {
            text(lab.processes())
        } else {
            Err("the container had exited: no process to see".to_owned())
        };
        let has_shell = text(
            lab.exec(SHELL_PROBE, EXEC_WITHIN)
                .map(|executed| executed.exit_code == 0),
        );
        progress!("docker stop (the kill comes after 10 s)");
        let stopped = if lab.is_running() {
            text(lab.stop(STOP))
        } else {
            Err("the container was no longer running".to_owned())
        };
        drop(lab);
        drop(sandbox);
        progress!("done");
        Ok(Evidence {
            subject: subject.clone(),
            image,
            history,
            dockerfile,
            port,
            secret,
            rocket_size,
            read_only,
            judged_read_only,
            lab: lab_observed,
            hardened,
            unanswered,
            healthy,
            processes,
            has_shell,
            stopped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_given_else_the_one_exposed_else_the_labs() {
        let image = |ports: &[&str]| {
            let mut image = inspect::Image::default();
            image.config.exposed_ports = ports.iter().map(|&port| port.to_owned()).collect();
            image
        };
        assert_eq!(choose_port(Some(9000), &image(&[])).number, 9000);
        let one = choose_port(None, &image(&["5000/tcp"]));
        assert_eq!(one.number, 5000);
        assert!(one.why.contains("EXPOSE 5000"), "{}", one.why);
        assert_eq!(choose_port(None, &image(&[])).number, APP_PORT);
        let udp = choose_port(None, &image(&["53/udp"]));
        assert_eq!(udp.number, APP_PORT);
        let several = choose_port(None, &image(&["5000/tcp", "8080/tcp"]));
        assert_eq!(several.number, APP_PORT);
        assert!(
            several.why.contains("5000/tcp, 8080/tcp"),
            "{}",
            several.why
        );
    }
}
