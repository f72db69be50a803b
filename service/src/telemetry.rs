//! Logging: where log lines go, in which format, and the one line per request.
//!
//! Logs only ever go to stdout: the service never writes to the filesystem,
//! so it runs unchanged on a read-only root.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::configuration::{LogFormat, Settings};

/// Installs the global log subscriber chosen by `LOG_FORMAT` and `RUST_LOG`.
pub fn init(settings: &Settings) {
    let builder = tracing_subscriber::fmt().with_writer(std::io::stdout);
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
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    let request = response.request();
    tracing::info!(
        target: "service::request",
        method = %request.method(),
        path = request.path(),
        status = response.status().as_u16(),
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    Ok(response)
}
