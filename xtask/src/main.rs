//! `cargo xtask <task>`: the project's automation, as an ordinary Rust binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{bench, builder_image, rename, test};

/// The repository's chores.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    /// Print every docker command before running it.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Make the Rust build-stage image locally, for engines that cannot pull.
    BuilderImage(builder_image::Args),
    /// Measure the service and its image against the Python originals.
    Bench(bench::Args),
    /// Check everything CI checks: formatting, lints and tests of both workspaces.
    Test,
    /// Give a fork its own name: package, binary, image, Compose project, Kubernetes objects.
    Rename(rename::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // builder-image prints every command it runs: it is meant to be repeatable by hand.
    let always_shown = matches!(cli.task, Task::BuilderImage(_));
    toolkit::run_command(cli.verbose || always_shown, || match cli.task {
        Task::BuilderImage(args) => builder_image::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Bench(args) => bench::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Test => test::run().map(|()| ExitCode::SUCCESS),
        Task::Rename(args) => rename::run(&args).map(|()| ExitCode::SUCCESS),
    })
}
