//! The image lab's mini web service, as a library so that `main.rs`, the
//! tests and the build tooling all start exactly the same application.

pub mod backpressure;
pub mod configuration;
pub mod healthcheck;
mod log_writer;
pub mod metrics;
mod middleware;
pub mod panics;
mod process;
pub mod proof;
pub mod request_id;
mod request_line;
pub mod request_metrics;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
