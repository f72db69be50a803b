//! `cargo xtask <task>`: the project's automation, as an ordinary Rust binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{bench, builder_image, grade, rename, report, test, verify};

/// Build tooling for the image lab service.
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
    /// Grade an image against every criterion of the lab.
    Verify(verify::Args),
    /// Grade a whole class from a roster, sandboxed, with summaries.
    Grade(grade::Args),
    /// Write the Markdown lab report for an image, from measurements.
    Report(report::Args),
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
    xtask::command::set_verbose(cli.verbose || always_shown);
    xtask::cleanup::remove_on_interrupt();
    let outcome = match cli.task {
        Task::BuilderImage(args) => builder_image::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Verify(args) => verify::run(&args),
        Task::Grade(args) => grade::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Report(args) => report::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Bench(args) => bench::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Test => test::run().map(|()| ExitCode::SUCCESS),
        Task::Rename(args) => rename::run(&args).map(|()| ExitCode::SUCCESS),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}
