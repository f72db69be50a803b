//! The HTTP contract of `/`, `/health`, `/proof` and `/ready`, byte for byte,
//! against the application served in-process over real TCP (the binary's
//! own behaviour, signals and exit codes are startup.rs and shutdown.rs).

mod support;

use std::time::{Duration, Instant};

use support::{TestApp, spawn_app};

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

/// HMAC-SHA256("s3", "alice:0123456789abcdef"), the lab's test vector.
const ALICE_PROOF: &str = "3ec43586429c87841ae9422802220968ea7c97c457a68f9878a869b689d43ed3";
/// HMAC-SHA256("s3", "unknown:unknown"), computed with Python's `hmac` module.
const UNKNOWN_PROOF: &str = "2cc27180ce550a60e6a64d6cd31f6012421987121ee0e6114a31379c6eedb666";

const ALICE: &[(&str, &str)] = &[
    ("LAB_LOGIN", "alice"),
    ("LAB_TOKEN", "0123456789abcdef"),
    ("SECRET", "s3"),
];

const ROUTES: [&str; 4] = ["/", "/health", "/proof", "/ready"];

/// The uptime of a `/health` body, if the body is exactly
/// `{"status":"ok","uptime":<digits>.<1 or 2 digits>}` and a newline.
fn health_uptime(body: &str) -> Option<f64> {
    let number = body
        .strip_prefix(r#"{"status":"ok","uptime":"#)?
        .strip_suffix("}\n")?;
    let (whole, fraction) = number.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction) && fraction.len() <= 2).then(|| number.parse().unwrap())
}

/// GETs `path` and checks the whole answer: status, content type and body,
/// byte for byte.
fn assert_get(service: &TestApp, path: &str, status: u16, content_type: &str, body: &str) {
    let response = service.request("GET", path);
    assert_eq!(response.status, status, "GET {path}: {response:?}");
    assert_eq!(
        response.header("content-type"),
        Some(content_type),
        "GET {path}"
    );
    assert_eq!(response.text(), body, "GET {path}");
}

/// The body of a `/proof` answer.
fn proof_body(login: &str, proof: &str) -> String {
    format!("{{\"login\":\"{login}\",\"ok\":true,\"proof\":\"{proof}\"}}\n")
}

#[test]
fn index_greets_in_html_with_the_default_rocket_and_ignores_the_query_string() {
    let service = spawn_app(&[]);
    let greeting = "Hello from Docker! Rocket=Small\n";
    for path in ["/", "/?x=1"] {
        assert_get(&service, path, 200, HTML, greeting);
    }
}

#[test]
fn rocket_size_is_read_at_start() {
    let service = spawn_app(&[("ROCKET_SIZE", "Big")]);
    assert_get(&service, "/", 200, HTML, "Hello from Docker! Rocket=Big\n");
}

#[test]
fn health_is_compact_json_with_a_rounded_uptime_that_grows() {
    let service = spawn_app(&[]);
    let first = service.request("GET", "/health");
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.header("content-type"), Some(JSON));
    let first_uptime = health_uptime(first.text())
        .unwrap_or_else(|| panic!("not the /health format: {:?}", first.text()));

    // Uptime has a 10 ms resolution: ask again until it has moved on.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let later = service.request("GET", "/health");
        assert_eq!(later.status, 200, "{later:?}");
        let uptime = health_uptime(later.text())
            .unwrap_or_else(|| panic!("not the /health format: {:?}", later.text()));
        assert!(
            uptime >= first_uptime,
            "uptime went back: {uptime} < {first_uptime}"
        );
        if uptime > first_uptime {
            break;
        }
        assert!(Instant::now() < deadline, "uptime stuck at {uptime}");
    }
}

#[test]
fn proof_without_secret_or_with_an_empty_one_is_a_400() {
    let unset = spawn_app(&[]);
    let empty = spawn_app(&[("SECRET", ""), ("LAB_LOGIN", "alice")]);
    for service in [unset, empty] {
        assert_get(&service, "/proof", 400, JSON, "{\"error\":\"no-secret\"}\n");
    }
}

#[test]
fn proof_is_the_hmac_of_login_and_token() {
    let service = spawn_app(ALICE);
    let body = proof_body("alice", ALICE_PROOF);
    assert_get(&service, "/proof", 200, JSON, &body);
}

#[test]
fn proof_login_and_token_default_to_unknown() {
    let unset = spawn_app(&[("SECRET", "s3")]);
    let empty = spawn_app(&[("SECRET", "s3"), ("LAB_LOGIN", ""), ("LAB_TOKEN", "")]);
    let body = proof_body("unknown", UNKNOWN_PROOF);
    for service in [unset, empty] {
        assert_get(&service, "/proof", 200, JSON, &body);
    }
}

#[test]
fn head_answers_like_get_without_a_body() {
    let service = spawn_app(ALICE);
    for path in ROUTES {
        let get = service.request("GET", path);
        let head = service.request("HEAD", path);
        assert_eq!(head.status, get.status, "HEAD {path}: {head:?}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
        assert!(head.body.is_empty(), "HEAD {path} sent a body: {head:?}");
        let length = head
            .content_length()
            .unwrap_or_else(|| panic!("HEAD {path} without Content-Length: {head:?}"));
        if path == "/health" {
            // The uptime, and so the length, may differ from one answer to
            // the next: any length of a well-formed body will do.
            let lengths = [
                r#"{"status":"ok","uptime":0.1}"#,
                r#"{"status":"ok","uptime":99.99}"#,
            ]
            .map(|body| body.len() + 1);
            assert!(
                (lengths[0]..=lengths[1]).contains(&length),
                "HEAD /health: Content-Length {length}"
            );
        } else {
            assert_eq!(length, get.body.len(), "HEAD {path}: {head:?}");
            assert_eq!(get.content_length(), Some(get.body.len()), "GET {path}");
        }
    }
}

#[test]
fn other_methods_are_405_with_an_allow_header() {
    let service = spawn_app(ALICE);
    for path in ROUTES {
        for method in ["POST", "PUT", "DELETE"] {
            let response = service.request(method, path);
            assert_eq!(response.status, 405, "{method} {path}: {response:?}");
            let allow = response
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path} without Allow: {response:?}"));
            let allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
            assert!(
                allowed.contains(&"GET") && allowed.contains(&"HEAD"),
                "{method} {path}: Allow: {allow}"
            );
        }
    }
}

#[test]
fn unknown_paths_are_404_with_a_small_json_error() {
    let service = spawn_app(&[]);
    for path in ["/health/", "/nope", "/proof/extra", "//"] {
        let response = service.request("GET", path);
        assert_eq!(response.status, 404, "GET {path}: {response:?}");
        assert_eq!(response.header("content-type"), Some(JSON), "GET {path}");
        assert!(response.body.len() < 100, "GET {path}: {response:?}");
        let body: serde_json::Value = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {response:?}"));
        assert!(body["error"].is_string(), "GET {path}: {body}");
    }
}

#[test]
fn ready_is_200_while_serving() {
    let service = spawn_app(&[]);
    assert_get(&service, "/ready", 200, JSON, "{\"status\":\"ready\"}\n");
}
