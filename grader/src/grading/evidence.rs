//! Gathers, on the real engine, everything the checks judge: the image's
//! metadata and history, and what its containers did.
//!
//! The lab's way first: three containers of the image ID, started together
//! in a [`Sandbox`]:
//! - `lab`: the lab's own flags (`--read-only -e ROCKET_SIZE=... -p ...`) plus
//!   a random `SECRET`; it answers `/`, `/health`, `/proof`, must become
//!   healthy, shows its UIDs, is probed for a shell, and finally gets `docker stop`;
//! - `second`: the same flags with another `ROCKET_SIZE`;
//! - `hardened`: `--cap-drop ALL --security-opt no-new-privileges` too.
//!
//! One mistake costs one criterion: when the `--read-only` lab container
//! does not answer, `read-only` fails and the three are started again
//! without `--read-only`, and every other runtime criterion is judged on
//! those. The app is probed on one port ([`Port`]): `--port`, else the
//! image's one EXPOSEd port, else the lab's 8000.

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
/// How long a set of containers may take to answer its first request.
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(30);
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
    pub rocket_sizes: [String; 2],
    /// The lab container run the lab's way, with `--read-only`.
    pub read_only: Observed,
    /// Whether the containers below ran with `--read-only` (they ran
    /// without when the `--read-only` one did not answer).
    pub judged_read_only: bool,
    pub lab: Observed,
    pub second: Observed,
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

/// Starts the lab's three containers of one image (`lab`, `second`,
/// `hardened`) together and waits (at most until `answers_by`) for each to
/// answer: the `lab` one still running, and what all three showed.
fn start_three(
    runs: [Run; 3],
    sandbox: &Sandbox,
    image: &str,
    answers_by: Instant,
) -> Result<(Container, [Observed; 3])> {
    let runs = runs.map(|run| sandbox.confine(run));
    let [lab, second, hardened] = [0, 1, 2].map(|i| runs[i].start());
    let containers = [lab?, second?, hardened?];
    let observed = [0, 1, 2].map(|i| {
        let (run, container) = (&runs[i], &containers[i]);
        let port = run.publish.unwrap_or(APP_PORT);
        let wait = answers_by.saturating_duration_since(Instant::now());
        let first_answer = container
            .wait_answering("/", wait)
            .map(|(_, answer)| (container.started.elapsed(), answer))
            .map_err(|error| format!("no answer on port {port}: {error:#}"));
        let state = container.inspect().map(|c| c.state).unwrap_or_default();
        let standing = Standing {
            running: state.running,
            health: state.health_status().map(str::to_owned),
        };
        let (health, proof) = match &first_answer {
            Ok(_) => (
                text(container.get("/health")),
                text(container.get("/proof")),
            ),
            Err(why) => (Err(why.clone()), Err(why.clone())),
        };
        Observed {
            // The run names the image by ID (every run the same image); show its name.
            command: run.shown_command().replace(&run.image, image),
            first_answer,
            standing,
            health,
            proof,
        }
    });
    let [lab, _second, _hardened] = containers;
    Ok((lab, observed))
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
        let rocket_sizes = [
            toolkit::random_word("Rocket"),
            toolkit::random_word("Rocket"),
        ];
        let trio_runs = |read_only: bool| {
            let run = |rocket_size: &str| {
                let run = Run::new(&image_id)
                    .env("ROCKET_SIZE", rocket_size)
                    .env("SECRET", &secret)
                    .publish(port.number);
                Run { read_only, ..run }
            };
            let lab = run(&rocket_sizes[0]);
            let hardened = Run {
                hardened: true,
                ..lab.clone()
            };
            [lab, run(&rocket_sizes[1]), hardened]
        };
        let answers_by = || (Instant::now() + FIRST_ANSWER_WITHIN).min(deadline);

        let sandbox = Sandbox::create()?;
        progress!(
            "port {}: {}; sandbox: {}",
            port.number,
            port.why,
            sandbox::shown()
        );
        progress!(
            "starting 3 containers with the lab's flags (--read-only; two ROCKET_SIZE values, one hardened too), \
             waiting for answers on / (at most 30 s)",
        );
        let mut trio = start_three(trio_runs(true), &sandbox, &subject.image, answers_by())?;
        let read_only = trio.1[0].clone();
        let judged_read_only = read_only.first_answer.is_ok();
        if !judged_read_only {
            progress!(
                "the --read-only container did not answer: the other criteria are judged on 3 containers \
                 without --read-only (at most 30 s)",
            );
            drop(trio);
            trio = start_three(trio_runs(false), &sandbox, &subject.image, answers_by())?;
        }
        let (lab, [lab_observed, second, hardened]) = trio;
        let unanswered = lab_observed.first_answer.as_ref().err().cloned();

        let healthy = if let Some(check) = image.healthcheck() {
            let wait = check
                .schedule()
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
            rocket_sizes,
            read_only,
            judged_read_only,
            lab: lab_observed,
            second,
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
