//! `cargo xtask test`: everything CI checks, in both workspaces: the
//! service's (the repository's root) and the tooling's (`xtask/Cargo.toml`).
//! Formatting and lints first (seconds), then the tests; the end-to-end ones
//! need a Docker engine and take minutes.

use anyhow::{Context, Result, bail};

use toolkit::command::Cmd;

/// Every `cargo` run, in order.
const STEPS: &[&str] = &[
    "fmt --check",
    "fmt --check --manifest-path xtask/Cargo.toml --all",
    "clippy --all-targets -- -D warnings",
    "clippy --manifest-path xtask/Cargo.toml --workspace --all-targets -- -D warnings",
    "test",
    "test --manifest-path xtask/Cargo.toml --workspace",
];

pub fn run() -> Result<()> {
    for step in STEPS {
        let cargo = Cmd::new(crate::cargo()).args(step.split(' '));
        let cargo = cargo.dir(&crate::project_root());
        eprintln!("\n$ {}", cargo.shown());
        let status = cargo.command().status().context("cannot run cargo")?;
        if !status.success() {
            bail!("`{}` failed ({status})", cargo.shown());
        }
    }
    eprintln!("\nall checks passed");
    Ok(())
}
