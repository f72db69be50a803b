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
//! `other`, for the same reason (request_metrics.rs records them). Process
//! figures come from `/proc` at each scrape (process.rs), with the build's
//! name and version as `build_info`.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::web::{self, Bytes, ServiceConfig};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::process::ProcessCollector;
use crate::request_metrics::RequestMetrics;
use crate::routes;

/// The exposition format `prometheus_client::encoding::text` writes.
const OPENMETRICS: HeaderValue =
    HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");

/// Every metric, registered: the registry the endpoint encodes, and the
/// request metrics the workers record into.
pub fn register() -> (Registry, RequestMetrics) {
    let mut registry = Registry::default();
    let requests = RequestMetrics::default();
    registry.register_collector(Box::new(requests.clone()));
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
