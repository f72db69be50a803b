//! `cargo xtask test`: everything CI checks, in both workspaces: the
//! service's (the repository's root) and the tooling's (`xtask/Cargo.toml`).
//! Formatting and lints first (seconds), then the tests; the end-to-end ones
//! need a Docker engine and take minutes.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::project_root;

/// The tooling workspace's manifest, from the repository's root.
const TOOLING: &str = "xtask/Cargo.toml";

/// Every `cargo` run, in order.
const STEPS: &[&[&str]] = &[
    &["fmt", "--check"],
    &["fmt", "--check", "--manifest-path", TOOLING, "--all"],
    &["clippy", "--all-targets", "--", "-D", "warnings"],
    &[
        "clippy",
        "--manifest-path",
        TOOLING,
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    &["test"],
    &["test", "--manifest-path", TOOLING, "--workspace"],
];

pub fn run() -> Result<()> {
    for args in STEPS {
        let shown = format!("cargo {}", args.join(" "));
        eprintln!("\n$ {shown}");
        let status = Command::new(crate::cargo())
            .args(*args)
            .current_dir(project_root())
            .stdin(Stdio::null())
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
    }
    eprintln!("\nall checks passed");
    Ok(())
}
