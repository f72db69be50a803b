//! `image-lab-grader <task>`: the grader's command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use grader::{grade, report, verify};

/// Grades Docker images against the production-image lab, by behaviour, sandboxed.
#[derive(Parser)]
#[command(name = "image-lab-grader", version, about)]
struct Cli {
    /// Print, before each call to the engine, the docker command that does the same.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Grade an image against every criterion of the lab.
    Verify(verify::Args),
    /// Grade a whole class from a roster, sandboxed, with summaries.
    Grade(grade::Args),
    /// Write the Markdown lab report for an image beside its naive build, from measurements.
    Report(report::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    toolkit::run_command(cli.verbose, || match cli.task {
        Task::Verify(args) => verify::run(&args),
        Task::Grade(args) => grade::run(&args).map(|()| ExitCode::SUCCESS),
        Task::Report(args) => report::run(&args).map(|()| ExitCode::SUCCESS),
    })
}
