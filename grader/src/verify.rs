//! `image-lab-grader verify`: grade an image against every lab criterion, on
//! the real engine, with the evidence and the commands to see it by hand.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use toolkit::engine;

use crate::grading::formats::{self, Lang};
use crate::grading::{self, Subject};
use crate::seed::Seed;

/// Which image to grade, and whose.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// The lab's seed file, `seed-<login>.json`.
    #[arg(long, value_name = "FILE", required_unless_present = "login")]
    pub seed: Option<PathBuf>,
    /// The student's login (instead of --seed).
    #[arg(long, conflicts_with = "seed", requires = "token")]
    pub login: Option<String>,
    /// The student's token (instead of --seed).
    #[arg(long, conflicts_with = "seed", requires = "login")]
    pub token: Option<String>,
    /// The image to grade (any language), as `docker images` names it.
    #[arg(long, value_name = "REF")]
    pub image: String,
    /// The Dockerfile the image was built from: enables the multi-stage,
    /// pinned-base and dockerignore checks.
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// The port the app listens on in the container [default: the image's
    /// one EXPOSEd port, else 8000].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    Table,
    Json,
    Junit,
    /// GitHub Classroom's grading reporter: one point per lab criterion.
    Classroom,
}

/// Options of `image-lab-grader verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Count the checks beyond the lab in the verdict too.
    #[arg(long)]
    pub strict: bool,
}

impl Target {
    pub fn seed(&self) -> Result<Seed> {
        match (&self.seed, &self.login, &self.token) {
            (Some(path), _, _) => Seed::from_file(path),
            (None, Some(login), Some(token)) => Seed::from_parts(login, token),
            _ => bail!("give --seed FILE, or --login and --token"),
        }
    }

    /// The subject to grade, once the engine answers.
    pub fn prepare(&self) -> Result<Subject> {
        let seed = self.seed()?;
        engine::ensure_engine()?;
        Ok(Subject {
            image: self.image.clone(),
            seed,
            dockerfile: self.dockerfile.clone(),
            port: self.port,
        })
    }
}

/// Grades and prints; exit 0 when the lab passed, 1 when not.
pub fn run(args: &Args) -> Result<ExitCode> {
    let graded = args.target.prepare().and_then(|subject| {
        eprintln!("grading {}", subject.image);
        grading::grade(&subject)
    });
    let grade = match (graded, args.format) {
        (Ok(grade), _) => grade,
        // The reporter still gets a result: the error, and no points.
        (Err(error), Format::Classroom) => {
            write(
                args,
                &(formats::classroom_error(&format!("{error:#}")) + "\n"),
            )?;
            return Err(error);
        }
        (Err(error), _) => return Err(error),
    };
    let text = match args.format {
        Format::Table => formats::table(&grade, args.strict),
        Format::Json => formats::json(&grade, args.strict) + "\n",
        Format::Junit => formats::junit(&grade, args.strict),
        Format::Classroom => formats::classroom(&grade) + "\n",
    };
    write(args, &text)?;
    if args.output.is_some() {
        eprintln!("{}", formats::verdict(&grade, args.strict, Lang::En));
    }
    Ok(ExitCode::from(u8::from(!grade.passed(args.strict))))
}

/// Writes `text` to `--output`, else to stdout.
fn write(args: &Args, text: &str) -> Result<()> {
    match &args.output {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
