//! Instructions per `GET /health`, counted by callgrind: a figure that does
//! not drift with whatever else the machine does, unlike requests per second.
//!
//! The server runs under `valgrind --tool=callgrind` with one worker; one
//! keep-alive connection sends a number of requests, then SIGTERM ends it
//! and valgrind prints the instructions of the whole run. Two runs with
//! different numbers of requests, the difference of their totals divided by
//! the difference of the numbers: start-up and shutdown cancel out.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use toolkit::command::Cmd;

/// Requests of the shorter and the longer run.
pub const REQUESTS: [u64; 2] = [200, 1_200];
/// Valgrind runs a program some 50 times slower: bounds for its start and exit.
const START_LIMIT: Duration = Duration::from_secs(60);
const EXIT_LIMIT: Duration = Duration::from_secs(60);

/// The server under callgrind, as run (its port given as text: a number
/// when run, `$PORT` when shown), with its metrics on any free port
/// (`METRICS_PORT=0`) or, given `metrics_port`, as it says (`off`).
pub fn command(program: &Path, port: &str, metrics_port: &str) -> Cmd {
    Cmd::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(program)
        .env("HOST", "127.0.0.1")
        .env("PORT", port)
        .env("METRICS_PORT", metrics_port)
        .env("WORKERS", "1")
}

/// Instructions per keep-alive `GET /health` of `program`, run with this
/// `METRICS_PORT`.
pub fn instructions_per_request(program: &Path, metrics_port: &str) -> Result<f64> {
    let [fewer, more] = REQUESTS;
    let total = |requests| total(program, metrics_port, requests);
    let (fewer_total, more_total) = (total(fewer)?, total(more)?);
    Ok((more_total as f64 - fewer_total as f64) / (more - fewer) as f64)
}

/// The instructions of one run of `program` answering `requests` requests.
fn total(program: &Path, metrics_port: &str, requests: u64) -> Result<u64> {
    let port = toolkit::http::free_port()?;
    let cmd = command(program, &port.to_string(), metrics_port);
    let (mut child, guard) = cmd.spawn_group("apt-get install valgrind")?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    send_requests(port, requests).with_context(|| format!("`{}`", cmd.shown()))?;
    kill(Pid::from_raw(pid), Signal::SIGTERM).context("cannot signal valgrind")?;
    if toolkit::wait_for(EXIT_LIMIT, || child.try_wait().ok().flatten()).is_none() {
        bail!(
            "`{}` still running {EXIT_LIMIT:?} after SIGTERM",
            cmd.shown()
        );
    }
    guard.disarm();
    let mut report = String::new();
    child
        .stderr
        .take()
        .context("valgrind's stderr")?
        .read_to_string(&mut report)?;
    // `==1234== Collected : 40701840`
    report
        .lines()
        .find_map(|line| line.split_once("Collected : ")?.1.trim().parse().ok())
        .with_context(|| format!("valgrind printed no instruction count:\n{report}"))
}

/// `requests` keep-alive requests on one connection (ureq keeps it open),
/// once the server answers.
fn send_requests(port: u16, requests: u64) -> Result<()> {
    let agent = ureq::Agent::new_with_defaults();
    let url = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    let mut answered = 0;
    while answered < requests {
        match agent.get(&url).call() {
            Ok(mut answer) => {
                // Read to the end, or the connection is not kept.
                answer.body_mut().read_to_vec()?;
                answered += 1;
            }
            Err(error) if answered > 0 => return Err(error.into()),
            Err(error) if started.elapsed() > START_LIMIT => {
                bail!("no answer on port {port} within {START_LIMIT:?}: {error}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Ok(())
}
