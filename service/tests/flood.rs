//! Clients that pipeline requests and never read the answers cannot grow the
//! service's memory, and clients that pipeline and do read get every answer,
//! in order (backpressure.rs). Every flood here is bounded: 20 connections,
//! 10 s, loopback only.

mod support;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::{Service, address};

/// Connections that send and never read.
const FLOODERS: usize = 20;
const FLOOD_FOR: Duration = Duration::from_secs(10);
/// The memory limit of one pod in deploy/k8s/deployment.yaml.
const POD_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;
/// How long the probe of another client may take while the flood goes on.
const PROBE_LIMIT: Duration = Duration::from_secs(1);

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Sends `GET /health` pipelined, 1,000 to a write, until `until`, never
/// reading; connects again if the service closes the connection.
fn flood(port: u16, until: Instant) {
    let burst = HEALTH.repeat(1000).into_bytes();
    while Instant::now() < until {
        let Ok(mut stream) = TcpStream::connect(address(port)) else {
            continue;
        };
        stream
            .set_write_timeout(Some(Duration::from_millis(100)))
            .expect("a write timeout");
        // Where the next write starts in the burst: a partial write must not
        // cut a request in two.
        let mut at = 0;
        while Instant::now() < until {
            match stream.write(&burst[at..]) {
                Ok(written) => at = (at + written) % burst.len(),
                // The service has stopped reading: that is the point.
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}

#[test]
fn clients_that_never_read_cannot_exhaust_memory_or_starve_others() {
    let service = Service::start(&[]);
    let until = Instant::now() + FLOOD_FOR;
    let (peak, slowest) = thread::scope(|scope| {
        for _ in 0..FLOODERS {
            scope.spawn(|| flood(service.port, until));
        }
        let (mut peak, mut slowest) = (0, Duration::ZERO);
        // A sample every 100 ms or so: memory, then another client's probe.
        while Instant::now() < until {
            peak = peak.max(service.resident_bytes());
            let asked = Instant::now();
            assert_eq!(service.request("GET", "/health").status, 200);
            slowest = slowest.max(asked.elapsed());
            thread::sleep(Duration::from_millis(100));
        }
        (peak, slowest)
    });
    println!(
        "peak resident memory {} MiB, slowest probe {slowest:?}",
        peak >> 20
    );
    assert!(
        peak < POD_MEMORY_LIMIT,
        "resident memory reached {} MiB with {FLOODERS} clients that never read",
        peak >> 20
    );
    assert!(
        slowest < PROBE_LIMIT,
        "a probe took {slowest:?} during the flood"
    );
}

/// Requests pipelined on one connection, the answers read back in order:
/// `(path, status, body)` by turns.
const PIPELINED: [(&str, u16, &str); 4] = [
    ("/", 200, "Hello from Docker! Rocket=Small\n"),
    ("/health", 200, ""),
    ("/ready", 200, "{\"status\":\"ready\"}\n"),
    ("/nope", 404, "{\"error\":\"not-found\"}\n"),
];

/// Sends `count` requests in one write from another thread (as pipelining
/// clients do, so that neither side waits on the other's buffers) and
/// reads every answer, checking each against the request in its place.
fn pipeline(service: &Service, count: usize) {
    let mut connection = service.connect();
    let mut sender = connection.sender();
    let requests: String = PIPELINED
        .iter()
        .cycle()
        .take(count)
        .map(|(path, _, _)| format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        .collect();
    thread::scope(|scope| {
        scope.spawn(move || {
            sender
                .write_all(requests.as_bytes())
                .expect("send the requests")
        });
        for (answer, (path, status, body)) in PIPELINED.iter().cycle().take(count).enumerate() {
            let response = connection.read_response(false);
            assert_eq!(response.status, *status, "answer {answer}, {path}");
            if !body.is_empty() {
                assert_eq!(response.text(), *body, "answer {answer}, {path}");
            }
        }
    });
}

#[test]
fn pipelining_clients_that_read_get_every_answer_in_order() {
    let service = Service::start(&[]);
    // A few requests in flight at a time, as HTTP/1.1 pipelining clients do.
    for _ in 0..100 {
        pipeline(&service, 4);
    }
    // 2,000 at once: some 80 KiB, read by the service over many turns.
    pipeline(&service, 2_000);
}
