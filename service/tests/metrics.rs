//! `/metrics`: what a Prometheus scraping the metrics port reads after known
//! requests, against the application served in-process (the real Prometheus
//! scrapes the real image in tests/tests/image.rs).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{Samples, request, spawn_app};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[test]
fn requests_are_counted_by_method_the_route_matched_and_status() {
    // Each request on a connection of its own, spread over four workers:
    // each worker counts its own, and the scrape sums them.
    let service = spawn_app(&[("WORKERS", "4")]);
    let sent = [
        ("GET", "/health"),
        ("GET", "/health"),
        ("GET", "/health?probe=1"),
        // Three paths no route matches: one series between them.
        ("GET", "/nope"),
        ("GET", "/wp-login.php"),
        ("GET", "/health/extra"),
        ("POST", "/health"),
        ("BREW", "/"),
        ("HEAD", "/ready"),
    ];
    for (method, path) in sent {
        service.request(method, path);
    }
    let metrics_port = service.metrics_port.expect("metrics on");
    let samples = Samples::scrape(metrics_port);
    let expected = BTreeMap::from(
        [
            ("method=GET,route=/health,status=200", 3.0),
            ("method=GET,route=unmatched,status=404", 3.0),
            ("method=POST,route=/health,status=405", 1.0),
            ("method=other,route=/,status=405", 1.0),
            ("method=HEAD,route=/ready,status=200", 1.0),
        ]
        .map(|(labels, count)| (labels.to_owned(), count)),
    );
    assert_eq!(samples.series("http_requests_total"), expected);
    assert_eq!(
        samples.series("http_request_duration_seconds_count"),
        expected
    );
    // The scrape is on its own port: no request of the service's is under way.
    assert_eq!(samples.value("http_requests_in_flight"), 0.0);
}

#[test]
fn durations_fall_in_buckets_from_10_microseconds() {
    let service = spawn_app(&[]);
    for _ in 0..5 {
        service.request("GET", "/");
    }
    let samples = Samples::scrape(service.metrics_port.expect("metrics on"));
    let buckets = samples.series("http_request_duration_seconds_bucket");
    let series = |le: &str| format!("le={le},method=GET,route=/,status=200");
    let bounds: Vec<&str> = buckets
        .keys()
        .filter_map(|labels| {
            labels
                .strip_prefix("le=")?
                .split_once(',')
                .map(|(le, _)| le)
        })
        .collect();
    for le in [
        "0.00001", "0.000025", "0.0001", "0.001", "0.01", "1.0", "10.0", "+Inf",
    ] {
        assert!(bounds.contains(&le), "no bucket le={le} in {bounds:?}");
    }
    assert_eq!(buckets[&series("+Inf")], 5.0);
    // Cumulative: each bucket holds at least the one below it.
    let mut sorted: Vec<(f64, f64)> = bounds
        .iter()
        .map(|le| (le.parse().unwrap(), buckets[&series(le)]))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        sorted.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "{sorted:?}"
    );
    let sum = samples.series("http_request_duration_seconds_sum")["method=GET,route=/,status=200"];
    assert!(sum > 0.0 && sum < 5.0, "{sum}");
}

#[test]
fn the_metrics_port_serves_openmetrics_with_the_process_and_build() {
    let service = spawn_app(&[]);
    let metrics_port = service.metrics_port.expect("metrics on");
    let answer = request(metrics_port, "GET", "/metrics");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some(OPENMETRICS));
    assert!(answer.text().ends_with("# EOF\n"), "{}", answer.text());

    let samples = Samples::parse(answer.text());
    let build = format!(
        "name={},version={}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(samples.series("build_info"), BTreeMap::from([(build, 1.0)]));
    assert!(samples.value("process_resident_memory_bytes") > 1e6);
    assert!(samples.value("process_virtual_memory_bytes") > 1e6);
    assert!(samples.value("process_open_fds") >= 3.0);
    assert!(samples.value("process_max_fds") >= samples.value("process_open_fds"));
    assert!(samples.value("process_cpu_seconds_total") >= 0.0);
    // This test process started the service, and within the last hour.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let started = Duration::from_secs_f64(samples.value("process_start_time_seconds"));
    assert!(
        started <= now && now - started < Duration::from_secs(3600),
        "{started:?} against {now:?}"
    );

    assert_eq!(request(metrics_port, "GET", "/").status, 404);
    assert_eq!(request(metrics_port, "POST", "/metrics").status, 405);
    assert_eq!(request(metrics_port, "HEAD", "/metrics").status, 200);
}

#[test]
fn the_service_port_keeps_the_labs_contract_and_metrics_can_be_off() {
    let service = spawn_app(&[]);
    let on_the_service_port = service.request("GET", "/metrics");
    assert_eq!(
        (on_the_service_port.status, on_the_service_port.text()),
        (404, "{\"error\":\"not-found\"}\n")
    );
    let off = spawn_app(&[("METRICS_PORT", "off")]);
    assert_eq!(off.metrics_port, None);
    assert_eq!(off.request("GET", "/health").status, 200);
}
