//! The report: Markdown (docs/benchmarks.md), the headline table printed on
//! stdout, and the targets.

use std::fmt::Write as _;

use serde::Serialize;

use super::peers::PeerId;
use super::{Figure, Report};

/// One target of issue 5: reported, never asserted.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub target: String,
    pub goal: String,
    pub measured: String,
    pub value: Option<f64>,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
}

/// 3 significant digits, no exponent.
pub fn sig3(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let magnitude = value.abs();
    if magnitude >= 100.0 || magnitude == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// A value in its figure's unit, for a table cell.
pub fn cell(value: f64, unit: &str) -> String {
    match unit {
        "req/s" if value >= 10_000.0 => format!("{:.1}k", value / 1000.0),
        "req/s" if value >= 1000.0 => format!("{:.2}k", value / 1000.0),
        "req/s" | "requests" => format!("{value:.0}"),
        "MB" => format!("{value:.1}"),
        _ => sig3(value),
    }
}

/// A duration in milliseconds, in words: `3.1 ms`, `1.62 s`.
pub fn duration_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", sig3(ms / 1000.0))
    } else {
        format!("{} ms", sig3(ms))
    }
}

pub fn ratio(value: f64) -> String {
    if !value.is_finite() {
        "–".to_owned()
    } else if value >= 10.0 {
        format!("{value:.0}×")
    } else {
        format!("{value:.2}×")
    }
}

fn peers_of(report: &Report) -> Vec<PeerId> {
    PeerId::ALL
        .into_iter()
        .filter(|p| report.peers.iter().any(|info| info.id == p.key()))
        .collect()
}

fn value(report: &Report, id: &str, peer: PeerId) -> Option<f64> {
    report.figures.value(id, peer)
}

/// The targets of issue 5, for the service (and its image).
pub fn targets(report: &Report) -> Vec<Goal> {
    let service = |id: &str| value(report, id, PeerId::Service);
    let rps = |peer| value(report, "health_c16_rps", peer);
    let versus = |peer: PeerId| Some(rps(PeerId::Service)? / rps(peer)?);
    let image = report.image.as_ref();
    let not_measured = if report.mode == "quick" {
        "not measured (quick mode)"
    } else {
        "not measured"
    };
    let row = |target: &str,
               goal: &str,
               value: Option<f64>,
               shown: &dyn Fn(f64) -> String,
               met: &dyn Fn(f64) -> bool| {
        Goal {
            target: target.to_owned(),
            goal: goal.to_owned(),
            measured: value.map_or_else(|| not_measured.to_owned(), shown),
            value,
            met: value.map(met),
        }
    };
    vec![
        row(
            "GET /health req/s vs bare actix-web (16 conn.)",
            "≥ 0.9×",
            versus(PeerId::BareActix),
            &ratio,
            &|v| v >= 0.9,
        ),
        row(
            "GET /health req/s vs gunicorn (16 conn.)",
            "≥ 20×",
            versus(PeerId::Gunicorn),
            &ratio,
            &|v| v >= 20.0,
        ),
        row(
            "RSS under load (peak)",
            "≤ 10 MB",
            service("rss_load_peak"),
            &|v| format!("{v:.1} MB"),
            &|v| v <= 10.0,
        ),
        row(
            "start → first 200",
            "≤ 50 ms",
            service("start_to_200"),
            &duration_ms,
            &|v| v <= 50.0,
        ),
        row(
            "SIGTERM → exit, idle",
            "≤ 100 ms",
            service("sigterm_idle"),
            &duration_ms,
            &|v| v <= 100.0,
        ),
        row(
            "image size",
            "≤ 5 MB",
            image.map(|i| i.size_mb),
            &|v| format!("{v:.2} MB"),
            &|v| v <= 5.0,
        ),
        row(
            "warm rebuild (one source file changed)",
            "≤ 30 s",
            image.and_then(|i| i.build_warm_s),
            &|v| format!("{v:.1} s"),
            &|v| v <= 30.0,
        ),
    ]
}

fn met_word(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "–",
    }
}

fn targets_table(report: &Report) -> String {
    let mut out = String::from("| target (the service) | goal | measured | |\n|---|---|--:|---|\n");
    for t in &report.targets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            t.target,
            t.goal,
            t.measured,
            met_word(t.met)
        );
    }
    out
}

/// The table for the README: key figures of every peer.
fn headline_table(report: &Report) -> String {
    let peers = peers_of(report);
    let mut out = String::from("| |");
    for peer in &peers {
        let _ = write!(out, " {} |", peer.name());
    }
    out.push_str("\n|---|");
    out.push_str(&"--:|".repeat(peers.len()));
    out.push('\n');
    let get = |id: &str, peer: PeerId| value(report, id, peer).unwrap_or(f64::NAN);
    type Row<'a> = (&'a str, Box<dyn Fn(PeerId) -> String + 'a>);
    let rows: Vec<Row> = vec![
        (
            "GET /health req/s, 16 conn.",
            Box::new(|p| cell(get("health_c16_rps", p), "req/s")),
        ),
        (
            "GET /health p99, 16 conn.",
            Box::new(|p| duration_ms(get("health_c16_p99", p))),
        ),
        (
            "GET /health req/s, 256 conn.",
            Box::new(|p| cell(get("health_c256_rps", p), "req/s")),
        ),
        (
            "GET / req/s, 16 conn.",
            Box::new(|p| cell(get("index_c16_rps", p), "req/s")),
        ),
        (
            "RSS idle → peak under load",
            Box::new(|p| {
                format!(
                    "{:.1} → {:.1} MB",
                    get("rss_idle", p),
                    get("rss_load_peak", p)
                )
            }),
        ),
        (
            "start → first 200",
            Box::new(|p| duration_ms(get("start_to_200", p))),
        ),
        (
            "SIGTERM → exit, idle",
            Box::new(|p| duration_ms(get("sigterm_idle", p))),
        ),
        (
            "SIGTERM → exit, under load",
            Box::new(|p| duration_ms(get("sigterm_load", p))),
        ),
        (
            "failed requests at SIGTERM (all trials)",
            Box::new(|p| format!("{:.0}", get("sigterm_load_failed", p))),
        ),
    ];
    for (label, show) in rows {
        let _ = write!(out, "| {label} |");
        for &peer in &peers {
            let _ = write!(out, " {} |", show(peer));
        }
        out.push('\n');
    }
    out
}

fn headline_notes(report: &Report) -> String {
    let mut out = String::new();
    let rps = |peer| value(report, "health_c16_rps", peer);
    if let Some(service) = rps(PeerId::Service) {
        let others: Vec<String> = peers_of(report)
            .into_iter()
            .filter(|&p| p != PeerId::Service)
            .filter_map(|p| Some(format!("{} {}", ratio(service / rps(p)?), p.name())))
            .collect();
        let _ = writeln!(
            out,
            "GET /health throughput of the service (host) against the others: {}.",
            others.join(", ")
        );
    }
    match &report.image {
        Some(image) => {
            let mut parts = vec![format!("image {:.2} MB", image.size_mb)];
            if let Some(naive) = image.naive_size_mb {
                parts.push(format!(
                    "naive image {naive:.0} MB ({} larger)",
                    ratio(naive / image.size_mb)
                ));
            }
            if let (Some(cold), Some(warm)) = (image.build_cold_s, image.build_warm_s) {
                parts.push(format!("build cold {cold:.0} s, warm {warm:.1} s"));
            }
            if let Some(healthy) = image.start_to_healthy_ms {
                parts.push(format!(
                    "container start → healthy {}",
                    duration_ms(healthy)
                ));
            }
            parts.push(format!(
                "`docker stop` {}",
                duration_ms(image.docker_stop_ms)
            ));
            let _ = writeln!(out, "Image: {}.", parts.join("; "));
        }
        None => {
            let _ = writeln!(
                out,
                "Image figures: not measured in this run ({}).",
                report.skipped.join("; ")
            );
        }
    }
    out
}

/// What `cargo xtask bench` prints on stdout.
pub fn headline(report: &Report) -> String {
    format!(
        "\nBenchmarks ({} mode, {}; {} × {}):\n\n{}\n{}\nTargets:\n\n{}",
        report.mode,
        report.date,
        report.machine.cores,
        report.machine.cpu_model,
        headline_table(report),
        headline_notes(report),
        targets_table(report)
    )
}

fn figure_table(report: &Report, figure: &Figure) -> String {
    let peers: Vec<PeerId> = peers_of(report)
        .into_iter()
        .filter(|p| figure.values.contains_key(p.key()))
        .collect();
    let mut out = format!(
        "### {}\n\nHow: {} ({} is better; unit: {}).\n\n",
        figure.title,
        figure.method,
        match figure.better {
            super::Better::Higher => "higher",
            super::Better::Lower => "lower",
        },
        figure.unit
    );
    out.push_str("| peer | value | samples |");
    if !figure.count {
        for peer in &peers {
            let _ = write!(out, " vs {} |", peer.name());
        }
    }
    out.push_str("\n|---|--:|---|");
    if !figure.count {
        out.push_str(&"--:|".repeat(peers.len()));
    }
    out.push('\n');
    for &peer in &peers {
        let mine = figure.values[peer.key()];
        let samples: Vec<String> = figure.samples[peer.key()]
            .iter()
            .map(|&s| cell(s, figure.unit))
            .collect();
        let _ = write!(
            out,
            "| {} | {} | {} |",
            peer.name(),
            cell(mine, figure.unit),
            samples.join(", ")
        );
        if !figure.count {
            for other in &peers {
                let _ = write!(out, " {} |", ratio(mine / figure.values[other.key()]));
            }
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// How every figure is measured: docs/benchmarks.md's "Method" section.
const METHOD: &str = include_str!("method.md");

/// The whole of docs/benchmarks.md.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "<!-- Written by `cargo xtask bench`: do not edit by hand, run it again (see xtask/src/bench/). -->\n"
    );
    let _ = writeln!(
        out,
        "Measured by `cargo xtask bench{}` ({} mode) on {}, in {:.1} minutes: {}, side by side in one run. \
         `cargo xtask bench --json` prints the same figures, with every sample, as one JSON object.\n",
        if report.mode == "quick" {
            " --quick"
        } else {
            ""
        },
        report.mode,
        report.date,
        report.elapsed_s / 60.0,
        report
            .peers
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "## Headline\n\n{}\n{}",
        headline_table(report),
        headline_notes(report)
    );
    let _ = writeln!(
        out,
        "## Targets\n\nReported, not asserted.\n\n{}",
        targets_table(report)
    );

    let m = &report.machine;
    let _ = writeln!(out, "## Machine\n\n| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} |", m.cpu_model);
    let _ = writeln!(
        out,
        "| cores | {} ({} usable by this run) |",
        m.cores, m.usable_cores
    );
    let _ = writeln!(out, "| memory | {} GiB |", m.memory_gib);
    let _ = writeln!(out, "| system | {}, Linux {} |", m.os, m.kernel);
    let _ = writeln!(out, "| wrk | {} |", m.wrk);
    let _ = writeln!(out, "| Python | {} |", m.python);
    let _ = writeln!(out, "| Rust | {} |", m.rustc);
    if let Some(engine) = &m.docker_engine {
        let _ = writeln!(out, "| Docker engine | {engine} |");
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "## Peers\n\n| peer | what | started with |\n|---|---|---|"
    );
    for peer in &report.peers {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` |",
            peer.name, peer.description, peer.command
        );
    }
    let p = &report.plan;
    let _ = writeln!(
        out,
        "\nThis run: {} load round(s) of {} s per run, {} start(s) per peer, {} SIGTERM-under-load trial(s) per peer \
         (signal {} ms into the load).\n",
        p.rounds, p.load_seconds, p.start_trials, p.sigterm_trials, p.signal_after_ms
    );
    let _ = writeln!(out, "## Method\n\n{METHOD}");
    let _ = writeln!(
        out,
        "In every table, *vs X* is this row's value divided by peer X's: above 1× means more requests/s, or more \
         milliseconds and megabytes, than X.\n"
    );

    let sections: [(&str, &[&str]); 3] = [
        ("Throughput and latency", &["_rps", "_p50", "_p99"]),
        ("Memory", &["rss_"]),
        ("Start and stop", &["start_to_200", "sigterm_"]),
    ];
    for (title, patterns) in sections {
        let _ = writeln!(out, "## {title}\n");
        for figure in report.figures.all() {
            if patterns.iter().any(|p| figure.id.contains(p)) {
                out.push_str(&figure_table(report, figure));
            }
        }
    }

    let _ = writeln!(
        out,
        "### SIGTERM under load: every trial\n\n\
         | peer | SIGTERM → exit | exited while wrk was sending | sent | answered | refused | lost | not 2xx/3xx | \
         **failed** | wrk errors: read / write / timeout |\n\
         |---|--:|---|--:|--:|--:|--:|--:|--:|---|"
    );
    for t in &report.shutdown_trials {
        let name = PeerId::ALL
            .iter()
            .find(|p| p.key() == t.peer)
            .map_or(t.peer, |p| p.name());
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {}{} | {} | **{}** | {} / {} / {} |",
            t.exit_ms
                .map_or_else(|| "still running: killed".to_owned(), duration_ms),
            if t.exited_under_load {
                "yes"
            } else {
                "no: only once wrk was stopped"
            },
            t.sent,
            t.answered,
            t.refused,
            t.lost,
            if t.abandoned_by_wrk > 0 {
                format!(" (+{} abandoned by wrk)", t.abandoned_by_wrk)
            } else {
                String::new()
            },
            t.not_ok,
            t.failed,
            t.errors.read,
            t.errors.write,
            t.errors.timeout
        );
    }
    out.push_str(
        "\n*sent*: requests wrk handed to a connection; *refused*: of those, the ones whose write failed \
         (the connection was refused: the listener was closed); *lost*: sent − answered − refused, requests that \
         went out on a connection and never got an answer; *failed* = lost + not 2xx/3xx.\n\n",
    );

    let troubled: Vec<String> = report
        .load_runs
        .iter()
        .filter(|r| {
            let e = r.outcome.errors;
            e.connect + e.read + e.write + e.timeout + r.outcome.non_2xx > 0
        })
        .map(|r| {
            let e = r.outcome.errors;
            format!(
                "- {} GET {} c{} round {}: connect {}, read {}, write {}, timeout {}, non-2xx {}",
                r.peer,
                r.path,
                r.connections,
                r.round,
                e.connect,
                e.read,
                e.write,
                e.timeout,
                r.outcome.non_2xx
            )
        })
        .collect();
    if !troubled.is_empty() {
        let _ = writeln!(
            out,
            "### Load runs with errors\n\n{}\n",
            troubled.join("\n")
        );
    }

    let _ = writeln!(out, "## Image\n");
    match &report.image {
        None => {
            let _ = writeln!(out, "Not measured in this run.\n");
        }
        Some(image) => {
            let _ = writeln!(out, "| figure | value | samples |\n|---|--:|---|");
            let secs = |s: &[f64]| {
                s.iter()
                    .map(|v| format!("{v:.1} s"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mss = |s: &[f64]| {
                s.iter()
                    .map(|&v| duration_ms(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(out, "| production image size | {:.2} MB | |", image.size_mb);
            if let Some(naive) = image.naive_size_mb {
                let _ = writeln!(
                    out,
                    "| naive image size (Dockerfile.naive) | {naive:.1} MB | |"
                );
                let _ = writeln!(
                    out,
                    "| naive ÷ production | {} | |",
                    ratio(naive / image.size_mb)
                );
            }
            if let Some(cold) = image.build_cold_s {
                let _ = writeln!(
                    out,
                    "| build, cold ({} cache mount(s) fresh, --no-cache) | {cold:.1} s | |",
                    image.cache_mounts.unwrap_or(0)
                );
            }
            if let Some(warm) = image.build_warm_s {
                let _ = writeln!(
                    out,
                    "| build, warm (one source file changed) | {warm:.1} s | {} |",
                    secs(&image.build_warm_samples_s)
                );
            }
            if let Some(naive) = image.naive_build_s {
                let _ = writeln!(out, "| naive build, cache as found | {naive:.1} s | |");
            }
            if let Some(healthy) = image.start_to_healthy_ms {
                let _ = writeln!(
                    out,
                    "| container start → healthy | {} | {} |",
                    duration_ms(healthy),
                    mss(&image.start_to_healthy_samples_ms)
                );
            }
            let _ = writeln!(
                out,
                "| `docker stop` | {} | {} (exit codes {:?}) |",
                duration_ms(image.docker_stop_ms),
                mss(&image.docker_stop_samples_ms),
                image.stop_exit_codes
            );
            if let Some(check) = &image.healthcheck {
                let _ = writeln!(out, "\nHEALTHCHECK: `{check}`.");
            }
            out.push('\n');
        }
    }

    let _ = writeln!(
        out,
        "## Commands\n\nRun from the repository root; `$PORT` is a free port, picked anew for every start.\n\n```sh"
    );
    for command in &report.commands {
        let _ = writeln!(out, "{command}");
    }
    for peer in &report.peers {
        let _ = writeln!(out, "{}   # {}", peer.command, peer.name);
    }
    out.push_str("```\n\n");
    if !report.skipped.is_empty() || !report.notes.is_empty() {
        let _ = writeln!(out, "## Skipped and notes\n");
        for line in report
            .skipped
            .iter()
            .map(|s| format!("Skipped: {s}"))
            .chain(report.notes.iter().cloned())
        {
            let _ = writeln!(out, "- {line}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(sig3(0.15), "0.150");
        assert_eq!(sig3(3.621), "3.62");
        assert_eq!(sig3(36.24), "36.2");
        assert_eq!(sig3(1620.4), "1620");
        assert_eq!(cell(95_312.0, "req/s"), "95.3k");
        assert_eq!(cell(2769.36, "req/s"), "2.77k");
        assert_eq!(cell(812.4, "req/s"), "812");
        assert_eq!(duration_ms(1620.0), "1.62 s");
        assert_eq!(duration_ms(3.12), "3.12 ms");
        assert_eq!(ratio(34.4), "34×");
        assert_eq!(ratio(0.794), "0.79×");
    }
}
