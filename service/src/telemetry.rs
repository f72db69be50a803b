//! Logging: where log lines go, in which format, and the one line per request.
//!
//! Logs only ever go to stdout, through the queue of `log_writer.rs`:
//! the service never writes to the filesystem, so it runs unchanged on a
//! read-only root, and never waits on stdout, so a stalled log sink costs
//! log lines (counted, and said once it drains) but no request.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::{LogFormat, Settings};
use crate::log_writer::{self, LogWriter, WriterGuard};
use crate::panics;
use crate::request_id::RequestIds;
use crate::request_line;

/// Keeps the log writer thread running; dropping it writes out every queued
/// line. Hold it until the service has stopped.
#[must_use = "dropping the guard stops the log writer: hold it until the end"]
pub struct LogGuard {
    _flushes_on_drop: WriterGuard,
}

/// How request lines are written, when they are on.
enum RequestLines {
    /// By [`request_line`], straight into the log queue.
    Json(LogWriter),
    /// Through tracing, for humans: its cost does not matter there.
    Pretty,
}

/// Set once by [`init`], and only if `RUST_LOG` lets the request lines
/// through: a fixed filter need not be asked again on every request.
static REQUEST_LINES: OnceLock<RequestLines> = OnceLock::new();

/// The log queue, set once by [`init`], for [`print_line`].
static STDOUT: OnceLock<LogWriter> = OnceLock::new();

/// Installs the global log subscriber chosen by `LOG_FORMAT` and `RUST_LOG`.
pub fn init(settings: &Settings) -> LogGuard {
    let (writer, guard) = log_writer::start();
    let _ = STDOUT.set(writer.clone());
    panics::log_panics();
    let filter = settings.log_filter.clone();
    if filter.would_enable(request_line::TARGET, &Level::INFO) {
        let lines = match settings.log_format {
            LogFormat::Json => RequestLines::Json(writer.clone()),
            LogFormat::Pretty => RequestLines::Pretty,
        };
        // Only the first init counts, as with tracing's global subscriber.
        let _ = REQUEST_LINES.set(lines);
    }
    match settings.log_format {
        LogFormat::Json => json_logs(writer, filter).init(),
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(std::io::stdout().is_terminal())
            .finish()
            .with(filter)
            .init(),
    }
    LogGuard {
        _flushes_on_drop: guard,
    }
}

/// One JSON object per line, the event's fields at the top level.
fn json_logs<W>(writer: W, filter: Targets) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .finish()
        .with(filter)
}

/// Prints `line` on stdout as it is, through the log queue once [`init`] has
/// run: it never waits on a stalled sink, and keeps its place among the
/// log lines.
pub fn print_line(line: &str) {
    match STDOUT.get() {
        Some(writer) => writer.append(format!("{line}\n").as_bytes()),
        None => println!("{line}"),
    }
}

/// The start-up line: the effective configuration, with SECRET redacted,
/// and the ports bound (`metrics_port` absent when the metrics are off).
pub fn log_settings(settings: &Settings, port: u16, metrics_port: Option<u16>) {
    tracing::info!(
        host = %settings.host,
        port,
        metrics_port,
        rocket_size = %settings.rocket_size,
        lab_login = %settings.lab_login,
        lab_token = %settings.lab_token,
        secret = if settings.secret.is_some() { "<redacted>" } else { "<unset>" },
        shutdown_timeout_s = settings.shutdown_timeout.as_secs(),
        workers = settings.workers.get(),
        log_format = ?settings.log_format,
        rust_log = %settings.log_filter,
        "listening"
    );
}

/// Writes a request's one line: method, path, status, latency (`took`,
/// ended at `ended`), its request id and the caller's trace id.
///
/// Hand-written rather than tracing-actix-web: that crate opens a span per
/// request, which costs more than the single line needed here. The line is
/// queued before the answer is handed back to actix, so it is in the queue
/// before the connection can close: the drain at shutdown cannot lose it.
pub fn log_request_line(
    method: &Method,
    path: &str,
    status: StatusCode,
    ended: Instant,
    took: Duration,
    ids: &RequestIds,
) {
    if let Some(lines) = REQUEST_LINES.get() {
        let latency_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        match lines {
            RequestLines::Json(writer) => {
                let fields = request_line::Fields {
                    method,
                    path,
                    status,
                    latency_us,
                    request_id: ids.request_id_bytes(),
                    trace_id: ids.trace_id_bytes(),
                };
                let at = request_line::wall_time(ended);
                request_line::with_line(at, &fields, |line| writer.append(line));
            }
            RequestLines::Pretty => tracing::info!(
                target: request_line::TARGET,
                method = method.as_str(),
                path,
                status = status.as_u16(),
                latency_us,
                request_id = ids.request_id(),
                trace_id = ids.trace_id(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use serde_json::Value;

    use super::*;

    /// The line tracing-subscriber's JSON formatter, configured as [`init`]
    /// does, writes for the same event.
    fn through_tracing(fields: &request_line::Fields) -> String {
        let text = |bytes| std::str::from_utf8(bytes).unwrap();
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&written);
        let make_writer = move || Sink(Arc::clone(&sink));
        let filter: Targets = "info".parse().unwrap();
        tracing::subscriber::with_default(json_logs(make_writer, filter), || {
            tracing::info!(
                target: request_line::TARGET,
                method = fields.method.as_str(),
                path = fields.path,
                status = fields.status.as_u16(),
                latency_us = fields.latency_us,
                request_id = text(fields.request_id),
                trace_id = fields.trace_id.map(text),
            );
        });
        String::from_utf8(written.lock().unwrap().clone()).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Any method and path stay one line of valid JSON, the very line
    /// tracing-subscriber wrote: a method of HTTP's and one of a client's
    /// own, with every character `Method` admits; quotes, backslashes, control bytes
    /// and what a client's bytes that are not UTF-8 become once decoded
    /// lossily in the path; with a trace id and without.
    #[test]
    fn the_request_line_is_tracing_subscribers_line_byte_for_byte() {
        let not_utf8 = String::from_utf8_lossy(b"/\xff\xfe").into_owned();
        let paths = [
            "/health",
            "/q\"uo\"te",
            "/back\\slash",
            "/ctl\u{0}\u{1}\u{8}\u{c}\u{1b}\n\r\t\u{1f}\u{7f}",
            "/é🚀",
            &not_utf8,
        ];
        let traces = [None, Some("4bf92f3577b34da6a3ce929d0e0e4736")];
        let own = Method::from_bytes(b"M-SEARCH!*+.^_`|~09az").unwrap();
        let cases = [&Method::GET, &own]
            .into_iter()
            .flat_map(|m| paths.map(|p| (m, p)))
            .flat_map(|(m, p)| traces.map(|t| (m, p, t)));
        for (method, path, trace_id) in cases {
            let fields = request_line::Fields {
                method,
                path,
                status: StatusCode::OK,
                latency_us: 41,
                request_id: b"0f8fad5b-d9cb-469f-a165-70867728950e",
                trace_id: trace_id.map(str::as_bytes),
            };
            let expected = through_tracing(&fields);
            let now = request_line::unix_time(SystemTime::now());
            let ours = request_line::with_line(now, &fields, <[u8]>::to_vec);
            let ours = String::from_utf8(ours).unwrap();
            assert_eq!(ours.matches('\n').count(), 1, "{ours:?}");
            let parsed: Value = serde_json::from_str(&ours).expect("valid JSON");
            assert_eq!(
                (parsed["method"].as_str(), parsed["path"].as_str()),
                (Some(method.as_str()), Some(path))
            );
            // The same bytes, but for the instant in the timestamp.
            let timestamp =
                |line: &str| serde_json::from_str::<Value>(line).unwrap()["timestamp"].clone();
            let (expected_time, our_time) = (timestamp(&expected), timestamp(&ours));
            assert_eq!(
                ours.replacen(our_time.as_str().unwrap(), "T", 1),
                expected.replacen(expected_time.as_str().unwrap(), "T", 1),
                "{method:?} {path:?}"
            );
            assert_eq!(
                our_time.as_str().unwrap().len(),
                expected_time.as_str().unwrap().len()
            );
        }
    }
}
