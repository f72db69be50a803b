//! The build tooling behind `cargo xtask`, as a library so that the
//! end-to-end tests share its code instead of copying it.

pub mod bench;
pub mod builder_image;
pub mod cleanup;
pub mod command;
pub mod docker;
pub mod grade;
pub mod grading;
pub mod http;
pub mod inspect;
pub mod rename;
pub mod report;
pub mod seed;
pub mod test;
pub mod verify;

/// Turns a failure to start `program` into the error a user can act on:
/// `missing` (what to install) when it is not on PATH, else `cannot run`.
pub fn launch_error(program: &str, missing: &str) -> impl FnOnce(std::io::Error) -> anyhow::Error {
    move |error| match error.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("{missing}"),
        _ => anyhow::anyhow!("cannot run {program}: {error}"),
    }
}

/// A name no other run uses: `PREFIX-<pid>-<time>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Polls `probe` every 50 ms until it returns `Some`, or `timeout` passes.
pub fn wait_for<T>(
    timeout: std::time::Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Prints `  [  1.2s] TEXT`: a step of a long task, with the time since its start.
pub fn progress(started: std::time::Instant, text: impl std::fmt::Display) {
    eprintln!("  [{:>5.1}s] {text}", started.elapsed().as_secs_f64());
}

/// The cargo that runs us (`$CARGO`), else `cargo` from PATH.
pub fn cargo() -> std::path::PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), Into::into)
}

/// The repository's root (the folder holding the Dockerfile).
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the workspace root")
        .to_path_buf()
}

#[cfg(test)]
mod tests {
    /// The `[profile.release]` settings of a manifest, comments dropped.
    fn release_profile(manifest: &str) -> Vec<String> {
        manifest
            .lines()
            .skip_while(|line| line.trim() != "[profile.release]")
            .skip(1)
            .take_while(|line| !line.trim_start().starts_with('['))
            .filter_map(|line| line.split('#').next())
            .map(|setting| setting.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|setting| !setting.is_empty())
            .collect()
    }

    #[test]
    fn the_bare_peer_is_built_with_the_service_profile() {
        let read = |path: &str| std::fs::read_to_string(super::project_root().join(path)).unwrap();
        let service = release_profile(&read("Cargo.toml"));
        assert!(service.contains(&"lto = \"fat\"".to_owned()), "{service:?}");
        assert_eq!(release_profile(&read("xtask/Cargo.toml")), service);
    }
}
