//! What the repository's structural tests share: a copy of the tree as git
//! sees it, removed at the end, and commands run in it.

use std::path::{Path, PathBuf};
use std::process::Command;

use toolkit::cleanup::{Guard, Resource};

/// The repository's root.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The repository's files as git sees them (committed or not, never
/// ignored ones), copied into a fresh directory removed at the end.
pub fn copy_of_repository() -> (PathBuf, Guard) {
    let root = repository();
    let copy = std::env::temp_dir().join(toolkit::unique_name("repository-copy"));
    let guard = Guard::register(Resource::TempDir(copy.clone()));
    let listed = run(Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(&root));
    for path in listed.split('\0').filter(|p| !p.is_empty()) {
        let (from, to) = (root.join(path), copy.join(path));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().expect("a file has a folder")).unwrap();
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {path}: {e}"));
        }
    }
    (copy, guard)
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
