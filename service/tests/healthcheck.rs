//! `service healthcheck`, the image's HEALTHCHECK: healthy against a live
//! server, unhealthy otherwise, and never slower than its 2 s timeout.

mod support;

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use support::{Service, free_port};

/// Runs `service healthcheck` against `port`; returns its exit code, its
/// stdout, and how long it ran.
fn healthcheck(port: u16) -> (Option<i32>, String, Duration) {
    let port = port.to_string();
    let mut probe = Service::spawn(&["healthcheck"], &[("PORT", port.as_str())]);
    let (status, _) = probe.expect_exit(Duration::from_secs(10));
    let ran = probe.spawned.elapsed();
    (status.code(), probe.stdout(), ran)
}

fn is_one_line(text: &str) -> bool {
    text.ends_with('\n') && text.matches('\n').count() == 1
}

#[test]
fn healthy_against_a_live_server() {
    let service = Service::start(&[]);
    let (code, stdout, ran) = healthcheck(service.port);
    println!("healthy probe: {ran:?}: {stdout}");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(is_one_line(&stdout), "{stdout:?}");
}

#[test]
fn unhealthy_when_nothing_listens() {
    let (code, stdout, _) = healthcheck(free_port());
    assert_eq!(code, Some(1), "{stdout}");
    assert!(is_one_line(&stdout), "{stdout:?}");
}

#[test]
fn gives_up_within_its_timeout_when_the_server_never_answers() {
    // The kernel completes the handshake into the backlog; nobody ever
    // reads the request or answers it.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let (code, stdout, ran) = healthcheck(port);
    println!("probe of a silent server: {ran:?}: {stdout}");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(is_one_line(&stdout), "{stdout:?}");
    assert!(ran < Duration::from_secs(3), "took {ran:?}");
    drop(silent);
}
