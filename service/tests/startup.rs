//! Starting up: refusing bad configuration and arguments cleanly, and
//! answering soon after start.

mod support;

use std::time::{Duration, Instant};

use support::{Service, free_port, try_request};

/// Runs the binary with `args` and `env`, expecting exit status 2 with
/// exactly one line on stderr; returns that line.
fn rejected(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut process = Service::spawn(args, env);
    let (status, _) = process.expect_exit(Duration::from_secs(5));
    let stderr = process.stderr();
    assert_eq!(
        status.code(),
        Some(2),
        "{args:?} {env:?}: {status:?}\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{env:?}: {stderr}");
    assert!(
        stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
        "{args:?} {env:?}: not one line on stderr: {stderr:?}"
    );
    stderr
}

#[test]
fn bad_environment_values_exit_2_with_one_line_naming_variable_and_value() {
    let port = free_port().to_string();
    let cases = [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("SHUTDOWN_TIMEOUT", "-1"),
        ("SHUTDOWN_TIMEOUT", "soon"),
        ("LOG_FORMAT", "xml"),
        ("WORKERS", "0"),
        ("HOST", "nowhere"),
    ];
    for (variable, value) in cases {
        // Everything else valid, on a port of our own: should the value be
        // accepted by mistake, the service would serve, and be killed.
        let mut env = vec![("HOST", "127.0.0.1"), ("PORT", port.as_str())];
        env.retain(|(name, _)| *name != variable);
        env.push((variable, value));
        let line = rejected(&[], &env);
        assert!(line.contains(variable), "{variable}={value}: {line:?}");
        // Quoted, so that even WORKERS=0 is checked for more than a digit.
        assert!(
            line.contains(&format!("'{value}'")),
            "{variable}={value}: {line:?}"
        );
    }
}

#[test]
fn an_unknown_argument_exits_2_with_one_line() {
    let port = free_port().to_string();
    let line = rejected(
        &["--frobnicate"],
        &[("HOST", "127.0.0.1"), ("PORT", port.as_str())],
    );
    assert!(line.contains("--frobnicate"), "{line:?}");
}

#[test]
fn first_answer_comes_quickly() {
    let port = free_port();
    let port_text = port.to_string();
    let service = Service::spawn(
        &[],
        &[
            ("HOST", "127.0.0.1"),
            ("PORT", port_text.as_str()),
            ("LOG_FORMAT", "json"),
        ],
    );
    let deadline = service.spawned + Duration::from_secs(5);
    loop {
        // A refused connection just means "not yet".
        if try_request(port, "GET", "/health").is_ok_and(|response| response.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 200 on /health within 5 s of start\nstderr:\n{}",
            service.stderr()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = service.spawned.elapsed();
    println!("process start -> first 200 on /health: {elapsed:?}");
}
