//! What the repository's tooling shares: `cargo xtask`, the end-to-end
//! tests and the grader drive the same engine through the same code, and a
//! forker who deletes the grader keeps all of it.

pub mod cleanup;
pub mod command;
pub mod container;
pub mod debian_image;
pub mod docker;
pub mod engine;
pub mod harness;
pub mod http;
pub mod inspect;

/// What every command line of the tooling does around its task: with
/// `verbose` it prints the docker commands, Ctrl-C removes what the run
/// created, and an error is one line and exit status 2.
pub fn run_command(
    verbose: bool,
    task: impl FnOnce() -> anyhow::Result<std::process::ExitCode>,
) -> std::process::ExitCode {
    command::set_verbose(verbose);
    cleanup::remove_on_interrupt();
    task().unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        std::process::ExitCode::from(2)
    })
}

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

/// A random lowercase word, for values an image cannot have guessed.
pub fn random_word(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's randomness: plenty for test values.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::Instant::now().elapsed().as_nanos());
    format!("{prefix}{:016x}", hasher.finish())
}

/// Polls `probe` every 50 ms until it returns `Some`, or `timeout` passes.
pub fn wait_for<T>(timeout: std::time::Duration, probe: impl FnMut() -> Option<T>) -> Option<T> {
    wait_for_every(timeout, std::time::Duration::from_millis(50), probe)
}

/// Polls `probe` every `tick` until it returns `Some`, or `timeout` passes.
pub fn wait_for_every<T>(
    timeout: std::time::Duration,
    tick: std::time::Duration,
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
        std::thread::sleep(tick);
    }
}

/// Prints `  [  1.2s] TEXT`: a step of a long task, with the time since its start.
pub fn progress(started: std::time::Instant, text: impl std::fmt::Display) {
    eprintln!("  [{:>5.1}s] {text}", started.elapsed().as_secs_f64());
}

/// The files of the git tree at `root` as git sees them (committed or not,
/// never ignored ones), copied into a fresh directory removed when the guard
/// drops (or on Ctrl-C): somewhere to edit and build without touching `root`.
pub fn copy_of_tree(
    root: &std::path::Path,
) -> anyhow::Result<(std::path::PathBuf, cleanup::Guard)> {
    use anyhow::Context as _;
    let copy = std::env::temp_dir().join(unique_name("repository-copy"));
    let guard = cleanup::Guard::register(cleanup::Resource::TempDir(copy.clone()));
    let listed = command::Cmd::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .dir(root)
        .run()?;
    for path in listed.split('\0').filter(|p| !p.is_empty()) {
        let (from, to) = (root.join(path), copy.join(path));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().context("a file has a folder")?)?;
            std::fs::copy(&from, &to).with_context(|| format!("cannot copy {path}"))?;
        }
    }
    Ok((copy, guard))
}
