//! The build tooling behind `cargo xtask`, as a library so that the
//! end-to-end tests share its code instead of copying it.

pub mod bench;
pub mod builder_image;
pub mod cleanup;
pub mod docker;
pub mod grade;
pub mod grading;
pub mod report;
pub mod seed;
pub mod verify;

/// Turns a failure to start `program` into the error a user can act on:
/// `missing` (what to install) when it is not on PATH, else `cannot run`.
pub fn launch_error(program: &str, missing: &str) -> impl FnOnce(std::io::Error) -> anyhow::Error {
    move |error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("{missing}"),
        _ => anyhow::anyhow!("cannot run {program}: {error}"),
    }
}

/// The workspace root (the folder holding the Dockerfile).
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
        .to_path_buf()
}
