//! The request metrics: `http_requests_total` and
//! `http_request_duration_seconds` by method, route and status, and
//! `http_requests_in_flight`, as the workers record them.
//!
//! Each worker records into figures of its own, and a scrape sums every
//! worker's; `prometheus-client` still writes the text, through the
//! [`Collector`] here. Its own metrics (a `Family` of `Histogram`s and one
//! of `Counter`s), shared by all workers, cost more: a request took the
//! histogram's lock and updated atomics on cache lines that every worker
//! writes. Counted with callgrind (`GET /health`, with metrics and without):
//! 300 instructions a request that way, 160 this way. On 2 cores the shared
//! cache lines made no difference in requests/s beyond the runs' noise;
//! with more cores they would.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::{Method, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::log_writer::lock;

/// The route of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The route of a request whose handler panicked: the request, and with it
/// which route it matched, went down with the handler (see panics.rs).
pub const PANICKED: &str = "panicked";

/// The route of a request a service answered with an error instead of a
/// response (a fork's middleware, say), which leaves the route unknown.
pub const ERRED: &str = "erred";

/// Upper bounds of the duration buckets, in nanoseconds: from 10 µs, since
/// this service answers its own routes in 10 to 60 µs, to 25 s for a fork's
/// slow routes; steps of 1, 2.5, 5 as in Prometheus's own defaults.
const BUCKET_NANOS: [u64; 20] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    25_000_000_000,
];

/// HTTP's own methods, labelled by name; any other is `other`.
const METHODS: [Method; 9] = [
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

/// The labels of a request's series.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// A fixed label ([`UNMATCHED`], [`PANICKED`], [`ERRED`]) borrowed, a
    /// route's pattern owned.
    route: Cow<'static, str>,
    status: u16,
}

/// Every worker's figures, for the scrape to sum.
#[derive(Clone, Debug, Default)]
pub struct RequestMetrics(Arc<AllWorkers>);

#[derive(Debug, Default)]
struct AllWorkers {
    /// Each worker's figures of each series it has recorded into.
    series: Mutex<Vec<(RequestLabels, Arc<Figures>)>>,
    /// Each worker's requests in flight.
    in_flight: Mutex<Vec<Arc<AtomicI64>>>,
}

/// One worker's figures of one series. Only that worker writes them, so
/// their cache lines stay on its core but for a scrape's reads.
#[derive(Debug, Default)]
struct Figures {
    /// Requests by the first bucket whose bound their duration is within;
    /// the last: above every bound.
    buckets: [AtomicU64; BUCKET_NANOS.len() + 1],
    sum_nanos: AtomicU64,
}

/// One worker's way into the metrics: its own figures, found again by a
/// short scan of its series, and its count of requests in flight.
pub struct WorkerMetrics {
    all: RequestMetrics,
    in_flight: Arc<AtomicI64>,
    series: RefCell<Vec<Series>>,
}

/// A series this worker has recorded into.
struct Series {
    labels: RequestLabels,
    /// Its method, as [`method_index`] gives it: compared faster than text.
    method: u8,
    /// Where the name of its route's resource is kept, if it has one.
    name_at: Option<usize>,
    figures: Arc<Figures>,
}

/// How a request's route is known.
enum Route<'a> {
    /// By its resource's name, or rather where the worker's app keeps it
    /// (for the worker's life): found without building the pattern, an
    /// allocation, which took recording from 300 instructions a request to
    /// 730. [`crate::routes::get_resource`] names the lab's routes so.
    Named(&'a str),
    /// By the pattern itself (a resource without a name) or a fixed label.
    Label(Cow<'static, str>),
}

impl RequestMetrics {
    /// A worker's handle.
    pub fn for_worker(&self) -> Rc<WorkerMetrics> {
        let in_flight = Arc::<AtomicI64>::default();
        lock(&self.0.in_flight).push(Arc::clone(&in_flight));
        Rc::new(WorkerMetrics {
            all: self.clone(),
            in_flight,
            series: RefCell::default(),
        })
    }
}

impl WorkerMetrics {
    /// A request with this method has begun.
    pub fn begin(self: &Rc<Self>, method: &Method) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            metrics: Rc::clone(self),
            method: method_index(method),
        }
    }

    /// Counts a request and its duration in its series, found by `route`
    /// (whose pattern, when needed, `pattern` gives).
    fn record(
        &self,
        (method, status): (u8, u16),
        route: Route,
        pattern: impl FnOnce() -> Cow<'static, str>,
        took: Duration,
    ) {
        let mut series = self.series.borrow_mut();
        let is_it = |known: &Series| {
            known.labels.status == status
                && known.method == method
                && match &route {
                    Route::Named(name) => known.name_at == Some(name.as_ptr() as usize),
                    Route::Label(label) => known.name_at.is_none() && known.labels.route == *label,
                }
        };
        let index = match series.iter().position(is_it) {
            Some(index) => index,
            None => {
                let (name_at, route) = match route {
                    Route::Named(name) => (Some(name.as_ptr() as usize), pattern()),
                    Route::Label(label) => (None, label),
                };
                let labels = RequestLabels {
                    status,
                    method: method_label(method),
                    route,
                };
                let figures = Arc::<Figures>::default();
                lock(&self.all.0.series).push((labels.clone(), Arc::clone(&figures)));
                series.push(Series {
                    labels,
                    method,
                    name_at,
                    figures,
                });
                series.len() - 1
            }
        };
        let figures = &series[index].figures;
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BUCKET_NANOS.len());
        figures.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        figures.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// A request being answered: counted in flight until dropped, also when
/// its future is dropped unfinished (a client gone, a drain cut short).
pub struct InFlight {
    metrics: Rc<WorkerMetrics>,
    method: u8,
}

impl InFlight {
    /// Answered, `took` after it began.
    pub fn answered<B>(self, response: &ServiceResponse<B>, took: Duration) {
        let request = response.request();
        // The pattern, or one label for every path no route matched, so
        // that a scanner of random URLs cannot grow the label set.
        let pattern = || {
            request
                .match_pattern()
                .map_or(Cow::Borrowed(UNMATCHED), Cow::Owned)
        };
        let route = match request.match_name() {
            Some(name) => Route::Named(name),
            None => Route::Label(pattern()),
        };
        let status = response.status().as_u16();
        self.metrics
            .record((self.method, status), route, pattern, took);
    }

    /// Answered without a response, `took` after it began: `route` says
    /// why ([`PANICKED`] or [`ERRED`]).
    pub fn failed(self, route: &'static str, status: StatusCode, took: Duration) {
        let label = || Cow::Borrowed(route);
        self.metrics.record(
            (self.method, status.as_u16()),
            Route::Label(label()),
            label,
            took,
        );
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `method`'s place in [`METHODS`], or its length for any other method.
fn method_index(method: &Method) -> u8 {
    let index = METHODS.iter().position(|known| known == method);
    index.unwrap_or(METHODS.len()) as u8
}

/// The label of a method by its [`method_index`].
fn method_label(index: u8) -> &'static str {
    METHODS
        .get(usize::from(index))
        .map_or("other", Method::as_str)
}

/// A series' figures summed over the workers.
#[derive(Default)]
struct Totals {
    buckets: [u64; BUCKET_NANOS.len() + 1],
    sum_nanos: u64,
}

impl Totals {
    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

impl Collector for RequestMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut totals = BTreeMap::<RequestLabels, Totals>::new();
        for (labels, figures) in lock(&self.0.series).iter() {
            let total = totals.entry(labels.clone()).or_default();
            for (sum, bucket) in total.buckets.iter_mut().zip(&figures.buckets) {
                *sum += bucket.load(Ordering::Relaxed);
            }
            total.sum_nanos += figures.sum_nanos.load(Ordering::Relaxed);
        }
        // As the registry writes its own metrics: the help text ends in a
        // full stop, and a family with no series yet is left out.
        if !totals.is_empty() {
            let mut requests = encoder.encode_descriptor(
                "http_requests",
                "HTTP requests answered, by method, route (the pattern matched) and status.",
                None,
                MetricType::Counter,
            )?;
            for (labels, total) in &totals {
                requests
                    .encode_family(labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&total.count(), None)?;
            }
            let mut durations = encoder.encode_descriptor(
                "http_request_duration",
                "Time from a request's arrival to its answer's headers, by method, route and status.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (labels, total) in &totals {
                let bounds = BUCKET_NANOS.iter().map(|&nanos| nanos as f64 / 1e9);
                let bounds = bounds.chain([f64::INFINITY]);
                let buckets: Vec<(f64, u64)> = bounds.zip(total.buckets).collect();
                let sum = total.sum_nanos as f64 / 1e9;
                durations
                    .encode_family(labels)?
                    .encode_histogram::<NoLabelSet>(sum, total.count(), &buckets, None)?;
            }
        }
        let in_flight: i64 = lock(&self.0.in_flight)
            .iter()
            .map(|worker| worker.load(Ordering::Relaxed))
            .sum();
        encoder
            .encode_descriptor(
                "http_requests_in_flight",
                "HTTP requests being answered now.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&in_flight)
    }
}
