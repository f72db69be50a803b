//! `cargo xtask builder_image` (to be written).

/// Options of `cargo xtask builder_image`.
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: &Args) -> anyhow::Result<()> {
    anyhow::bail!("not written yet")
}
