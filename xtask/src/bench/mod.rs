//! `cargo xtask bench`: this service and its image measured side by side
//! with the Flask original (under Flask's own server and under gunicorn)
//! and a bare actix-web server, in one run.
//!
//! Every peer runs on this machine, on 127.0.0.1 only; wrk is the load
//! generator. Runs alternate between the peers (A B C, A B C, ...) and every
//! figure is a median over them, so a drift of the machine hits everyone
//! alike. Every process started here is killed on the way out, also on an
//! error or Ctrl-C (see [`toolkit::cleanup`]).

mod callgrind;
mod flood;
mod image;
mod markdown;
mod peers;
mod procfs;
mod setup;
mod wrk;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use self::peers::{Kind, PEERS, Peer, Peers, peer};
use self::wrk::{Errors, Measurement, Wrk};

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Fewer and shorter runs (under a minute once built); skips the image
    /// figures and the container peer unless --image is given. Writes
    /// target/bench/benchmarks-quick.md unless --output says otherwise.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON object on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Where to write the Markdown report [default: docs/benchmarks.md; with
    /// --quick: target/bench/benchmarks-quick.md].
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Rounds of load runs over all peers [default: 3; quick: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=20))]
    pub rounds: Option<u64>,
    /// Seconds of each load run [default: 8; quick: 1].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=60))]
    pub duration: Option<u64>,
    /// Use this image for the container peer and the image figures instead
    /// of building one (the build-time figures are then skipped).
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Leave Docker out: no container peer, no image figures.
    #[arg(long, conflicts_with = "image")]
    pub no_image: bool,
}

/// How much to measure.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub mode: &'static str,
    /// Seconds of each load run.
    pub load_seconds: u64,
    /// Load runs per peer and configuration.
    pub rounds: usize,
    /// Starts per peer (first 200, idle memory, idle SIGTERM).
    pub start_trials: usize,
    /// SIGTERM-under-load trials per peer.
    pub sigterm_trials: usize,
    /// When the SIGTERM goes, after wrk started.
    pub signal_after_ms: u64,
    /// Idle time between the first 200 and the idle-memory reading.
    pub idle_settle_ms: u64,
    /// Container starts for start → healthy and `docker stop`.
    pub image_trials: usize,
    /// Warm rebuilds (each after a different one-line change).
    pub warm_builds: usize,
    /// Requests of the two callgrind runs.
    pub callgrind_requests: [u64; 2],
    /// Rounds of back-to-back runs of the service, the bare server, a
    /// second bare server (the control) and the service without request lines.
    pub paired_runs: usize,
    /// Seconds of each of those runs.
    pub paired_seconds: u64,
    /// Seconds of the flood of clients that never read.
    pub flood_seconds: u64,
    /// Those clients.
    pub flood_clients: usize,
}

impl Plan {
    fn new(args: &Args) -> Self {
        let quick = args.quick;
        let pick = |quick_value: usize, full| if quick { quick_value } else { full };
        Plan {
            mode: if quick { "quick" } else { "full" },
            load_seconds: args.duration.unwrap_or(if quick { 1 } else { 8 }),
            rounds: args.rounds.map_or(pick(1, 3), |n| n as usize),
            start_trials: pick(2, 5),
            sigterm_trials: pick(1, 3),
            signal_after_ms: if quick { 700 } else { 1500 },
            idle_settle_ms: 500,
            image_trials: pick(1, 3),
            warm_builds: pick(1, 2),
            callgrind_requests: callgrind::REQUESTS,
            // Many short runs rather than a few long ones: the machine's
            // drift does not average out over seconds, so a ratio of two
            // runs varies about as much at 4 s as at 1 s (standard
            // deviations of the ratios: 0.10 at 1 s against 0.06 at 4 s on
            // one 2-core machine; 0.14 at 1 s, 0.12 at 2 s on another), and
            // in the same minutes 1 s runs narrow the median's interval the
            // most. 120 rounds of four runs take about 8 minutes.
            paired_runs: pick(2, 120),
            paired_seconds: 1,
            flood_seconds: if quick { 2 } else { 10 },
            flood_clients: flood::CLIENTS,
        }
    }
}

/// Bounds of every wait on a peer.
const FIRST_200_LIMIT: Duration = Duration::from_secs(20);
const EXIT_LIMIT: Duration = Duration::from_secs(15);
/// How long the load goes on after a SIGTERM, at most.
const SIGTERM_LOAD_LIMIT: Duration = Duration::from_secs(10);

/// The load configurations: path × connections, and what each load run gives.
const PATHS: [(&str, &str); 2] = [("/health", "health"), ("/", "index")];
const CONNECTIONS: [u32; 2] = [16, 256];
const LOAD_FIGURES: [(&str, &str, &str); 3] = [
    ("rps", "requests/s", "req/s"),
    ("p50", "p50 latency", "ms"),
    ("p99", "p99 latency", "ms"),
];

/// The other figures: id, title, unit, and how it is measured, with the
/// plan's fields in `{{ }}`.
const FIGURES: [(&str, &str, &str, &str); 13] = [
    (
        "health_c16_rps_paired",
        "GET /health, 16 connections: requests/s ÷ the bare server's in the same round, paired runs \
         (the bare actix-web row: a second bare server, the control)",
        "×",
        "{{ paired_runs }} rounds of `wrk -t1 -c16 -d{{ paired_seconds }}s` on GET /health: the \
         service (host), the bare actix-web server, a second bare server and the service with \
         `RUST_LOG=warn` back to back (in each of four orders in turn, a balanced Latin square); \
         each round's ratio of the service's requests/s to the bare \
         server's, and, as the control, the second bare server's to the first's (the bare \
         actix-web row: what the machine's drift alone makes of two equal servers); the median \
         of the ratios, with its 95 % interval",
    ),
    (
        "health_c16_rps_paired_lines_off",
        "GET /health, 16 connections, request lines off (`RUST_LOG=warn`): requests/s ÷ the bare \
         server's in the same round, paired runs",
        "×",
        "in the rounds above, the service started with `RUST_LOG=warn` (no line per request, \
         everything else as it is): each round's ratio of its requests/s to the bare server's; \
         the median, with its 95 % interval. Its difference with the row above is what a request \
         line costs",
    ),
    (
        "rss_idle",
        "Memory when idle (RSS, all processes)",
        "MB",
        "VmRSS summed over the peer's process tree, {{ idle_settle_ms }} ms after its first 200; \
         median of {{ start_trials }} starts",
    ),
    (
        "rss_load_peak",
        "Memory under load, peak (RSS, all processes)",
        "MB",
        "the same sum read every 50 ms during each load run; median over rounds of each round's peak",
    ),
    (
        "rss_after_load",
        "Memory right after load (RSS, all processes)",
        "MB",
        "the same sum read as each load run ends; median over rounds of each round's largest reading",
    ),
    (
        "start_to_200",
        "Start → first 200 on /health",
        "ms",
        "from just before the start command to the first 200, polling with a new connection every \
         0.5 ms; median of {{ start_trials }} starts",
    ),
    (
        "sigterm_idle",
        "SIGTERM → exit, idle",
        "ms",
        "SIGTERM to the peer's first process (as `docker stop` sends it) until that process is gone, \
         polled every 0.2 ms; median of {{ start_trials }} starts",
    ),
    (
        "sigterm_load",
        "SIGTERM → exit, under load",
        "ms",
        "the same, sent {{ signal_after_ms }} ms into a wrk run of 16 connections on /health (with \
         bench/wrk/count.lua); median of {{ sigterm_trials }} trials",
    ),
    (
        "sigterm_load_failed",
        "Requests failed around SIGTERM under load",
        "requests",
        "requests that went out on a connection and got no answer (count.lua's sent − answered − \
         wrk's write errors, which are the connections refused once the listener closed), plus \
         answers that were not 2xx/3xx; all trials together",
    ),
    (
        "flood_memory_peak",
        "Memory with clients that never read (RSS, peak)",
        "MB",
        "{{ flood_clients }} keep-alive connections send GET /health pipelined, 1,000 to a write, \
         for {{ flood_seconds }} s and never read an answer (connecting again when closed); VmRSS \
         of the peer's processes read every 50 ms, the peak",
    ),
    (
        "flood_probe_slowest",
        "Slowest GET /health of another client during that flood",
        "ms",
        "a GET /health on a new connection every 100 ms or so during the flood (2 s timeout, which a \
         probe that got no answer counts as); the slowest",
    ),
    (
        "instructions_health",
        "Instructions per GET /health (callgrind)",
        "instructions",
        "user-space instructions of the whole process (every thread) under `valgrind \
         --tool=callgrind`, `WORKERS=1`, log to /dev/null: {{ callgrind_requests[0] }} and then \
         {{ callgrind_requests[1] }} keep-alive requests on one connection (ureq's: Host, \
         User-Agent and Accept headers), the difference of the two totals divided by the difference \
         of the counts, so that start-up and shutdown cancel out; deterministic, so one run each",
    ),
    (
        "instructions_health_metrics_off",
        "Instructions per GET /health with `METRICS_PORT=off` (callgrind)",
        "instructions",
        "as above, the service run with `METRICS_PORT=off`: no metrics recorded, no metrics port; \
         the difference with the row above is what the metrics cost a request",
    ),
];

/// One figure for every peer: the median of its samples.
#[derive(Debug, Serialize)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub unit: &'static str,
    /// `higher` (throughput) or `lower` (everything else).
    pub better: &'static str,
    /// A count of events (in requests), where 0 is a valid (and the best) value.
    pub count: bool,
    /// How it is measured, in one sentence.
    pub method: String,
    /// Peer id → median (for counts: the total).
    pub values: BTreeMap<&'static str, f64>,
    pub samples: BTreeMap<&'static str, Vec<f64>>,
    /// Peer id → the median's 95 % interval, where there are enough samples.
    pub interval: BTreeMap<&'static str, [f64; 2]>,
}

fn figure(id: String, title: String, unit: &'static str, method: String) -> Figure {
    Figure {
        id,
        title,
        unit,
        better: if matches!(unit, "req/s" | "×") {
            "higher"
        } else {
            "lower"
        },
        count: unit == "requests",
        method,
        values: BTreeMap::new(),
        samples: BTreeMap::new(),
        interval: BTreeMap::new(),
    }
}

fn define_figures(plan: &Plan) -> Vec<Figure> {
    let mut figures = Vec::new();
    for (path, key) in PATHS {
        for connections in CONNECTIONS {
            for (what, title, unit) in LOAD_FIGURES {
                figures.push(figure(
                    format!("{key}_c{connections}_{what}"),
                    format!("GET {path}, {connections} connections: {title}"),
                    unit,
                    format!(
                        "`wrk -t1 -c{connections} -d{}s --latency`, GET {path}; median over {} round(s)",
                        plan.load_seconds, plan.rounds
                    ),
                ));
            }
        }
    }
    let env = minijinja::Environment::new();
    for (id, title, unit, method) in FIGURES {
        let method = env.render_str(method, plan).expect("a valid template");
        figures.push(figure(id.into(), title.into(), unit, method));
    }
    figures
}

pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The median's 95 % confidence interval, distribution-free: the order
/// statistics of ranks n/2 − 0.98√n and n/2 + 1 + 0.98√n, rounded outwards
/// (the binomial's normal approximation), for 10 samples or more (fewer
/// give no useful interval).
pub fn median_interval(samples: &[f64]) -> Option<[f64; 2]> {
    let n = samples.len();
    if n < 10 {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let half_width = 0.98 * (n as f64).sqrt();
    // 1-based ranks, as the textbooks give them.
    let low = ((n as f64 / 2.0 - half_width).floor() as usize).max(1);
    let high = ((n as f64 / 2.0 + 1.0 + half_width).ceil() as usize).min(n);
    Some([sorted[low - 1], sorted[high - 1]])
}

/// What one SIGTERM-under-load trial saw.
#[derive(Debug, Serialize)]
pub struct ShutdownTrial {
    pub peer: &'static str,
    /// `None`: still running long after the signal (then killed).
    pub exit_ms: Option<f64>,
    /// Whether the peer exited while wrk was still sending (else wrk was
    /// stopped first, `SIGTERM_LOAD_LIMIT` after the signal).
    pub exited_under_load: bool,
    /// Requests wrk handed to a connection, and the answers it got.
    pub sent: u64,
    pub answered: u64,
    /// Requests whose write failed: the connection was refused once the
    /// listener had closed. Never accepted, so not failures.
    pub refused: u64,
    /// Requests that went out on a connection and got no answer.
    pub lost: u64,
    /// In flight when wrk itself was stopped (only when the peer outlived
    /// the load); not counted in `lost`.
    pub abandoned_by_wrk: u64,
    /// Answers that were not 2xx or 3xx.
    pub not_ok: u64,
    /// `lost + not_ok`.
    pub failed: u64,
    pub errors: Errors,
}

/// One load run, as wrk reported it.
#[derive(Debug, Serialize)]
pub struct LoadRun {
    pub peer: &'static str,
    pub path: &'static str,
    pub connections: u32,
    pub round: usize,
    pub outcome: Measurement,
    pub rss_peak_mb: f64,
    pub rss_after_mb: f64,
}

/// Everything one run measured; printed as JSON and Markdown.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub mode: &'static str,
    pub date: String,
    pub elapsed_s: f64,
    pub machine: setup::Machine,
    pub plan: Plan,
    pub peers: Vec<PeerInfo>,
    pub figures: Vec<Figure>,
    pub shutdown_trials: Vec<ShutdownTrial>,
    pub load_runs: Vec<LoadRun>,
    pub image: Option<image::ImageReport>,
    pub targets: Vec<markdown::Goal>,
    /// The commands behind the figures, as a user would type them.
    pub commands: Vec<String>,
    /// What this run left out, and why.
    pub skipped: Vec<String>,
    /// Anything unusual seen on the way.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PeerInfo {
    #[serde(flatten)]
    pub peer: &'static Peer,
    pub command: String,
}

impl Report {
    /// Adds a sample of figure `id` for `peer`.
    fn add(&mut self, id: &str, peer: &Peer, value: f64) {
        let figure = self.figures.iter_mut().find(|f| f.id == id);
        let figure = figure.unwrap_or_else(|| panic!("figure {id} is not defined"));
        figure.samples.entry(peer.id).or_default().push(value);
    }

    /// The median (for counts: the total) of figure `id` for peer `peer`.
    pub fn value(&self, id: &str, peer: &str) -> Option<f64> {
        let figure = self.figures.iter().find(|f| f.id == id)?;
        figure.values.get(peer).copied()
    }
}

/// Docker's MB (and ours): 10^6 bytes.
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Progress on stderr, stamped with the time since the run began.
struct Progress(Instant);

impl Progress {
    fn say(&self, message: impl std::fmt::Display) {
        eprintln!("[{:>6.1}s] {message}", self.0.elapsed().as_secs_f64());
    }
}

/// The peer's first answer, memory when idle, and SIGTERM → exit when idle.
fn start_trial(peers: &Peers, peer: &'static Peer, report: &mut Report) -> Result<()> {
    let mut instance = peers.start(peer)?;
    let first = instance.wait_first_200(FIRST_200_LIMIT)?;
    thread::sleep(Duration::from_millis(report.plan.idle_settle_ms));
    let rss = instance.rss();
    let exit = instance.wait_exit(instance.terminate()?, EXIT_LIMIT);
    report.add("start_to_200", peer, millis(first));
    report.add("rss_idle", peer, megabytes(rss));
    if exit.is_none() {
        report.notes.push(format!(
            "{}: still running {EXIT_LIMIT:?} after an idle SIGTERM (killed)",
            peer.name
        ));
    }
    report.add("sigterm_idle", peer, millis(exit.unwrap_or(EXIT_LIMIT)));
    Ok(())
}

/// Every load configuration, for every peer in turn, `rounds` times.
fn load_runs(
    peers: &Peers,
    list: &[&'static Peer],
    report: &mut Report,
    progress: &Progress,
) -> Result<()> {
    let mut instances = Vec::new();
    for &peer in list {
        let instance = peers.start(peer)?;
        instance.wait_first_200(FIRST_200_LIMIT)?;
        instances.push(instance);
    }
    let (rounds, seconds) = (report.plan.rounds, report.plan.load_seconds);
    let configurations = PATHS.map(|(path, key)| CONNECTIONS.map(|c| (path, key, c)));
    let configurations = configurations.into_iter().flatten();
    let load_wrk = |path, connections| Wrk {
        path,
        connections,
        seconds,
        count: false,
    };
    for round in 1..=rounds {
        // Per peer: the largest reading of the round, during and after load.
        let mut peak = vec![0; instances.len()];
        let mut after = vec![0; instances.len()];
        for (path, key, connections) in configurations.clone() {
            for (i, instance) in instances.iter().enumerate() {
                let peer = instance.peer;
                let wrk = load_wrk(path, connections);
                let (outcome, run_peak) =
                    procfs::peak_rss(instance.processes(), || wrk.run(instance.port, &peers.root));
                let outcome = answered(outcome, &wrk, peer)?;
                let run_after = instance.rss();
                peak[i] = peak[i].max(run_peak.max(run_after));
                after[i] = after[i].max(run_after);
                let e = outcome.errors;
                let trouble = e.connect + e.read + e.write + e.timeout + outcome.non_2xx;
                let p50 = outcome.p50_ms.unwrap_or(f64::NAN);
                let p99 = outcome.p99_ms.unwrap_or(f64::NAN);
                progress.say(format!(
                    "round {round}/{rounds}  GET {path:<7} c{connections:<3}  {:<17} {:>9.0} req/s  p50 {p50:>8.3} ms  p99 {p99:>8.3} ms{}",
                    peer.name,
                    outcome.requests_per_s,
                    if trouble > 0 { format!("  ({trouble} errors)") } else { String::new() }
                ));
                for (what, value) in [("rps", outcome.requests_per_s), ("p50", p50), ("p99", p99)] {
                    report.add(&format!("{key}_c{connections}_{what}"), peer, value);
                }
                report.load_runs.push(LoadRun {
                    peer: peer.id,
                    path,
                    connections,
                    round,
                    outcome,
                    rss_peak_mb: megabytes(run_peak),
                    rss_after_mb: megabytes(run_after),
                });
            }
        }
        for (i, instance) in instances.iter().enumerate() {
            report.add("rss_load_peak", instance.peer, megabytes(peak[i]));
            report.add("rss_after_load", instance.peer, megabytes(after[i]));
        }
    }
    let commands = configurations.map(|(path, _, connections)| load_wrk(path, connections).shown());
    report.commands.extend(commands);
    Ok(())
}

/// A load run's outcome, named after its command and peer when it failed;
/// a run that got no answer at all is an error too.
fn answered(outcome: Result<Measurement>, wrk: &Wrk, peer: &Peer) -> Result<Measurement> {
    let outcome = outcome.with_context(|| format!("{} on {}", wrk.shown(), peer.name))?;
    if outcome.requests == 0 {
        bail!("{} answered no request to `{}`", peer.name, wrk.shown());
    }
    Ok(outcome)
}

/// The orders of a round's four runs, taken in turn (a balanced Latin
/// square): each server runs first, second, third and last equally often,
/// and right after each other server once, so that whatever a place in the
/// round favours cancels out. (With the bare server always in the middle,
/// the control, two equal servers, came out at 1.016x in a full run.)
const ORDERS: [[usize; 4]; 4] = [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]];

/// The service with its request lines off: `warn` leaves out the `info`
/// lines, so that the paired runs show what a line per request costs.
const REQUEST_LINES_OFF: (&str, &str) = ("RUST_LOG", "warn");

/// The service and the bare server on `GET /health`, 16 connections, in
/// rounds of runs back to back (in each of the [`ORDERS`] in turn); each
/// round's ratio of requests/s. The machine drifts by ±10 % between runs
/// seconds apart; the runs of a round drift alike. A second bare server
/// runs in every round too, the control: its ratio to the first is what the
/// machine alone makes of a ratio of two equal servers. So does the service
/// with its request lines off, for what they cost.
fn paired_runs(peers: &Peers, report: &mut Report, progress: &Progress) -> Result<()> {
    let (service, bare) = (peer(Kind::Service), peer(Kind::BareActix));
    let instances = [
        peers.start(service)?,
        peers.start(bare)?,
        peers.start(bare)?,
        peers.start_with(service, &[REQUEST_LINES_OFF])?,
    ];
    for instance in &instances {
        instance.wait_first_200(FIRST_200_LIMIT)?;
    }
    let (runs, seconds) = (report.plan.paired_runs, report.plan.paired_seconds);
    let wrk = Wrk {
        path: "/health",
        connections: 16,
        seconds,
        count: false,
    };
    for run in 0..runs {
        let mut rps = [0.0; 4];
        for i in ORDERS[run % ORDERS.len()] {
            let instance = &instances[i];
            let outcome = wrk.run(instance.port, &peers.root);
            rps[i] = answered(outcome, &wrk, instance.peer)?.requests_per_s;
        }
        let [vs_bare, control, lines_off] = [rps[0], rps[2], rps[3]].map(|r| r / rps[1]);
        progress.say(format!(
            "round {}/{runs}  GET /health c16  service {:.0}, bare {:.0}, second bare {:.0}, \
             service without request lines {:.0} req/s: {vs_bare:.3}, control {control:.3}, \
             without request lines {lines_off:.3}",
            run + 1,
            rps[0],
            rps[1],
            rps[2],
            rps[3]
        ));
        report.add("health_c16_rps_paired", service, vs_bare);
        report.add("health_c16_rps_paired", bare, control);
        report.add("health_c16_rps_paired_lines_off", service, lines_off);
    }
    let (name, value) = REQUEST_LINES_OFF;
    report.commands.push(format!(
        "{}   # {runs} rounds: the service, the bare server, a second bare server and the service \
         with {name}={value} back to back (in each of four orders in turn)",
        wrk.shown()
    ));
    Ok(())
}

/// SIGTERM in the middle of a wrk run: how long to exit, and what failed.
fn sigterm_under_load(
    peers: &Peers,
    peer: &'static Peer,
    report: &mut Report,
    progress: &Progress,
) -> Result<()> {
    let plan = &report.plan;
    let mut instance = peers.start(peer)?;
    instance.wait_first_200(FIRST_200_LIMIT)?;
    let wrk = sigterm_wrk(plan);
    let mut running = wrk.spawn(instance.port, &peers.root)?;
    thread::sleep(Duration::from_millis(plan.signal_after_ms));
    let signalled = instance.terminate()?;
    let mut exit = instance.wait_exit(signalled, SIGTERM_LOAD_LIMIT);
    let exited_under_load = exit.is_some() && running.is_running();
    running.interrupt();
    let limit = SIGTERM_LOAD_LIMIT + Duration::from_secs(5);
    if exit.is_none() {
        // The load ends now; a peer waiting for its clients to leave exits.
        exit = instance.wait_exit(signalled, limit);
    }
    drop(instance);
    let outcome = running
        .finish()
        .with_context(|| format!("{} on {}", wrk.shown(), peer.name))?;
    let counts = outcome
        .counts
        .context("bench/wrk/count.lua printed no counts")?;
    let errors = outcome.errors;
    let unanswered = counts.sent.saturating_sub(counts.answered + errors.write);
    let abandoned_by_wrk = if exited_under_load {
        0
    } else {
        unanswered.min(u64::from(wrk.connections))
    };
    let lost = unanswered - abandoned_by_wrk;
    let exit_ms = exit.map(millis);
    progress.say(format!(
        "SIGTERM under load  {:<17} exit {}  sent {}  answered {}  refused {}  lost {lost}  not-ok {}{}",
        peer.name,
        exit_ms.map_or_else(|| "none (killed)".to_owned(), |ms| format!("{ms:.1} ms")),
        counts.sent,
        counts.answered,
        errors.write,
        counts.not_ok,
        if exited_under_load { "" } else { "  (exited only once wrk stopped)" }
    ));
    if exit.is_none() {
        report.notes.push(format!(
            "{}: still running {limit:?} after a SIGTERM under load (killed)",
            peer.name
        ));
    }
    report.add("sigterm_load", peer, millis(exit.unwrap_or(limit)));
    report.add("sigterm_load_failed", peer, (lost + counts.not_ok) as f64);
    report.shutdown_trials.push(ShutdownTrial {
        peer: peer.id,
        exit_ms,
        exited_under_load,
        sent: counts.sent,
        answered: counts.answered,
        refused: errors.write,
        lost,
        abandoned_by_wrk,
        not_ok: counts.not_ok,
        failed: lost + counts.not_ok,
        errors,
    });
    Ok(())
}

/// `trials` times, each peer in turn.
fn alternate(
    trials: usize,
    list: &[&'static Peer],
    what: &str,
    mut trial: impl FnMut(&'static Peer) -> Result<()>,
) -> Result<()> {
    for k in 1..=trials {
        for &peer in list {
            trial(peer).with_context(|| format!("{what} {k} of {}", peer.name))?;
        }
    }
    Ok(())
}

/// The wrk run of a SIGTERM-under-load trial: long enough never to end by
/// itself (it is stopped with SIGINT once the peer has exited).
fn sigterm_wrk(plan: &Plan) -> Wrk {
    Wrk {
        path: "/health",
        connections: 16,
        seconds: plan.signal_after_ms.div_ceil(1000) + SIGTERM_LOAD_LIMIT.as_secs() + 10,
        count: true,
    }
}

pub fn run(args: &Args) -> Result<()> {
    let progress = Progress(Instant::now());
    let root = crate::project_root();
    let wrk_version = wrk::version()?;
    let output_path = args.output.clone().unwrap_or_else(|| {
        root.join(match args.quick {
            true => "target/bench/benchmarks-quick.md",
            false => "docs/benchmarks.md",
        })
    });
    let logs = root.join("target/bench/logs");
    std::fs::create_dir_all(&logs)?;

    let use_docker = !args.no_image && (!args.quick || args.image.is_some());
    let skipped = if args.no_image {
        Some("the container peer and every image figure: --no-image")
    } else if !use_docker {
        Some(
            "the container peer and every image figure: skipped in quick mode (run `cargo xtask bench` for them, \
             or pass --image REF)",
        )
    } else {
        None
    };
    let docker_engine = use_docker
        .then(toolkit::engine::ensure_engine)
        .transpose()?;
    let machine = setup::machine(wrk_version, docker_engine);

    progress.say("building the Rust peers and installing the Python ones");
    let release_dir = setup::build_release(&root)?;
    let service_binary = setup::service_binary(&root)?;
    let venv = setup::python_venv(&root)?;
    let plan = Plan::new(args);
    let mut report = Report {
        tool: "cargo xtask bench",
        mode: plan.mode,
        machine,
        figures: define_figures(&plan),
        plan,
        commands: setup::preparation(&root),
        skipped: skipped.into_iter().map(str::to_owned).collect(),
        ..Report::default()
    };

    // Image builds first: nothing else runs while they do, and the container
    // peer needs their image.
    let mut builds = None;
    let image_ref = if !use_docker {
        None
    } else if let Some(reference) = &args.image {
        toolkit::engine::inspect_image(reference)?;
        let why = format!("image build times: --image {reference} was given");
        report.skipped.push(why);
        Some(reference.clone())
    } else {
        progress.say("building the images (cold, warm, naive)");
        let built = builds.insert(image::build_all(&root, &progress, &mut report)?);
        Some(built.image.reference.clone())
    };

    let peers = Peers {
        root,
        release_dir,
        service_binary,
        venv,
        image: image_ref.clone(),
        logs,
    };
    let list: Vec<&Peer> = PEERS
        .iter()
        .filter(|p| p.kind != Kind::Image || image_ref.is_some())
        .collect();
    let plan = report.plan.clone();

    progress.say(format!(
        "{} starts of each peer: first 200, idle memory, idle SIGTERM",
        plan.start_trials
    ));
    alternate(plan.start_trials, &list, "start trial", |peer| {
        start_trial(&peers, peer, &mut report)
    })?;
    progress.say(format!(
        "load: {} round(s) of {} runs of {} s, peers alternating",
        plan.rounds,
        PATHS.len() * CONNECTIONS.len() * list.len(),
        plan.load_seconds
    ));
    load_runs(&peers, &list, &mut report, &progress)?;
    progress.say(format!(
        "{} rounds of {} s runs: the service, the bare server, a second bare server and the service \
         without request lines back to back",
        plan.paired_runs, plan.paired_seconds
    ));
    paired_runs(&peers, &mut report, &progress)?;
    progress.say(format!(
        "{} SIGTERM-under-load trial(s) per peer",
        plan.sigterm_trials
    ));
    alternate(
        plan.sigterm_trials,
        &list,
        "SIGTERM-under-load trial",
        |peer| sigterm_under_load(&peers, peer, &mut report, &progress),
    )?;
    report.commands.push(format!(
        "{}   # SIGTERM to the peer {} ms in; SIGINT to wrk once the peer has exited",
        sigterm_wrk(&plan).shown(),
        plan.signal_after_ms
    ));
    let rust_peers = || {
        list.iter()
            .filter(|p| matches!(p.kind, Kind::Service | Kind::BareActix))
    };
    progress.say(format!(
        "{} clients that never read, for {} s, on each Rust peer",
        plan.flood_clients, plan.flood_seconds
    ));
    for &peer in rust_peers() {
        let instance = peers.start(peer)?;
        instance.wait_first_200(FIRST_200_LIMIT)?;
        let flooded = flood::run(instance.port, instance.processes(), plan.flood_seconds);
        progress.say(format!(
            "flood  {:<17} peak RSS {:.1} MB, slowest probe {:.1} ms",
            peer.name,
            megabytes(flooded.peak_rss),
            millis(flooded.slowest_probe)
        ));
        report.add("flood_memory_peak", peer, megabytes(flooded.peak_rss));
        report.add("flood_probe_slowest", peer, millis(flooded.slowest_probe));
    }
    progress.say("callgrind: instructions per GET /health of the Rust peers");
    // The service twice: also with `METRICS_PORT=off`, for the metrics' own cost.
    let counted = rust_peers()
        .map(|&peer| (peer, "instructions_health", "0"))
        .chain([(
            peer(Kind::Service),
            "instructions_health_metrics_off",
            "off",
        )]);
    for (peer, id, metrics_port) in counted {
        let program = peers.rust_program(peer.kind);
        // Shown as the peers' own commands are: from the repository's root.
        let shown = program.strip_prefix(&peers.root).unwrap_or(&program);
        let count = callgrind::instructions_per_request(&program, metrics_port)
            .with_context(|| format!("callgrind of {}", peer.name))?;
        progress.say(format!(
            "callgrind  {:<17} {count:>9.0} instructions per request (METRICS_PORT={metrics_port})",
            peer.name
        ));
        report.add(id, peer, count);
        let [fewer, more] = callgrind::REQUESTS;
        report.commands.push(format!(
            "{}   # {fewer}, then {more} keep-alive GET /health",
            callgrind::command(shown, "$PORT", metrics_port).shown()
        ));
    }
    for figure in &mut report.figures {
        for (&peer, samples) in &figure.samples {
            let value = if figure.count {
                samples.iter().sum()
            } else {
                median(samples)
            };
            figure.values.insert(peer, value);
            if let Some(interval) = median_interval(samples) {
                figure.interval.insert(peer, interval);
            }
        }
    }

    if let Some(reference) = &image_ref {
        progress.say("image: size, start → healthy, docker stop");
        report.image = Some(image::runtime(reference, builds.as_ref(), &mut report)?);
    }
    // The image built here has a one-off tag; the report shows the plain name.
    let transient = builds.as_ref().map(|b| b.image.reference.clone());
    if let Some(built) = builds {
        built.finish();
    }
    report.peers = list
        .iter()
        .map(|&peer| {
            let command = peers.shown_command(peer);
            let command = match &transient {
                Some(tag) => command.replace(tag, "image-lab-bench"),
                None => command,
            };
            PeerInfo { peer, command }
        })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let (date, hour, minute) = (now.date(), now.hour(), now.minute());
    report.date = format!("{date} {hour:02}:{minute:02} UTC");
    report.targets = markdown::targets(&report);
    report.elapsed_s = progress.0.elapsed().as_secs_f64();

    let (markdown, summary) = markdown::render(&serde_json::to_value(&report)?)?;
    if let Some(parent) = output_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&output_path, markdown)
        .with_context(|| format!("cannot write {}", output_path.display()))?;
    progress.say(format!("wrote {}", output_path.display()));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_medians_interval_is_the_order_statistics_around_the_middle() {
        let samples: Vec<f64> = (1..=30).rev().map(f64::from).collect();
        assert_eq!(median(&samples), 15.5);
        // Ranks 15 − 0.98·√30 and 16 + 0.98·√30 (9.6 and 21.4), rounded
        // outwards: the 9th and the 22nd.
        assert_eq!(median_interval(&samples), Some([9.0, 22.0]));
        assert_eq!(median_interval(&samples[..9]), None);
    }
}
