//! What the service prints: one JSON line per request, the start-up
//! configuration, and never the secret.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::signal::Signal::SIGTERM;
use serde_json::Value;
use support::Service;

/// Every stdout line parsed as a JSON object; the one line that may not be
/// one is `Shutting down...`, printed as the Flask original prints it.
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|line| *line != "Shutting down...")
        .map(|line| {
            let value = serde_json::from_str::<Value>(line)
                .ok()
                .filter(Value::is_object);
            value.unwrap_or_else(|| {
                panic!("LOG_FORMAT=json, yet this line is not a JSON object: {line:?}")
            })
        })
        .collect()
}

/// `each` GETs on each of `connections` keep-alive connections at once, of
/// `path(connection, request)`; every answer must have `status`.
fn keep_alive_requests(
    service: &Service,
    connections: usize,
    each: usize,
    path: impl Fn(usize, usize) -> String + Sync,
    status: u16,
) {
    std::thread::scope(|scope| {
        for connection in 0..connections {
            let path = &path;
            scope.spawn(move || {
                let mut keep_alive = service.connect();
                for request in 0..each {
                    let path = path(connection, request);
                    let answer = keep_alive.keep_alive_request("GET", &path);
                    assert_eq!(answer.status, status, "GET {path}");
                }
            });
        }
    });
}

#[test]
fn one_json_line_per_request_with_method_path_status_and_latency() {
    let mut service = Service::start(&[]);
    let requests = [
        ("GET", "/", 200),
        ("GET", "/nope-logged", 404),
        ("POST", "/health", 405),
        ("HEAD", "/ready", 200),
    ];
    for (method, path, status) in requests {
        assert_eq!(
            service.request(method, path).status,
            status,
            "{method} {path}"
        );
    }
    service.stop();

    let stdout = service.stdout();
    let lines = json_lines(&stdout);
    for (method, path, status) in requests {
        let logged: Vec<&Value> = lines
            .iter()
            .filter(|line| line["path"] == path && line["method"] == method)
            .collect();
        assert_eq!(
            logged.len(),
            1,
            "{method} {path} logged as {logged:?}\n{stdout}"
        );
        let line = logged[0];
        assert_eq!(line["status"], status, "{line}");
        let latency = line
            .as_object()
            .unwrap()
            .iter()
            .find(|(key, _)| key.starts_with("latency"))
            .unwrap_or_else(|| panic!("no latency field in {line}"));
        assert!(latency.1.is_number(), "{line}");
    }
}

/// Every answer carries its request id in `X-Request-Id`, and its line the
/// same id: the caller's when it is plain and short, else one made here; the
/// line also carries the trace id of a valid W3C `traceparent`.
#[test]
fn each_request_is_answered_and_logged_with_its_ids() {
    let mut service = Service::start(&[]);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("traceparent: 00-{trace}-00f067aa0ba902b7-01\r\n");
    let requests = [
        (
            "/health",
            "X-Request-Id: order-42\r\n".to_owned() + &traceparent,
            Some("order-42"),
            true,
        ),
        ("/", String::new(), None, false),
        (
            "/nope",
            "X-Request-Id: not plain<>\r\n".to_owned(),
            None,
            false,
        ),
        (
            "/ready",
            "traceparent: 00-0-0-0\r\n".to_owned(),
            None,
            false,
        ),
    ];
    let mut connection = service.connect();
    let mut answered = Vec::new();
    for (path, headers, _, _) in &requests {
        connection.send(format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
        ));
        let answer = connection.read_response(false);
        let id = answer
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id: {answer:?}"));
        answered.push(id.to_owned());
    }
    service.stop();

    let lines = json_lines(&service.stdout());
    for ((path, _, given, traced), id) in requests.iter().zip(&answered) {
        match given {
            Some(given) => assert_eq!(id, given),
            None => assert!(
                id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "GET {path}: made here, yet {id:?}"
            ),
        }
        let line = (lines.iter().find(|line| line["path"] == *path))
            .unwrap_or_else(|| panic!("no line for GET {path}"));
        assert_eq!(line["request_id"], id.as_str(), "{line}");
        let expected_trace = if *traced {
            Value::from(trace)
        } else {
            Value::Null
        };
        assert_eq!(line["trace_id"], expected_trace, "{line}");
    }
    let made: std::collections::HashSet<&String> = answered[1..].iter().collect();
    assert_eq!(made.len(), 3, "ids made here repeat: {answered:?}");
}

/// Request targets a client can send that need escaping in JSON, or are not
/// even UTF-8, and what the service answers to each: 404 once routed (and so
/// logged), 400 when actix-http refuses the request line before any route
/// (and so no request line: the request never reached the service; actix
/// logs its own parse error through tracing). Only printable ASCII gets
/// through, so quotes and backslashes are what the request line must escape.
const AWKWARD_TARGETS: [(&[u8], u16); 7] = [
    (b"/with\"quotes\"", 404),
    (b"/back\\slash\\", 404),
    (b"/pct-%22%5C%00%FF", 404),
    (b"/caf\xc3\xa9", 400),
    (b"/not-utf8-\xff\xfe", 400),
    (b"/control-\x01-\x7f", 400),
    (b"/tab-\t-", 400),
];

#[test]
fn any_request_target_is_logged_as_one_line_of_valid_json() {
    let mut service = Service::start(&[]);
    let mut answered = Vec::new();
    for (target, _) in AWKWARD_TARGETS {
        let mut connection = service.connect();
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        connection.send(&request);
        let answer = connection.read_to_end();
        let status_line = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
        answered.push((String::from_utf8_lossy(target).into_owned(), status_line));
    }
    service.stop();

    let stdout = service.stdout();
    let lines = json_lines(&stdout);
    for ((target, status), (shown, status_line)) in AWKWARD_TARGETS.iter().zip(&answered) {
        assert_eq!(status_line, &format!("HTTP/1.1 {status}"), "{shown:?}");
        let logged: Vec<&Value> = lines
            .iter()
            .filter(|line| line["target"] == "service::request" && line["path"] == *shown)
            .collect();
        let expected = usize::from(*status != 400);
        assert_eq!(
            logged.len(),
            expected,
            "{target:?} logged as {logged:?}\n{stdout}"
        );
    }
}

/// Each worker queues its lines in a buffer of its own: from several
/// connections at once, on both workers, every line still reaches stdout
/// exactly once, by the exit on SIGTERM at the latest, and each
/// connection's lines in the order of its requests.
#[test]
fn lines_from_every_worker_arrive_once_each_in_order() {
    const CONNECTIONS: usize = 8;
    const REQUESTS: usize = 250;
    let mut service = Service::start(&[("WORKERS", "2")]);
    let path = |connection, request| format!("/c{connection}/{request}");
    keep_alive_requests(&service, CONNECTIONS, REQUESTS, path, 404);
    service.stop();

    let stdout = service.stdout();
    let lines = json_lines(&stdout);
    let paths = logged_paths(&lines);
    assert_eq!(paths.len(), CONNECTIONS * REQUESTS, "{stdout}");
    for connection in 0..CONNECTIONS {
        assert_numbered_in_order(&paths, &format!("/c{connection}/"), REQUESTS);
    }
}

/// The paths of the request lines, in the order they reached stdout.
fn logged_paths(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .filter(|line| line["target"] == "service::request")
        .filter_map(|line| line["path"].as_str())
        .collect()
}

/// `{prefix}0` to `{prefix}{count - 1}` are among `paths`, once each, in order.
fn assert_numbered_in_order(paths: &[&str], prefix: &str, count: usize) {
    let numbers: Vec<&str> = paths
        .iter()
        .filter_map(|path| path.strip_prefix(prefix))
        .collect();
    let expected: Vec<String> = (0..count).map(|number| number.to_string()).collect();
    assert_eq!(numbers, expected, "the lines of {prefix}N");
}

#[test]
fn the_secret_is_never_printed_and_the_start_up_line_redacts_it() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let secret = format!("never-print-me-{}-{nanos}", std::process::id());
    // The most verbose logging there is, so that any leak would show.
    let mut service = Service::start(&[
        ("SECRET", secret.as_str()),
        ("LAB_LOGIN", "alice"),
        ("RUST_LOG", "trace"),
    ]);
    for path in ["/", "/health", "/ready", "/proof", "/nope"] {
        service.request("GET", path);
    }
    assert_eq!(service.request("GET", "/proof").status, 200);
    service.stop();

    let (stdout, stderr) = (service.stdout(), service.stderr());
    assert!(!stdout.contains(&secret), "SECRET on stdout:\n{stdout}");
    assert!(!stderr.contains(&secret), "SECRET on stderr:\n{stderr}");

    let lines = json_lines(&stdout);
    let start_up = lines
        .iter()
        .find(|line| line["message"] == "listening")
        .unwrap_or_else(|| panic!("no start-up line on stdout:\n{stdout}"));
    assert_eq!(start_up["secret"], "<redacted>", "{start_up}");
    assert_eq!(start_up["port"], u64::from(service.port), "{start_up}");
    assert_eq!(start_up["host"], "127.0.0.1", "{start_up}");
    assert_eq!(start_up["lab_login"], "alice", "{start_up}");
    assert_eq!(start_up["rocket_size"], "Small", "{start_up}");
    assert!(start_up["shutdown_timeout_s"].is_number(), "{start_up}");
}

/// Tens of thousands of requests: far more lines than a stalled pipe (64 KiB)
/// and the writer's queues (256 KiB a thread) can hold.
const STALLED_CONNECTIONS: usize = 4;
const STALLED_REQUESTS_EACH: usize = 5_000;

/// The service, its stdout left unread while it answers tens of thousands
/// of `GET /health` (each a 200).
fn stalled_after_requests() -> Service {
    let service = Service::start(&[]);
    service.stall_stdout();
    let health = |_, _| "/health".to_owned();
    keep_alive_requests(
        &service,
        STALLED_CONNECTIONS,
        STALLED_REQUESTS_EACH,
        health,
        200,
    );
    service
}

/// A log sink that stops draining (Docker's blocking log mode with a driver
/// that cannot reach its collector, a full disk under json-file) costs log
/// lines, never answers: `/health` keeps answering, and SIGTERM still ends
/// the service at once, with exit 0, the pipe still unread.
#[test]
fn a_stalled_log_sink_stops_neither_answers_nor_the_exit() {
    let mut service = stalled_after_requests();
    service.signal(SIGTERM);
    let (status, elapsed) = service.expect_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(elapsed < Duration::from_secs(2), "exit took {elapsed:?}");
}

/// Once the sink drains again, lines flow again, and one line says how many
/// were dropped meanwhile: with the lines that arrived, exactly the requests
/// made.
#[test]
fn once_the_sink_drains_the_dropped_lines_are_counted_exactly() {
    const AFTER: usize = 100;
    let mut service = stalled_after_requests();
    service.drain_stdout();
    service.wait_for_stdout_line(|line| line.contains("log lines dropped"));
    keep_alive_requests(
        &service,
        1,
        AFTER,
        |_, request| format!("/after/{request}"),
        404,
    );
    service.stop();

    let stdout = service.stdout();
    let lines = json_lines(&stdout);
    let logged_health = lines
        .iter()
        .filter(|line| line["path"] == "/health")
        .count();
    let dropped: u64 = lines
        .iter()
        .filter(|line| line["message"] == "log lines dropped: stdout did not take them in time")
        .map(|line| line["dropped"].as_u64().expect("a count of dropped lines"))
        .sum();
    let made = STALLED_CONNECTIONS * STALLED_REQUESTS_EACH;
    assert!(dropped > 0, "nothing dropped out of {made} lines");
    assert_eq!(
        logged_health as u64 + dropped,
        made as u64,
        "logged + dropped"
    );
    assert_numbered_in_order(&logged_paths(&lines), "/after/", AFTER);
}
