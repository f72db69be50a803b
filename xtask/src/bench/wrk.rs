//! The load generator: wrk, run as a user would type it, its text output parsed.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use toolkit::cleanup::{Guard, Resource};

/// wrk's own per-request timeout: slower answers count as timeout errors.
const REQUEST_TIMEOUT: &str = "2s";

/// The wrk script counting requests sent and answered (repo-relative).
pub const COUNT_SCRIPT: &str = "bench/wrk/count.lua";

/// One wrk run: 1 thread, `connections` keep-alive connections, `seconds` long.
#[derive(Debug, Clone)]
pub struct Wrk {
    pub path: &'static str,
    pub connections: u32,
    pub seconds: u64,
    /// `-s bench/wrk/count.lua` (relative to the working directory).
    pub count: bool,
}

/// wrk's error counters ("Socket errors: connect C, read R, write W, timeout T").
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    pub timeout: u64,
}

/// What bench/wrk/count.lua printed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Requests handed to a connection.
    pub sent: u64,
    pub answered: u64,
    /// Answers whose status was not 2xx or 3xx.
    pub not_ok: u64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// Requests answered (any status).
    pub requests: u64,
    pub requests_per_s: f64,
    /// Latency percentiles in milliseconds; `None` when nothing was answered.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: Errors,
    /// Answers whose status was not 2xx or 3xx.
    pub non_2xx: u64,
    /// With the counting script.
    pub counts: Option<Counts>,
}

impl Wrk {
    /// Its arguments against `port` (a number, or `$PORT` to show it).
    pub fn args(&self, port: &str) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-t1".into(),
            format!("-c{}", self.connections),
            format!("-d{}s", self.seconds),
            "--timeout".into(),
            REQUEST_TIMEOUT.into(),
            "--latency".into(),
        ];
        if self.count {
            args.extend(["-s".into(), COUNT_SCRIPT.into()]);
        }
        args.push(format!("http://127.0.0.1:{port}{}", self.path));
        args
    }

    /// The command line, with the port as a placeholder (it changes each run).
    pub fn shown(&self) -> String {
        format!("wrk {}", self.args("$PORT").join(" "))
    }

    /// Starts wrk in its own process group (killed on Ctrl-C or error), in
    /// `dir` (which the script's path is relative to).
    pub fn spawn(&self, port: u16, dir: &Path) -> Result<Running> {
        let child = Command::new("wrk")
            .args(self.args(&port.to_string()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(launch_error())?;
        let pid = i32::try_from(child.id()).context("pid out of range")?;
        Ok(Running {
            pid,
            child,
            _guard: Guard::register(Resource::ProcessGroup(pid)),
            deadline: Instant::now() + Duration::from_secs(self.seconds + 10),
        })
    }

    /// Runs wrk to its end and parses what it printed.
    pub fn run(&self, port: u16, dir: &Path) -> Result<Measurement> {
        self.spawn(port, dir)?.finish()
    }
}

/// A wrk process under way. It prints only as it ends, and less than a
/// pipe holds: its output is read once it has exited.
pub struct Running {
    pid: i32,
    child: Child,
    _guard: Guard,
    deadline: Instant,
}

impl Running {
    /// Whether wrk is still sending.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT: wrk stops at once and prints what it measured so far.
    pub fn interrupt(&self) {
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGINT);
    }

    /// Waits for wrk to end (killing it 10 s past its duration) and parses its output.
    pub fn finish(mut self) -> Result<Measurement> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if toolkit::wait_for(left, || self.child.try_wait().ok().flatten()).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            bail!("wrk did not end 10 s after its duration: killed");
        }
        let out = self.child.wait_with_output()?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        // After a SIGINT wrk still prints its figures: judge by those.
        if !out.status.success() && !stdout.contains(" requests in ") {
            bail!(
                "wrk failed ({}): {}{}",
                out.status,
                stderr.trim(),
                stdout.trim()
            );
        }
        parse(&stdout).with_context(|| format!("cannot read wrk's output:\n{stdout}"))
    }
}

/// `36.24ms` → 36.24; wrk prints us, ms, s, m or h.
fn milliseconds(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

fn count(text: &str) -> Option<u64> {
    text.trim().trim_end_matches(',').parse().ok()
}

/// The count after the word `key` ("connect 3, read 12, ...").
fn after(words: &[&str], key: &str) -> Result<u64> {
    let at = words.iter().position(|word| *word == key);
    let value = at.and_then(|at| count(words.get(at + 1)?));
    value.with_context(|| format!("no count of {key}"))
}

/// Parses wrk's text output (4.x, with `--latency`; and count.lua's line).
pub fn parse(text: &str) -> Result<Measurement> {
    let (mut requests, mut requests_per_s, mut p50_ms, mut p99_ms) = (None, None, None, None);
    let (mut errors, mut non_2xx, mut counts) = (Errors::default(), 0, None);
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["50%", value] => p50_ms = milliseconds(value),
            ["99%", value] => p99_ms = milliseconds(value),
            [n, "requests", "in", ..] => requests = count(n),
            ["Requests/sec:", value] => requests_per_s = value.parse::<f64>().ok(),
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                non_2xx = count(n).context("Non-2xx count")?;
            }
            ["Socket", "errors:", ..] => {
                errors = Errors {
                    connect: after(&words, "connect")?,
                    read: after(&words, "read")?,
                    write: after(&words, "write")?,
                    timeout: after(&words, "timeout")?,
                };
            }
            ["wrk-count:", ..] => {
                counts = Some(Counts {
                    sent: after(&words, "sent")?,
                    answered: after(&words, "answered")?,
                    not_ok: after(&words, "not-ok")?,
                });
            }
            _ => {}
        }
    }
    let requests = requests.context("no `N requests in` line")?;
    let requests_per_s = requests_per_s.context("no `Requests/sec:` line")?;
    if requests == 0 {
        (p50_ms, p99_ms) = (None, None);
    } else if p50_ms.is_none() || p99_ms.is_none() {
        bail!("no latency distribution (was --latency given?)");
    }
    Ok(Measurement {
        requests,
        requests_per_s,
        p50_ms,
        p99_ms,
        errors,
        non_2xx,
        counts,
    })
}

/// Fails with the install command when wrk is missing.
pub fn version() -> Result<String> {
    let out = Command::new("wrk")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(launch_error())?;
    // wrk prints its version, then its usage, and exits 1.
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("wrk");
    let version = first.split(" Copyright").next().unwrap_or_default();
    Ok(version.trim().to_owned())
}

/// The error for a wrk that cannot be started, with the install command.
fn launch_error() -> impl FnOnce(std::io::Error) -> anyhow::Error {
    toolkit::launch_error(
        "wrk",
        "wrk (the load generator) is not installed: `apt-get install wrk` (Debian, Ubuntu)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 3s test @ http://127.0.0.1:18002/health
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.55ms    2.91ms  29.11ms   70.03%
    Req/Sec     2.79k   467.24     3.83k    70.00%
  Latency Distribution
     50%  150.00us
     75%    7.33ms
     90%    9.44ms
     99%    1.02s
  8419 requests in 3.04s, 1.40MB read
  Socket errors: connect 3, read 12, write 1, timeout 7
  Non-2xx or 3xx responses: 5
Requests/sec:   2769.36
Transfer/sec:    473.01KB
wrk-count: sent 8440 answered 8419 not-ok 5
";

    #[test]
    fn parses_every_figure() {
        let out = parse(SAMPLE).unwrap();
        assert_eq!(out.requests, 8419);
        assert!((out.requests_per_s - 2769.36).abs() < 1e-9);
        assert!((out.p50_ms.unwrap() - 0.15).abs() < 1e-9);
        assert!((out.p99_ms.unwrap() - 1020.0).abs() < 1e-9);
        assert_eq!(
            out.errors,
            Errors {
                connect: 3,
                read: 12,
                write: 1,
                timeout: 7
            }
        );
        assert_eq!(out.non_2xx, 5);
        assert_eq!(
            out.counts,
            Some(Counts {
                sent: 8440,
                answered: 8419,
                not_ok: 5
            })
        );
    }

    #[test]
    fn clean_runs_have_no_errors() {
        let clean: String = SAMPLE
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx") && !l.contains("wrk-count"))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = parse(&clean).unwrap();
        assert_eq!(
            (out.errors, out.non_2xx, out.counts),
            (Errors::default(), 0, None)
        );
    }

    #[test]
    fn rejects_foreign_output() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused\n").is_err());
        assert!(milliseconds("12parsecs").is_none());
    }

    #[test]
    fn shows_the_port_as_a_placeholder() {
        let mut wrk = Wrk {
            path: "/health",
            connections: 16,
            seconds: 8,
            count: false,
        };
        assert_eq!(
            wrk.shown(),
            "wrk -t1 -c16 -d8s --timeout 2s --latency http://127.0.0.1:$PORT/health"
        );
        wrk.count = true;
        assert!(
            wrk.shown()
                .ends_with(" --latency -s bench/wrk/count.lua http://127.0.0.1:$PORT/health")
        );
    }
}
