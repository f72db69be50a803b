//! `cargo xtask`: the project's automation, as an ordinary Rust binary.

use clap::Parser;

/// Build tooling for the image lab service.
#[derive(Parser)]
#[command(name = "cargo xtask", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    Ok(())
}
