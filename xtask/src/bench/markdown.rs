//! The report in words: docs/benchmarks.md and the summary printed on stdout,
//! both rendered by benchmarks.md.j2 from the report's JSON; and the targets.

use std::collections::BTreeMap;

use anyhow::Result;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Serialize;

use super::Report;

/// One target of issues 5, 12, 19 and 22: reported, never asserted.
#[derive(Debug, Serialize)]
pub struct Goal {
    pub target: String,
    pub goal: String,
    pub measured: String,
    pub value: Option<f64>,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
}

/// A target's figure, from the report, and how it is shown.
type Measure = fn(&Report) -> Option<f64>;
type Shown = fn(f64) -> String;

/// The targets of issues 5, 12, 19 and 22 (the last set the first two, with
/// metrics on), for the service (and its image): what,
/// the goal (met at or above its number for `≥`, at or below it for `≤`),
/// the figure, and how it is shown.
const TARGETS: [(&str, &str, f64, Measure, Shown); 10] = [
    (
        "instructions per GET /health vs bare actix-web (callgrind)",
        "≤ 1.10×",
        1.10,
        |r| peer_ratio(r, "instructions_health", "service", "bare-actix"),
        close_ratio,
    ),
    (
        "GET /health req/s vs bare actix-web (16 conn., median of paired runs)",
        "≥ 0.95×",
        0.95,
        |r| r.value("health_c16_rps_paired", "service"),
        close_ratio,
    ),
    (
        "GET /health req/s, image vs host (16 conn.)",
        "≥ 0.75×",
        0.75,
        |r| peer_ratio(r, "health_c16_rps", "image", "service"),
        ratio,
    ),
    (
        "GET /health req/s vs gunicorn (16 conn.)",
        "≥ 20×",
        20.0,
        |r| peer_ratio(r, "health_c16_rps", "service", "gunicorn"),
        ratio,
    ),
    (
        "RSS under load (peak)",
        "≤ 10 MB",
        10.0,
        |r| r.value("rss_load_peak", "service"),
        |v| format!("{v:.1} MB"),
    ),
    (
        "RSS with 20 clients that never read (peak; a pod's limit in deploy/k8s)",
        "≤ 64 MB",
        64.0,
        |r| r.value("flood_memory_peak", "service"),
        |v| format!("{v:.1} MB"),
    ),
    (
        "start → first 200",
        "≤ 50 ms",
        50.0,
        |r| r.value("start_to_200", "service"),
        duration_ms,
    ),
    (
        "SIGTERM → exit, idle",
        "≤ 100 ms",
        100.0,
        |r| r.value("sigterm_idle", "service"),
        duration_ms,
    ),
    (
        "image size",
        "≤ 3 MB",
        3.0,
        |r| Some(r.image.as_ref()?.size_mb),
        |v| format!("{v:.2} MB"),
    ),
    (
        "warm rebuild (one source file changed)",
        "≤ 30 s",
        30.0,
        |r| r.image.as_ref()?.build_warm_s,
        |v| format!("{v:.1} s"),
    ),
];

/// A ratio judged against a goal near it, to three decimals: 1.096× shown
/// as 1.10× would read as the ≤ 1.10× goal's very limit.
fn close_ratio(value: f64) -> String {
    format!("{value:.3}×")
}

/// Figure `id` of `peer` divided by the same figure of peer `of`.
fn peer_ratio(report: &Report, id: &str, peer: &str, of: &str) -> Option<f64> {
    Some(report.value(id, peer)? / report.value(id, of)?)
}

pub fn targets(report: &Report) -> Vec<Goal> {
    let not_measured = match report.mode {
        "quick" => "not measured (quick mode)",
        _ => "not measured",
    };
    TARGETS
        .iter()
        .map(|&(target, goal, limit, measure, shown)| {
            let value = measure(report);
            Goal {
                target: target.to_owned(),
                goal: goal.to_owned(),
                measured: value.map_or_else(|| not_measured.to_owned(), shown),
                value,
                met: value.map(|v| {
                    if goal.starts_with('≥') {
                        v >= limit
                    } else {
                        v <= limit
                    }
                }),
            }
        })
        .collect()
}

/// 3 significant digits, no exponent.
pub fn sig3(value: f64) -> String {
    let magnitude = value.abs();
    match magnitude {
        _ if !value.is_finite() => "–".to_owned(),
        _ if magnitude >= 100.0 || magnitude == 0.0 => format!("{value:.0}"),
        _ if magnitude >= 10.0 => format!("{value:.1}"),
        _ if magnitude >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

/// A value in its figure's unit, for a table cell.
pub fn cell(value: f64, unit: &str) -> String {
    match unit {
        "req/s" if value >= 10_000.0 => format!("{:.1}k", value / 1000.0),
        "req/s" if value >= 1000.0 => format!("{:.2}k", value / 1000.0),
        "req/s" | "requests" => format!("{value:.0}"),
        "MB" => format!("{value:.1}"),
        "×" => format!("{value:.3}"),
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
    match value {
        _ if !value.is_finite() => "–".to_owned(),
        _ if value >= 10.0 => format!("{value:.0}×"),
        _ => format!("{value:.2}×"),
    }
}

/// A number from the template (NaN for a missing one, shown as such).
fn number(value: Value) -> f64 {
    f64::try_from(value).unwrap_or(f64::NAN)
}

/// The template, with the number formats it uses as filters.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // A figure missing from the report is shown as such (`NaN`, `–`), not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.add_filter("cell", |v, unit: &str| cell(number(v), unit));
    env.add_filter("ms", |v| duration_ms(number(v)));
    env.add_filter("ratio", |v, of| ratio(number(v) / number(of)));
    env.add_filter("fixed", |v, digits: usize| {
        format!("{:.*}", digits, number(v))
    });
    // As Rust shows it: `23.5`, `24` (the template's own would say `24.0`).
    env.add_filter("num", |v| number(v).to_string());
    let templates = [
        ("benchmarks.md.j2", include_str!("benchmarks.md.j2")),
        ("method.md", include_str!("method.md")),
        ("decisions.md", include_str!("decisions.md")),
    ];
    for (name, source) in templates {
        env.add_template(name, source).expect("the templates parse");
    }
    env
}

/// docs/benchmarks.md, and what `cargo xtask bench` prints on stdout
/// without --json, from the report's JSON.
pub fn render(report: &serde_json::Value) -> Result<(String, String)> {
    let figures = report["figures"].as_array().into_iter().flatten();
    let by_id: BTreeMap<&str, &serde_json::Value> = figures
        .map(|figure| (figure["id"].as_str().unwrap_or_default(), figure))
        .collect();
    let env = environment();
    let template = env.get_template("benchmarks.md.j2")?;
    let captured =
        template.render_captured(context! { figure => by_id, ..Value::from_serialize(report) })?;
    let summary = captured.state().call_macro("summary", &[])?;
    Ok((captured.into_output(), summary))
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
        assert_eq!(close_ratio(1.0964), "1.096×");
    }

    /// The rows a normal run seldom has, from a small JSON report.
    #[test]
    fn renders_the_rare_rows() {
        let errors = serde_json::json!({"connect": 0, "read": 2, "write": 0, "timeout": 1});
        let clean = serde_json::json!({"connect": 0, "read": 0, "write": 0, "timeout": 0});
        let report = serde_json::json!({
            "mode": "quick", "date": "2026-01-01 00:00 UTC", "elapsed_s": 60.0, "image": null,
            "machine": {"cores": 2, "cpu_model": "CPU", "memory_gib": 24.0, "docker_engine": null},
            "peers": [{"id": "service", "name": "service (host)", "command": "service"}],
            "figures": [{"id": "rss_idle", "title": "Memory", "unit": "MB", "count": false,
                "values": {"service": 3.44}, "samples": {"service": [3.44, 3.5]}}],
            "shutdown_trials": [{"peer": "service", "exit_ms": null, "exited_under_load": false,
                "sent": 10, "answered": 5, "refused": 2, "lost": 1, "abandoned_by_wrk": 2,
                "not_ok": 0, "failed": 1, "errors": errors}],
            "load_runs": [{"peer": "service", "path": "/", "connections": 16, "round": 1,
                "outcome": {"errors": errors, "non_2xx": 3}}, {"outcome": {"errors": clean, "non_2xx": 0}}],
            "skipped": ["the image: --no-image"], "notes": ["a note"],
        });
        let (markdown, summary) = render(&report).unwrap();
        for part in [
            "| memory | 24 GiB |",
            // One peer alone: no column of its ratio to itself.
            "| service (host) | 3.4 | 3.4, 3.5 |\n",
            "| service (host) | still running: killed | no: only once wrk was stopped | 10 | 5 | 2 \
             | 1 (+2 abandoned by wrk) | 0 | **1** | 2 / 0 / 1 |",
            "### Load runs with errors\n\n- service GET / c16 round 1: connect 0, read 2, write 0, \
             timeout 1, non-2xx 3\n\n## Image\n\nNot measured in this run.\n\n## Commands",
            "```\n\n## Skipped and notes\n\n- Skipped: the image: --no-image\n- a note\n\n",
        ] {
            assert!(markdown.contains(part), "{part}\nis not in\n{markdown}");
        }
        assert!(summary.starts_with(
            "\nBenchmarks (quick mode, 2026-01-01 00:00 UTC; 2 × CPU):\n\n| | service (host) |\n"
        ));
    }
}
