//! Logging: where log lines go, in which format, and the one line per request.
//!
//! Logs only ever go to stdout: the service never writes to the filesystem,
//! so it runs unchanged on a read-only root.
//!
//! Request handlers never write to stdout themselves: they queue their line
//! for a writer thread (tracing-appender's non-blocking writer), which writes
//! whatever has queued up in one `write` once the queue is empty. Under load
//! that is one system call for dozens of lines instead of one per request
//! (measured: about 7 % more requests per second on 2 cores, and 20 % in a
//! container, where every write crosses a pipe to the log driver); when
//! idle, each line is written as soon as it is logged.

use std::io::{BufWriter, IsTerminal};
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::{LogFormat, Settings};
use crate::shutdown::Lifecycle;

/// The target of the per-request lines: `RUST_LOG=info,service::request=off`
/// turns them off.
const REQUEST_TARGET: &str = "service::request";

/// At most this many log lines wait for the writer thread; a request that
/// would queue one more waits instead (nothing is dropped), as it would on a
/// slow stdout. Bounds the queue's memory to a few hundred kB.
const QUEUED_LINES_LIMIT: usize = 1024;

/// Keeps the log writer thread running; dropping it writes out every queued
/// line. Hold it until the service has stopped.
#[must_use = "dropping the guard stops the log writer: hold it until the end"]
pub struct LogGuard {
    _flushes_on_drop: tracing_appender::non_blocking::WorkerGuard,
}

/// Installs the global log subscriber chosen by `LOG_FORMAT` and `RUST_LOG`.
pub fn init(settings: &Settings) -> LogGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(QUEUED_LINES_LIMIT)
        .lossy(false)
        .thread_name("log-writer")
        // Batches the queued lines; flushed each time the queue runs empty.
        .finish(BufWriter::new(std::io::stdout()));
    let builder = tracing_subscriber::fmt().with_writer(writer);
    let filter = settings.log_filter.clone();
    match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .finish()
            .with(filter)
            .init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::stdout().is_terminal())
            .finish()
            .with(filter)
            .init(),
    }
    LogGuard {
        _flushes_on_drop: guard,
    }
}

/// The start-up line: the effective configuration, with SECRET redacted.
pub fn log_settings(settings: &Settings, port: u16) {
    tracing::info!(
        host = %settings.host,
        port,
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

/// Middleware writing one line per request: method, path, status, latency.
///
/// Hand-written rather than tracing-actix-web: that crate opens a span per
/// request, which costs more than the single event needed here.
///
/// The line is formatted in a task of its own, which the worker runs once
/// this request's task yields, that is after the answer has been written to
/// the socket: JSON formatting costs about as many instructions as actix's
/// whole handling of a `/health` request (measured with callgrind), and the
/// client need not wait for it. The task holds the drain open until its
/// line is queued, so no line is lost at shutdown.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    if tracing::enabled!(target: REQUEST_TARGET, Level::INFO) {
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let status = response.status().as_u16();
        let request = response.request();
        // Copies, not the request itself: actix reuses a request's memory
        // once the answer is out, and holding it would defeat that.
        let method = request.method().clone();
        let path = request.path().to_owned();
        let pending = request.app_data::<Lifecycle>().map(Lifecycle::in_progress);
        actix_web::rt::spawn(async move {
            let _drain_waits_for_this_line = pending;
            tracing::info!(
                target: REQUEST_TARGET,
                method = method.as_str(),
                path,
                status,
                latency_us,
            );
        });
    }
    Ok(response)
}
