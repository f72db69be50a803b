//! The image lab's mini web service, as a library so that `main.rs`, the
//! tests and the build tooling all start exactly the same application.

pub mod configuration;
pub mod healthcheck;
pub mod proof;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
