//! Graceful shutdown on SIGTERM and SIGINT: quick when idle, answering the
//! requests in flight, bounded by SHUTDOWN_TIMEOUT, cut short by a second
//! signal. Real processes, real signals.
//!
//! The drain needs a request that is still being handled when the signal
//! arrives, so this test binary doubles as a server: started with
//! `SHUTDOWN_TEST_ROLE=slow-server`, it serves the real application plus a
//! `/slow?ms=N` route mounted only here (see `serve_with_slow_route`).

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use actix_web::dev::{ServiceRequest, ServiceResponse, fn_service};
use actix_web::error::ErrorServiceUnavailable;
use actix_web::{HttpResponse, web};
use libtest_mimic::{Arguments, Trial};
use nix::sys::signal::Signal::{self, SIGINT, SIGTERM};
use service::configuration::Settings;
use service::startup::Application;
use service::telemetry;
use support::{Connection, Samples, Service, address};

const ROLE: &str = "SHUTDOWN_TEST_ROLE";
const SLOW_STARTED: &str = "slow request started";
const BLOCK_STARTED: &str = "blocking request started";
const PANIC_MESSAGE: &str = "a bug in a handler";

/// The child's life: the service with a slow route, until signalled.
fn serve_with_slow_route() -> ExitCode {
    let settings = Settings::from_env().expect("valid test settings");
    let _log_guard = telemetry::init(&settings);
    let served = actix_web::rt::System::new().block_on(async {
        let application = Application::build_with(&settings, |config| {
            config.route(
                "/slow",
                web::get().to(
                    |query: web::Query<std::collections::HashMap<String, u64>>| async move {
                        println!("{SLOW_STARTED}");
                        let ms = query.get("ms").copied().unwrap_or(1000);
                        actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
                        HttpResponse::Ok().body("slow done\n")
                    },
                ),
            );
            // A handler that blocks its worker thread, as a forker's
            // blocking call would: no await point, no cancellation.
            config.route(
                "/block",
                web::get().to(|| async {
                    println!("{BLOCK_STARTED}");
                    thread::sleep(Duration::from_secs(60));
                    HttpResponse::Ok().body("block done\n")
                }),
            );
            config.route(
                "/panic",
                web::get().to(|| async {
                    let count: u32 = "not a number".parse().expect(PANIC_MESSAGE);
                    HttpResponse::Ok().body(count.to_string())
                }),
            );
            // A service that errs instead of answering, as a fork's
            // middleware may: actix answers with the error's response.
            config.service(
                web::service("/erred").finish(fn_service(|_: ServiceRequest| async {
                    Err::<ServiceResponse, _>(ErrorServiceUnavailable("erred"))
                })),
            );
        })?;
        telemetry::log_settings(&settings, application.port(), application.metrics_port());
        application.run_until_stopped().await
    });
    match served {
        Ok(stopped) => stopped.exit_code(),
        Err(error) => {
            eprintln!("slow server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn this_binary() -> PathBuf {
    std::env::current_exe().expect("the test binary's path")
}

/// A child serving the slow route, with `extra_env`.
fn start_slow_server(extra_env: &[(&str, &str)]) -> Service {
    let mut env = vec![(ROLE, "slow-server")];
    env.extend_from_slice(extra_env);
    Service::start_program(&this_binary(), &env)
}

/// Sends `GET /slow?ms=N` and waits until the handler runs.
fn slow_request_in_flight(service: &Service, ms: u64) -> Connection {
    let mut connection = service.connect();
    connection.send(format!(
        "GET /slow?ms={ms} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    ));
    service.wait_for_stdout_line(|line| line == SLOW_STARTED);
    connection
}

fn is_shutting_down(line: &str) -> bool {
    line == "Shutting down..."
}

/// Waits for the exit, which must be a success within `limit` from now;
/// prints how long it took, to show the margin left.
fn assert_exits_0_within(service: &mut Service, limit: Duration, what: &str) {
    let (status, elapsed) = service.expect_exit(Duration::from_secs(5));
    println!("{what}: exit {status:?} after {elapsed:?}");
    assert!(status.success(), "{what}: {status:?}");
    assert!(elapsed < limit, "{what}: took {elapsed:?}, over {limit:?}");
}

fn idle_signal_exits_0_at_once(signal: Signal) {
    let mut service = Service::start(&[]);
    service.signal(signal);
    let idle = format!("idle {signal}");
    assert_exits_0_within(&mut service, Duration::from_secs(2), &idle);
    assert!(
        service.stdout().lines().any(is_shutting_down),
        "{signal}: stdout:\n{}",
        service.stdout()
    );
}

fn sigterm_stops_accepting_and_answers_the_request_in_flight() {
    // A drain timeout far beyond this test: only the drain can end the run.
    let mut service = start_slow_server(&[("SHUTDOWN_TIMEOUT", "30")]);
    let mut idle = service.connect();
    assert_eq!(idle.keep_alive_request("GET", "/ready").status, 200);
    let mut in_flight = slow_request_in_flight(&service, 1500);

    service.signal(SIGTERM);
    service.wait_for_stdout_line(is_shutting_down);

    // New connections are refused...
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect_timeout(&address(service.port), Duration::from_secs(1)) {
            // Refused, or reset if it reached the backlog just before the
            // listening socket was shut: either way, not served.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                break;
            }
            Err(e) => panic!("connecting during the drain: {e}"),
            Ok(_) => assert!(
                Instant::now() < deadline,
                "still accepting connections 5 s after SIGTERM"
            ),
        }
        thread::sleep(Duration::from_millis(2));
    }
    // ...idle keep-alive connections are closed (after a short grace), not
    // kept until the request in flight is answered...
    assert!(
        idle.read_to_end().is_empty(),
        "the idle connection got bytes"
    );
    assert!(
        in_flight.has_nothing_yet(),
        "the idle connection was closed only after the request in flight was answered"
    );
    // ...and the request in flight is answered in full.
    assert!(
        service.try_wait().is_none(),
        "exited with a request in flight"
    );
    let answer = in_flight.read_response(false);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.text(), "slow done\n");
    assert!(
        answer.closes(),
        "no Connection: close while draining: {answer:?}"
    );

    // The last answer ends the drain: the exit follows at once.
    let drained = "drained, after the last answer";
    assert_exits_0_within(&mut service, Duration::from_secs(1), drained);
}

fn a_second_signal_during_the_drain_exits_at_once() {
    let mut service = start_slow_server(&[("SHUTDOWN_TIMEOUT", "30")]);
    let _in_flight = slow_request_in_flight(&service, 30_000);

    service.signal(SIGTERM);
    service.wait_for_stdout_line(is_shutting_down);
    assert!(
        service.try_wait().is_none(),
        "exited with a request in flight"
    );

    service.signal(SIGTERM);
    let (status, elapsed) = service.expect_exit(Duration::from_secs(5));
    println!("second SIGTERM: exit {status:?} after {elapsed:?}");
    assert_eq!(status.code(), Some(128 + 15), "{status:?}");
    // Log lines are written by a background thread: even this exit writes them out.
    let stdout = service.stdout();
    assert!(
        stdout.contains("second signal during the drain"),
        "the forced exit lost its log line:\n{stdout}"
    );
}

fn the_drain_ends_at_shutdown_timeout() {
    let mut service = start_slow_server(&[("SHUTDOWN_TIMEOUT", "1")]);
    let _in_flight = slow_request_in_flight(&service, 30_000);

    service.signal(SIGTERM);
    let (status, elapsed) = service.expect_exit(Duration::from_secs(5));
    println!("drain timeout of 1 s: exit {status:?} after {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(900),
        "exited after {elapsed:?}, before the drain timeout, with a request in flight"
    );
}

/// A handler blocked in a system call never carries out actix's forced
/// close: the exit still comes at SHUTDOWN_TIMEOUT plus a small margin.
fn a_worker_blocked_in_a_handler_cannot_hold_the_exit() {
    let mut service = start_slow_server(&[("SHUTDOWN_TIMEOUT", "1")]);
    let mut blocked = service.connect();
    blocked.send("GET /block HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    service.wait_for_stdout_line(|line| line == BLOCK_STARTED);

    service.signal(SIGTERM);
    assert_exits_0_within(&mut service, Duration::from_secs(2), "a blocked worker");
    let stdout = service.stdout();
    assert!(
        stdout.contains("drain deadline passed"),
        "no word of the connection left open:\n{stdout}"
    );
}

/// A panicking handler costs its own request (a 500, and its connection
/// closed), not the process: requests in flight on other connections are
/// answered, and the service goes on serving. The tests run the dev
/// profile, which unwinds; so must the release profile, the image's.
fn a_panicking_handler_costs_only_its_own_request() {
    let release_profile = include_str!("../../Cargo.toml")
        .split("[profile.release]")
        .nth(1)
        .expect("a release profile in the workspace's Cargo.toml");
    let panic_setting = release_profile
        .lines()
        .take_while(|line| !line.starts_with('['))
        .find(|line| line.trim_start().starts_with("panic"));
    assert!(
        panic_setting.is_none_or(|line| line.contains("\"unwind\"")),
        "the release profile aborts on panic: {panic_setting:?}"
    );

    let mut service = start_slow_server(&[]);
    let mut idle = service.connect();
    assert_eq!(idle.keep_alive_request("GET", "/health").status, 200);
    let mut in_flight = slow_request_in_flight(&service, 1000);

    let mut panicking = service.connect();
    panicking.send("GET /panic HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: panic-1\r\n\r\n");
    let answer = panicking.read_response(false);
    assert_eq!(
        (answer.status, answer.text(), answer.closes()),
        (500, "{\"error\":\"internal\"}\n", true),
        "{answer:?}"
    );
    assert_eq!(answer.header("x-request-id"), Some("panic-1"));

    let slow = in_flight.read_response(false);
    assert_eq!((slow.status, slow.text()), (200, "slow done\n"));
    assert_eq!(idle.keep_alive_request("GET", "/health").status, 200);
    assert_eq!(service.request("GET", "/ready").status, 200);
    // Counted as answered 500; its route went down with the handler.
    let requests = Samples::scrape(service.metrics_port()).series("http_requests_total");
    assert_eq!(
        requests.get("method=GET,route=panicked,status=500"),
        Some(&1.0),
        "{requests:?}"
    );
    service.stop();

    let stdout = service.stdout();
    let logged = |found: &dyn Fn(&str) -> bool| stdout.lines().filter(|line| found(line)).count();
    assert_eq!(
        logged(&|line| line.contains(r#""level":"ERROR""#) && line.contains(PANIC_MESSAGE)),
        1,
        "the panic's one log line:\n{stdout}"
    );
    assert_eq!(
        logged(&|line| line.contains(r#""path":"/panic""#)
            && line.contains(r#""status":500"#)
            && line.contains(r#""request_id":"panic-1""#)),
        1,
        "the request line of /panic:\n{stdout}"
    );
}

/// A service that errs instead of answering (a fork's middleware, say):
/// actix answers with the error's response, and the request still has its
/// line and is counted, under the route `erred`.
fn an_error_instead_of_an_answer_is_logged_and_counted() {
    let mut service = start_slow_server(&[]);
    let mut connection = service.connect();
    connection.send("GET /erred HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: erred-1\r\n\r\n");
    let answer = connection.read_response(false);
    assert_eq!((answer.status, answer.text()), (503, "erred"), "{answer:?}");
    let requests = Samples::scrape(service.metrics_port()).series("http_requests_total");
    assert_eq!(
        requests.get("method=GET,route=erred,status=503"),
        Some(&1.0),
        "{requests:?}"
    );
    service.stop();
    let stdout = service.stdout();
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(r#""path":"/erred""#))
        .collect();
    assert_eq!(lines.len(), 1, "the request line of /erred:\n{stdout}");
    assert!(
        lines[0].contains(r#""status":503"#) && lines[0].contains(r#""request_id":"erred-1""#),
        "{}",
        lines[0]
    );
}

fn main() -> ExitCode {
    if std::env::var_os(ROLE).is_some() {
        return serve_with_slow_route();
    }
    let test = |name: &str, body: fn()| {
        Trial::test(name, move || {
            body();
            Ok(())
        })
    };
    let trials = vec![
        test("idle_sigterm_exits_0_at_once", || {
            idle_signal_exits_0_at_once(SIGTERM)
        }),
        test("idle_sigint_exits_0_at_once", || {
            idle_signal_exits_0_at_once(SIGINT)
        }),
        test(
            "sigterm_stops_accepting_and_answers_the_request_in_flight",
            sigterm_stops_accepting_and_answers_the_request_in_flight,
        ),
        test(
            "a_second_signal_during_the_drain_exits_at_once",
            a_second_signal_during_the_drain_exits_at_once,
        ),
        test(
            "the_drain_ends_at_shutdown_timeout",
            the_drain_ends_at_shutdown_timeout,
        ),
        test(
            "a_worker_blocked_in_a_handler_cannot_hold_the_exit",
            a_worker_blocked_in_a_handler_cannot_hold_the_exit,
        ),
        test(
            "a_panicking_handler_costs_only_its_own_request",
            a_panicking_handler_costs_only_its_own_request,
        ),
        test(
            "an_error_instead_of_an_answer_is_logged_and_counted",
            an_error_instead_of_an_answer_is_logged_and_counted,
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}
