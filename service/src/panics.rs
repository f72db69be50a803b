//! A panicking handler costs its own request, not the process.
//!
//! The release profile unwinds (Cargo.toml says why), so a panic can be
//! caught: the request gets a 500, the panic one log line, and the
//! connection and every other request go on. A panic outside a handler
//! (in actix itself) still ends only its connection's task.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, Method, StatusCode};
use actix_web::{Error, HttpResponse, ResponseError};
use futures_util::FutureExt;

use crate::request_id::{RequestIds, X_REQUEST_ID};
use crate::{routes, telemetry};

/// `app`'s answer to `request`; if calling or answering panics, the
/// request's line (status 500) and an error that actix answers with a 500.
pub fn answer_500_on_panic<S>(
    app: &S,
    request: ServiceRequest,
    started: Instant,
    ids: RequestIds,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error>,
{
    let asked = Asked::new(&request);
    // actix runs a handler when its future is polled, not when called.
    let answering = AssertUnwindSafe(app.call(request)).catch_unwind();
    async move {
        if let Ok(answer) = answering.await {
            return answer;
        }
        let status = StatusCode::INTERNAL_SERVER_ERROR;
        telemetry::log_request_line(&asked.method, &asked.path(), status, started, &ids);
        Err(HandlerPanicked(ids).into())
    }
}

/// The longest path a panicked request's line shows; longer ones are cut.
const PATH_KEPT: usize = 96;

/// What a request asked, kept for its line in case its handler panics. The
/// request itself cannot be kept (routing needs it unshared), and cloning
/// its URI (an allocation, to share its bytes) cost 130 instructions a
/// request more than this copy of the path's start (callgrind).
struct Asked {
    method: Method,
    path: [u8; PATH_KEPT],
    path_length: usize,
    cut: bool,
}

impl Asked {
    fn new(request: &ServiceRequest) -> Self {
        let path = request.path().as_bytes();
        let path_length = path.len().min(PATH_KEPT);
        let mut kept = [0; PATH_KEPT];
        kept[..path_length].copy_from_slice(&path[..path_length]);
        Self {
            method: request.method().clone(),
            path: kept,
            path_length,
            cut: path.len() > PATH_KEPT,
        }
    }

    fn path(&self) -> String {
        let kept = String::from_utf8_lossy(&self.path[..self.path_length]);
        if self.cut {
            format!("{kept}...")
        } else {
            kept.into_owned()
        }
    }
}

/// A handler panicked: answered 500, and the connection closed, as whatever
/// the handler shared with the next request may be half-changed.
struct HandlerPanicked(RequestIds);

impl fmt::Debug for HandlerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandlerPanicked({})", self.0.request_id())
    }
}

impl fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the handler panicked")
    }
}

impl ResponseError for HandlerPanicked {
    fn error_response(&self) -> HttpResponse {
        let mut response = routes::internal_error();
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response.headers_mut().insert(X_REQUEST_ID, self.0.header());
        response
    }
}

/// Makes every panic one log line (level ERROR: what, where, on which
/// thread) instead of the default message on stderr, which no log collector
/// parses and which, written to a stalled pipe, would block the panicking
/// thread. A handler's panic is followed by its request's line, status 500.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|panic: &PanicHookInfo<'_>| {
        let location = panic
            .location()
            .map(|at| format!("{}:{}", at.file(), at.line()));
        tracing::error!(
            panic = panic.payload_as_str().unwrap_or("(not a string)"),
            location = location.as_deref().unwrap_or("unknown"),
            thread = std::thread::current().name().unwrap_or("unnamed"),
            "panicked"
        );
    }));
}
