//! What the repository's structural tests share: a copy of the tree as git
//! sees it, removed at the end, and commands run in it; and a real
//! Prometheus for the image's metrics ([`prometheus`]).

pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::Command;

use toolkit::cleanup::Guard;

/// The repository's root.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The repository's files as git sees them, copied into a fresh directory
/// removed at the end ([`toolkit::copy_of_tree`]).
pub fn copy_of_repository() -> (PathBuf, Guard) {
    toolkit::copy_of_tree(&repository()).expect("a copy of the repository")
}

/// Runs a command to success; its stdout.
pub fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cargo ARGS` in `copy`, building into `target/TARGET` of this repository
/// (kept: the next run recompiles only what changed).
pub fn cargo(copy: &Path, target: &str, args: &[&str]) -> String {
    run(Command::new(env!("CARGO"))
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", repository().join("target").join(target)))
}
