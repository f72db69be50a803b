//! `cargo xtask bench` (to be written).

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}
