//! `cargo xtask verify`: grade an image against every lab criterion, on the
//! real engine, with the evidence and the commands to see it by hand.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Result, bail};

use crate::docker::{self, Build, Image};
use crate::grading::formats::{self, Lang};
use crate::grading::{self, Subject};
use crate::project_root;
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
    /// Grade this existing image (any language) instead of building this repository's Dockerfile.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
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
}

/// Options of `cargo xtask verify`.
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

    /// The subject to grade: the given image, or this repository's
    /// Dockerfile built as `<login>/image-lab:<prefix>` (and kept).
    pub fn prepare(&self) -> Result<Subject> {
        let seed = self.seed()?;
        docker::ensure_engine()?;
        let (image, dockerfile) = match &self.image {
            Some(image) => (image.clone(), self.dockerfile.clone()),
            None => {
                let built = build_repository_image(&seed, "Dockerfile", &seed.image_name())?;
                (
                    built.keep().reference,
                    Some(project_root().join("Dockerfile")),
                )
            }
        };
        Ok(Subject {
            image,
            seed,
            dockerfile,
            port: self.port,
        })
    }
}

/// The current commit, for the image's `org.opencontainers.image.revision`.
fn revision() -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(project_root())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |out| String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
}

/// Builds one of this repository's Dockerfiles (`Dockerfile`, or the
/// anti-example `Dockerfile.naive`) with the seed's identity.
pub fn build_repository_image(seed: &Seed, dockerfile: &str, tag: &str) -> Result<Image> {
    eprintln!("building {tag} from {dockerfile}");
    docker::build(&Build {
        context: project_root(),
        dockerfile: Some(project_root().join(dockerfile)),
        tag: tag.to_owned(),
        build_args: vec![
            ("LAB_LOGIN".into(), seed.login.clone()),
            ("LAB_TOKEN".into(), seed.token.clone()),
            ("REVISION".into(), revision()),
        ],
    })
}

/// Grades and prints; exit 0 when the lab passed, 1 when not.
pub fn run(args: &Args) -> Result<ExitCode> {
    let subject = args.target.prepare()?;
    eprintln!("grading {}", subject.image);
    let grade = grading::grade(&subject)?;
    let text = match args.format {
        Format::Table => formats::table(&grade, args.strict),
        Format::Json => formats::json(&grade, args.strict) + "\n",
        Format::Junit => formats::junit(&grade, args.strict),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)?;
            eprintln!(
                "{}\nwritten to {}",
                formats::verdict(&grade, args.strict, Lang::En),
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::from(u8::from(!grade.passed(args.strict))))
}
