//! A real Prometheus server, Debian's `prometheus` package (which .ci/run
//! installs), scraping one target on 127.0.0.1 every second, asked through
//! its HTTP API; and `promtool check metrics` on an exposition's text.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use toolkit::cleanup::{Guard, Resource};
use toolkit::command::Cmd;
use toolkit::http::{free_port, http_get_at, http_get_query};

/// How long Prometheus gets to start, and to scrape once more.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A Prometheus server, stopped and its data removed when dropped.
pub struct Prometheus {
    address: SocketAddr,
    child: Child,
    job: String,
    _process: Guard,
    _data: Guard,
}

/// One series of a query's answer: its labels and value.
pub type Series = (BTreeMap<String, String>, f64);

impl Prometheus {
    /// Starts one that scrapes `target`'s `/metrics` every second as `job`;
    /// returns once it is ready.
    pub fn start(job: &str, target: SocketAddr) -> Result<Self> {
        let dir = std::env::temp_dir().join(toolkit::unique_name("prometheus"));
        let data = Guard::register(Resource::TempDir(dir.clone()));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )?;
        let address = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let cmd = Cmd::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn");
        cmd.announce();
        let (mut child, process) = cmd.spawn_group("apt-get install prometheus (.ci/run does)")?;
        let ready = toolkit::wait_for(READY_WITHIN, || {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(Err(anyhow::anyhow!("prometheus exited at start: {status}")));
            }
            let answer = http_get_at(address, "/-/ready").ok()?;
            (answer.status == 200).then_some(Ok(()))
        });
        match ready {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                bail!("{error}:\n{}", toolkit::command::last_lines(&stderr, 20));
            }
            None => bail!("prometheus not ready on {address} within {READY_WITHIN:?}"),
        }
        Ok(Self {
            address,
            child,
            job: job.to_owned(),
            _process: process,
            _data: data,
        })
    }

    /// The answer to an instant PromQL query: every series and its value.
    pub fn query(&self, promql: &str) -> Result<Vec<Series>> {
        let answer = http_get_query(self.address, "/api/v1/query", &[("query", promql)])?;
        let body: Value = serde_json::from_str(&answer.body)
            .with_context(|| format!("{promql}: not JSON: {}", answer.body))?;
        ensure!(body["status"] == "success", "{promql}: {}", answer.body);
        let series = body["data"]["result"].as_array().context("no result")?;
        series
            .iter()
            .map(|one| {
                let labels = one["metric"]
                    .as_object()
                    .context("no labels")?
                    .iter()
                    .map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_owned()))
                    .collect();
                let value = one["value"][1].as_str().context("no value")?.parse()?;
                Ok((labels, value))
            })
            .collect()
    }

    /// The value of a query that answers exactly one series.
    pub fn value(&self, promql: &str) -> Result<f64> {
        match &self.query(promql)?[..] {
            [(_, value)] => Ok(*value),
            other => bail!("{promql}: {} series, not one: {other:?}", other.len()),
        }
    }

    /// Waits until the target has been scraped after `after`: what it
    /// counted by then is what the queries answer.
    pub fn wait_scraped_after(&self, after: SystemTime) -> Result<()> {
        let after = after.duration_since(UNIX_EPOCH)?.as_secs_f64();
        let last_scrape = format!("timestamp(up{{job=\"{}\"}} == 1)", self.job);
        toolkit::wait_for(READY_WITHIN, || {
            (self.value(&last_scrape).ok()? > after).then_some(())
        })
        .with_context(|| {
            format!(
                "no successful scrape of {} within {READY_WITHIN:?}",
                self.job
            )
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on an OpenMetrics exposition: its problems, if
/// any (an empty string when it passes).
///
/// promtool reads only Prometheus's classic text format, where a counter's
/// HELP and TYPE name its `_total` samples (OpenMetrics names the family
/// without the suffix, so promtool 2.42 finds "no help text" for every
/// counter). The text goes through the Prometheus project's Python client
/// first (Debian's python3-prometheus-client): its OpenMetrics parser, which
/// also refuses malformed input, then its classic-format writer.
pub fn promtool_problems(openmetrics: &str) -> Result<String> {
    const CONVERT: &str = "import sys
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
class Parsed:
    def __init__(self, families): self.families = families
    def collect(self): return self.families
families = list(text_string_to_metric_families(sys.stdin.read()))
sys.stdout.buffer.write(generate_latest(Parsed(families)))";
    // Debian's own Python: the package is installed for it, not for a
    // python3 from elsewhere earlier on PATH.
    let classic = piped(
        Cmd::new("/usr/bin/python3").args(["-c", CONVERT]),
        openmetrics,
        "apt-get install python3-prometheus-client (.ci/run does)",
    )?;
    ensure!(
        classic.status.success(),
        "the conversion failed: {}",
        classic.stderr
    );
    let checked = piped(
        Cmd::new("promtool").args(["check", "metrics"]),
        &classic.stdout,
        "apt-get install prometheus (.ci/run does)",
    )?;
    Ok(format!("{}{}", checked.stdout, checked.stderr)
        .trim()
        .to_owned())
}

struct Piped {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with `input` on its stdin.
fn piped(cmd: Cmd, input: &str, install: &str) -> Result<Piped> {
    let program = cmd.shown();
    let mut child = cmd
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(toolkit::launch_error(&program, install))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(Piped {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// What `histogram_quantile(q, ...)` answers for cumulative `buckets`
/// (upper bound, count; the last one `+Inf`): Prometheus's own linear
/// interpolation within the bucket the rank falls in, so that a test can
/// hold its answer to the endpoint's buckets.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let (_, total) = *buckets.last()?;
    let rank = q * total;
    let at = buckets.iter().position(|&(_, count)| count >= rank)?;
    if at == buckets.len() - 1 {
        return Some(buckets[at.checked_sub(1)?].0);
    }
    let (end, count) = buckets[at];
    let (start, below) = match at {
        0 if end <= 0.0 => return Some(end),
        0 => (0.0, 0.0),
        _ => buckets[at - 1],
    };
    Some(start + (end - start) * ((rank - below) / (count - below)))
}
