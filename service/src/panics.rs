//! A panicking handler costs its own request, not the process.
//!
//! The release profile unwinds (Cargo.toml says why), so a panic can be
//! caught (middleware.rs does): the request gets a 500 and its line, the
//! panic one log line, and every other request goes on. A panic outside a
//! handler (in actix itself) still ends only its connection's task.

use std::fmt;
use std::panic::PanicHookInfo;

use actix_web::dev::ServiceRequest;
use actix_web::http::{ConnectionType, Method};
use actix_web::{HttpResponse, ResponseError};

use crate::request_id::{RequestIds, X_REQUEST_ID};
use crate::routes;

/// The longest path a panicked request's line shows; longer ones are cut.
/// A path with a UUID in it fits; every byte kept is copied with the
/// request's future (keeping 96 cost 17 instructions a request more).
const PATH_KEPT: usize = 64;

/// What a request asked, kept for its line in case it is answered without
/// a response (its handler panicked, a service erred). The request itself
/// cannot be kept (routing needs it unshared), and cloning its URI (an
/// allocation, to share its bytes) cost 130 instructions a request more
/// than this copy of the path's start (callgrind).
pub struct Asked {
    pub method: Method,
    path: [u8; PATH_KEPT],
    path_length: u8,
    cut: bool,
}

impl Asked {
    pub fn new(request: &ServiceRequest) -> Self {
        let path = request.path().as_bytes();
        let path_length = path.len().min(PATH_KEPT);
        let mut kept = [0; PATH_KEPT];
        kept[..path_length].copy_from_slice(&path[..path_length]);
        Self {
            method: request.method().clone(),
            path: kept,
            path_length: path_length as u8,
            cut: path.len() > PATH_KEPT,
        }
    }

    /// The path asked, cut after [`PATH_KEPT`] bytes (`...` then says so).
    pub fn path(&self) -> String {
        let kept = String::from_utf8_lossy(&self.path[..usize::from(self.path_length)]);
        if self.cut {
            format!("{kept}...")
        } else {
            kept.into_owned()
        }
    }
}

/// A handler panicked: answered 500, and the connection closed, as whatever
/// the handler shared with the next request may be half-changed.
pub struct HandlerPanicked(pub RequestIds);

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
        response
            .headers_mut()
            .insert(X_REQUEST_ID.clone(), self.0.header());
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
