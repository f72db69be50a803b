//! Prometheus metrics: what the requests did, and the process that answered
//! them, in the OpenMetrics text format on a port of their own
//! (`METRICS_PORT`, see README) through the Prometheus project's own client
//! crate, `prometheus-client`.
//!
//! Per request: `http_requests_total` and `http_request_duration_seconds`,
//! both by method, route and status, and `http_requests_in_flight`. The
//! route is the pattern that matched (`/health`, `/orders/{id}`), never the
//! path a client sent, so a scanner trying random URLs adds one series
//! (route `unmatched`), not one per URL; the method is one of HTTP's nine or
//! `other`, for the same reason. Process figures come from `/proc` at each
//! scrape (process.rs), with the build's name and version as `build_info`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes, ServiceConfig};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::process::ProcessCollector;
use crate::routes;

/// The route of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The route of a request whose handler panicked: the request, and with it
/// which route it matched, went down with the handler (see panics.rs).
pub const PANICKED: &str = "panicked";

/// The exposition format `prometheus_client::encoding::text` writes.
const OPENMETRICS: HeaderValue =
    HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");

/// Upper bounds of the duration buckets, in seconds: from 10 µs, since this
/// service answers its own routes in 10 to 60 µs, to 25 s for a fork's slow
/// routes; steps of 1, 2.5, 5 as in Prometheus's own defaults.
const DURATION_BUCKETS: [f64; 20] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0,
];

/// The labels of a request's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// The request metrics, as the workers record them.
#[derive(Clone)]
pub struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

/// One worker's way into [`RequestMetrics`]: its own handles on the series
/// it has recorded into, found again by a short scan. The families' own
/// lookup hashes the labels (SipHash) and takes a lock, twice a request:
/// recording cost 1,540 instructions a request that way, 730 with the scan
/// (callgrind, `GET /health`).
pub struct WorkerMetrics {
    shared: RequestMetrics,
    series: RefCell<Vec<Series>>,
}

/// A series' labels and its two metrics.
struct Series {
    labels: RequestLabels,
    /// Where the name of its route's resource is kept, if it has one.
    name_at: Option<usize>,
    requests: Counter,
    durations: Histogram,
}

/// How a request's route is known.
enum Route<'a> {
    /// By its resource's name, or rather where the worker's app keeps it
    /// (for the worker's life): found without building the pattern, an
    /// allocation, which took recording from 300 instructions a request to
    /// 730. [`crate::routes::get_resource`] names the lab's routes so.
    Named(&'a str),
    /// By the pattern itself (a resource without a name), or none matched.
    Pattern(Option<String>),
}

impl RequestMetrics {
    /// A worker's handle.
    pub fn for_worker(&self) -> Rc<WorkerMetrics> {
        Rc::new(WorkerMetrics {
            shared: self.clone(),
            series: RefCell::default(),
        })
    }
}

impl WorkerMetrics {
    /// A request with this method has begun.
    pub fn begin(self: &Rc<Self>, method: &Method) -> InFlight {
        self.shared.in_flight.inc();
        InFlight {
            metrics: Rc::clone(self),
            method: method_label(method),
        }
    }

    /// Counts a request and its duration in its series, found by `route`
    /// (whose pattern, when needed, `pattern` gives).
    fn record(
        &self,
        (method, status): (&'static str, u16),
        route: Route,
        pattern: impl FnOnce() -> Option<String>,
        took: Duration,
    ) {
        let mut series = self.series.borrow_mut();
        let is_it = |known: &Series| {
            known.labels.status == status
                && known.labels.method == method
                && match &route {
                    Route::Named(name) => known.name_at == Some(name.as_ptr() as usize),
                    Route::Pattern(pattern) => {
                        known.name_at.is_none()
                            && known.labels.route == pattern.as_deref().unwrap_or(UNMATCHED)
                    }
                }
        };
        let index = match series.iter().position(is_it) {
            Some(index) => index,
            None => {
                let (name_at, pattern) = match route {
                    Route::Named(name) => (Some(name.as_ptr() as usize), pattern()),
                    Route::Pattern(pattern) => (None, pattern),
                };
                let labels = RequestLabels {
                    status,
                    method,
                    route: pattern.unwrap_or_else(|| UNMATCHED.to_owned()),
                };
                let shared = &self.shared;
                series.push(Series {
                    requests: shared.requests.get_or_create_owned(&labels),
                    durations: shared.durations.get_or_create_owned(&labels),
                    labels,
                    name_at,
                });
                series.len() - 1
            }
        };
        let found = &series[index];
        found.requests.inc();
        found.durations.observe(took.as_secs_f64());
    }
}

/// A request being answered: counted in flight until dropped, also when
/// its future is dropped unfinished (a client gone, a drain cut short).
pub struct InFlight {
    metrics: Rc<WorkerMetrics>,
    method: &'static str,
}

impl InFlight {
    /// Answered, `took` after it began.
    pub fn answered<B>(self, response: &ServiceResponse<B>, took: Duration) {
        let request = response.request();
        let route = match request.match_name() {
            Some(name) => Route::Named(name),
            None => Route::Pattern(request.match_pattern()),
        };
        let status = response.status().as_u16();
        let pattern = || request.match_pattern();
        self.metrics
            .record((self.method, status), route, pattern, took);
    }

    /// Answered without a route, by an error: the handler panicked.
    pub fn failed(self, status: StatusCode, took: Duration) {
        let route = Route::Pattern(Some(PANICKED.to_owned()));
        self.metrics
            .record((self.method, status.as_u16()), route, || None, took);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.shared.in_flight.dec();
    }
}

/// HTTP's own methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Every metric, registered: the registry the endpoint encodes, and the
/// request metrics the workers record into.
pub fn register() -> (Registry, RequestMetrics) {
    let mut registry = Registry::default();
    let requests = RequestMetrics {
        requests: Family::default(),
        durations: Family::new_with_constructor(duration_histogram),
        in_flight: Gauge::default(),
    };
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route (the pattern matched) and status",
        requests.requests.clone(),
    );
    registry.register_with_unit(
        "http_request_duration",
        "Time from a request's arrival to its answer's headers, by method, route and status",
        Unit::Seconds,
        requests.durations.clone(),
    );
    registry.register(
        "http_requests_in_flight",
        "HTTP requests being answered now",
        requests.in_flight.clone(),
    );
    let build_info = Family::<[(&'static str, &'static str); 2], Gauge>::default();
    build_info
        .get_or_create(&[
            ("name", env!("CARGO_PKG_NAME")),
            ("version", env!("CARGO_PKG_VERSION")),
        ])
        .set(1);
    registry.register(
        "build_info",
        "The service's package name and version; always 1",
        build_info,
    );
    registry.register_collector(Box::new(ProcessCollector));
    (registry, requests)
}

/// Mounts `GET /metrics` (and 404 for anything else) on the metrics port's app.
pub fn configure_endpoint(config: &mut ServiceConfig, registry: Arc<Registry>) {
    config
        .app_data(web::Data::from(registry))
        .service(routes::get_resource("/metrics", scrape))
        .default_service(web::to(routes::not_found));
}

async fn scrape(registry: web::Data<Registry>) -> HttpResponse {
    let mut text = String::with_capacity(8 * 1024);
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => routes::respond(StatusCode::OK, OPENMETRICS, Bytes::from(text)),
        Err(error) => {
            tracing::error!(%error, "cannot encode the metrics");
            routes::internal_error()
        }
    }
}
