//! Clients that pipeline requests and never read the answers: how much
//! memory a server gives them, and whether another client still gets its
//! answers meanwhile.
//!
//! No load generator does this (wrk and its kind read every answer), so
//! the clients are written here: each a thread with one connection that
//! sends `GET /health` 1,000 to a write, and connects again if the server
//! closes it. Bounded in clients and time, on 127.0.0.1 only.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use super::procfs;

/// Connections that send and never read.
pub const CLIENTS: usize = 20;

const HEALTH: &str = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// What a flood did to a server.
pub struct Flooded {
    /// The peak of its processes' resident memory, in bytes.
    pub peak_rss: u64,
    /// The slowest answer to another client's `GET /health` meanwhile; a
    /// probe that got no answer counts as its 2 s timeout.
    pub slowest_probe: Duration,
}

/// Floods the server on `port` (its processes: `pids`) for `seconds`.
pub fn run(port: u16, pids: Vec<i32>, seconds: u64) -> Flooded {
    let until = Instant::now() + Duration::from_secs(seconds);
    let (slowest_probe, peak_rss) = procfs::peak_rss(pids, || {
        thread::scope(|scope| {
            for _ in 0..CLIENTS {
                scope.spawn(|| flood(port, until));
            }
            let mut slowest = Duration::ZERO;
            while Instant::now() < until {
                let asked = Instant::now();
                let answered =
                    toolkit::http::http_get(port, "/health").is_ok_and(|a| a.status == 200);
                let took = if answered {
                    asked.elapsed()
                } else {
                    Duration::from_secs(2)
                };
                slowest = slowest.max(took);
                thread::sleep(Duration::from_millis(100));
            }
            slowest
        })
    });
    Flooded {
        peak_rss,
        slowest_probe,
    }
}

/// One client: sends until `until`, never reads.
fn flood(port: u16, until: Instant) {
    let burst = HEALTH.repeat(1000).into_bytes();
    while Instant::now() < until {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        if stream
            .set_write_timeout(Some(Duration::from_millis(100)))
            .is_err()
        {
            return;
        }
        // Where the next write starts: a partial write must not cut a
        // request in two.
        let mut at = 0;
        while Instant::now() < until {
            match stream.write(&burst[at..]) {
                Ok(written) => at = (at + written) % burst.len(),
                // The server has stopped reading.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
    }
}
