//! `service healthcheck`: the image's HEALTHCHECK, in an image with no shell
//! and no curl.
//!
//! A hand-written HTTP/1.0 GET over `std::net`: every HTTP client crate would
//! add an async runtime or TLS stack to the binary for one local request.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The whole check must end within this time.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Answers larger than this are not a healthy `/health`.
const MAX_ANSWER: u64 = 64 * 1024;

/// The address to probe: the bound host, or loopback when bound to all interfaces.
pub fn probe_address(host: IpAddr, port: u16) -> SocketAddr {
    let host = match host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    SocketAddr::new(host, port)
}

/// `GET /health` on `address`; `Ok` with the status line and body when the
/// answer is a 200 saying `"status":"ok"`, `Err` with the reason otherwise.
pub fn check(address: SocketAddr, timeout: Duration) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    let answer = fetch(address, deadline).map_err(|error| match error.kind() {
        // A read timeout shows as WouldBlock on Linux: say what it means.
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("GET http://{address}/health: no answer within {timeout:?}")
        }
        _ => format!("GET http://{address}/health: {error}"),
    })?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status_line = head.lines().next().unwrap_or_default();
    let healthy =
        status_line.split_whitespace().nth(1) == Some("200") && body.contains("\"status\":\"ok\"");
    let summary = format!("{status_line} {}", body.trim_end());
    if healthy { Ok(summary) } else { Err(summary) }
}

fn fetch(address: SocketAddr, deadline: Instant) -> io::Result<String> {
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    };
    let mut stream = TcpStream::connect_timeout(&address, remaining()?)?;
    stream.set_write_timeout(Some(remaining()?))?;
    stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    let mut limited = (&stream).take(MAX_ANSWER);
    loop {
        stream.set_read_timeout(Some(remaining()?))?;
        match limited.read(&mut buffer)? {
            0 => break,
            n => answer.extend_from_slice(&buffer[..n]),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
