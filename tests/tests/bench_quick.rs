//! `cargo xtask bench --quick --json` runs to its end and reports every
//! figure for every peer, well-formed. It asserts no speed: a slow machine
//! passes, a missing figure or a nonsensical number does not.
//!
//! Needs wrk (`apt-get install wrk`) and python3 with venv; the Python peers
//! are installed by the benchmark itself into target/bench-venv.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// Every figure the benchmark reports for every peer.
const FIGURES: [&str; 19] = [
    "health_c16_rps",
    "health_c16_p50",
    "health_c16_p99",
    "health_c256_rps",
    "health_c256_p50",
    "health_c256_p99",
    "index_c16_rps",
    "index_c16_p50",
    "index_c16_p99",
    "index_c256_rps",
    "index_c256_p50",
    "index_c256_p99",
    "rss_idle",
    "rss_load_peak",
    "rss_after_load",
    "start_to_200",
    "sigterm_idle",
    "sigterm_load",
    "sigterm_load_failed",
];

/// The peers a quick run always has (the image joins only with --image).
const HOST_PEERS: [&str; 4] = ["service", "bare-actix", "gunicorn", "flask"];

fn number(value: &Value, what: &str) -> f64 {
    let number = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(number.is_finite(), "{what} is not finite: {number}");
    number
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"));
    assert!(!text.trim().is_empty(), "{what} is empty");
    text
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

#[test]
fn quick_bench_reports_every_figure_for_every_peer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace");
    let docs = root.join("docs/benchmarks.md");
    let docs_before = modified(&docs);

    let out = Command::new(env!("CARGO"))
        .args(["xtask", "bench", "--quick", "--json"])
        .current_dir(root)
        .output()
        .expect("cannot run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`cargo xtask bench --quick --json` failed:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|error| {
        panic!(
            "stdout is not one JSON object ({error}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });

    assert_eq!(report["mode"], "quick");
    text(&report["date"], "date");
    assert!(number(&report["machine"]["cores"], "cores") >= 1.0);
    text(&report["machine"]["cpu_model"], "cpu_model");
    text(&report["machine"]["wrk"], "wrk version");

    let peers: Vec<&str> = report["peers"]
        .as_array()
        .expect("peers is a list")
        .iter()
        .map(|peer| {
            text(&peer["name"], "peer name");
            text(&peer["command"], "peer command");
            text(&peer["id"], "peer id")
        })
        .collect();
    for peer in HOST_PEERS {
        assert!(peers.contains(&peer), "peer {peer} missing from {peers:?}");
    }
    if !peers.contains(&"image") {
        let skipped = report["skipped"].to_string();
        assert!(
            skipped.contains("image"),
            "the image is neither measured nor said to be skipped: {skipped}"
        );
    }

    let figures = report["figures"].as_array().expect("figures is a list");
    for id in FIGURES {
        let figure = figures
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("figure {id} missing"));
        text(&figure["title"], "title");
        text(&figure["unit"], "unit");
        let count = figure["count"] == true;
        for peer in &peers {
            let what = format!("{id} of {peer}");
            let value = number(&figure["values"][peer], &what);
            if count {
                assert!(
                    value >= 0.0 && value.fract() == 0.0,
                    "{what} is not a count: {value}"
                );
            } else {
                assert!(value > 0.0, "{what} is not positive: {value}");
            }
            let samples = figure["samples"][peer]
                .as_array()
                .unwrap_or_else(|| panic!("no samples for {what}"));
            assert!(!samples.is_empty(), "no samples for {what}");
            for sample in samples {
                number(sample, &what);
            }
        }
    }

    let rounds = number(&report["plan"]["rounds"], "rounds") as usize;
    let runs = report["load_runs"].as_array().expect("load_runs is a list");
    assert_eq!(
        runs.len(),
        peers.len() * 4 * rounds,
        "one load run per peer, path, connection count and round"
    );
    for run in runs {
        assert!(
            number(&run["outcome"]["requests"], "answered requests") > 0.0,
            "{run}"
        );
    }

    let trials = report["shutdown_trials"]
        .as_array()
        .expect("shutdown_trials is a list");
    assert!(
        trials.len() >= peers.len(),
        "a SIGTERM-under-load trial per peer"
    );
    for trial in trials {
        assert!(number(&trial["exit_ms"], "exit_ms") > 0.0, "{trial}");
        let sent = number(&trial["sent"], "sent");
        assert!(
            sent > 0.0 && sent >= number(&trial["answered"], "answered"),
            "{trial}"
        );
    }

    // For the Rust peers only, one run each: instructions counted by
    // callgrind (deterministic), and the flood of clients that never read.
    for (id, above) in [
        ("instructions_health", 1000.0),
        ("flood_memory_peak", 0.0),
        ("flood_probe_slowest", 0.0),
    ] {
        let figure = figures
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("figure {id} missing"));
        let measured = figure["values"].as_object().expect("values by peer");
        assert_eq!(
            measured.keys().collect::<Vec<_>>(),
            ["bare-actix", "service"],
            "{figure}"
        );
        for (peer, value) in measured {
            assert!(number(value, peer) > above, "{figure}");
        }
    }

    // The paired runs: one ratio per round, the service's requests/s over
    // the bare server's, and the control's (a second bare server's over the
    // first's) under the bare server's id; the target judged on the
    // service's median.
    let paired = figures
        .iter()
        .find(|f| f["id"] == "health_c16_rps_paired")
        .expect("figure health_c16_rps_paired missing");
    let rounds = number(&report["plan"]["paired_runs"], "paired_runs") as usize;
    for peer in ["service", "bare-actix"] {
        let ratios = paired["samples"][peer]
            .as_array()
            .unwrap_or_else(|| panic!("no paired ratios for {peer}: {paired}"));
        assert_eq!(ratios.len(), rounds, "one ratio per round: {paired}");
        for ratio in ratios {
            assert!(number(ratio, "a paired ratio") > 0.0, "{paired}");
        }
    }
    let paired_values = paired["values"].as_object().expect("values by peer");
    assert_eq!(
        paired_values.keys().collect::<Vec<_>>(),
        ["bare-actix", "service"],
        "{paired}"
    );

    let targets = report["targets"].as_array().expect("targets is a list");
    assert_eq!(targets.len(), 10, "{targets:?}");
    let vs_bare = targets
        .iter()
        .find(|t| {
            t["target"]
                .as_str()
                .is_some_and(|t| t.contains("paired runs"))
        })
        .expect("the target vs the bare server");
    assert_eq!(
        vs_bare["value"], paired["values"]["service"],
        "the target is judged on the paired runs' median"
    );
    for target in targets {
        text(&target["target"], "target");
        text(&target["measured"], "measured");
        assert!(
            target["met"].is_boolean() || target["met"].is_null(),
            "{target}"
        );
    }

    let markdown = std::fs::read_to_string(root.join("target/bench/benchmarks-quick.md"))
        .expect("the quick run writes target/bench/benchmarks-quick.md");
    assert!(markdown.starts_with("# Benchmarks"));
    assert!(markdown.contains("## Targets") && markdown.contains("## Machine"));
    assert_eq!(
        modified(&docs),
        docs_before,
        "a quick run must leave docs/benchmarks.md alone"
    );
}
