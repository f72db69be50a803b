//! Every request's first and last steps: its ids, its metrics, a 500 for a
//! panicking handler, `Connection: close` while draining, the answer's
//! `X-Request-Id` and the request's line.
//!
//! One future for all of it, kept small: actix moves each request's future
//! into its connection's state, a copy of every byte of it. The panic's
//! catch as a future of its own inside this one, each keeping a copy of the
//! ids, and the end read from the clock twice (the line's, the metrics'),
//! cost 280 instructions a request more (callgrind, `GET /health`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use futures_util::FutureExt;

use crate::panics::{Asked, HandlerPanicked};
use crate::request_id::{RequestIds, X_REQUEST_ID};
use crate::request_metrics::{self, InFlight, WorkerMetrics};
use crate::shutdown::{self, Lifecycle};
use crate::telemetry;

/// `app`'s answer to `request`, with its steps around it: `lifecycle` and
/// `metrics` are the worker's handles (`metrics` if they are on), shared
/// with the request without an atomic.
pub fn answer<S>(
    app: &S,
    request: ServiceRequest,
    lifecycle: &Rc<Lifecycle>,
    metrics: Option<&Rc<WorkerMetrics>>,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error>,
{
    let started = Instant::now();
    let ids = RequestIds::of(request.headers());
    let in_flight = metrics.map(|metrics| metrics.begin(request.method()));
    let asked = Asked::new(&request);
    let lifecycle = Rc::clone(lifecycle);
    // actix runs a handler when its future is polled, not when called; the
    // release profile unwinds (see panics.rs).
    let answering = AssertUnwindSafe(app.call(request)).catch_unwind();
    async move {
        let answered = answering.await;
        // The one clock read that ends the request, for its line and its
        // metrics both.
        let ended = Instant::now();
        let took = ended.duration_since(started);
        // A request answered without a response: its line and metrics
        // from what it asked.
        let failed = |in_flight: Option<InFlight>, status: StatusCode, route| {
            let path = asked.path();
            telemetry::log_request_line(&asked.method, &path, status, ended, took, &ids);
            if let Some(in_flight) = in_flight {
                in_flight.failed(route, status, took);
            }
        };
        match answered {
            Ok(Ok(mut response)) => {
                shutdown::close_if_draining(&mut response, &lifecycle);
                let request = response.request();
                let status = response.status();
                telemetry::log_request_line(
                    request.method(),
                    request.path(),
                    status,
                    ended,
                    took,
                    &ids,
                );
                if let Some(in_flight) = in_flight {
                    in_flight.answered(&response, took);
                }
                let id = ids.into_header();
                response.headers_mut().insert(X_REQUEST_ID.clone(), id);
                Ok(response)
            }
            // A service (a fork's middleware, say) erred instead of
            // answering; actix answers with the error's response.
            Ok(Err(error)) => {
                failed(
                    in_flight,
                    error.as_response_error().status_code(),
                    request_metrics::ERRED,
                );
                Err(error)
            }
            // The request went down with its handler: it gets a 500, and
            // its connection is closed (panics.rs).
            Err(_panic) => {
                failed(
                    in_flight,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    request_metrics::PANICKED,
                );
                Err(HandlerPanicked(ids).into())
            }
        }
    }
}
