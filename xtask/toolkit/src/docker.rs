//! What the engine's API does not do as the repository's chores need: builds
//! with BuildKit (`RUN --mount`), `docker import`, Compose, one-off runs and
//! listings, through the plain `docker` CLI (printed with `--verbose`). Every
//! container and image it creates is registered with [`crate::cleanup`].

use std::env;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use crate::cleanup::{Guard, Resource};
use crate::command::{Cmd, last_lines};
use crate::{progress, unique_name};

/// `docker ARGS`, with the CLI `$DOCKER`, or `docker` from PATH.
fn docker<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Cmd {
    Cmd::new(env::var_os("DOCKER").unwrap_or_else(|| "docker".into())).args(args)
}

fn cannot_start(error: std::io::Error) -> anyhow::Error {
    crate::launch_error(
        "docker",
        "the docker CLI is not installed (or not on PATH): install Docker, or set DOCKER to its path",
    )(error)
}

fn execute(docker: &Cmd) -> Result<String> {
    docker.stdout_of(docker.output().map_err(cannot_start)?)
}

/// Runs `docker ARGS`; its trimmed stdout, or an error quoting its stderr.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Result<String> {
    execute(&docker(args))
}

/// What undoes the creation (or tagging) of image `reference`.
pub fn remove_image(reference: &str) -> Resource {
    Resource::Image(reference.to_owned())
}

/// A docker client that builds with BuildKit (needed for `RUN --mount`).
#[derive(Debug, Clone)]
pub struct BuildClient {
    pub cli: PathBuf,
    /// Whether the client needs `DOCKER_BUILDKIT=1` (CLIs before 23.0, which
    /// carry BuildKit themselves; newer ones delegate to the buildx plugin).
    pub needs_env: bool,
}

/// Finds a BuildKit-capable client (once): `$DOCKER` if set, else the first
/// `docker` on PATH that has the buildx plugin or is older than 23.0.
pub fn build_client() -> Result<BuildClient> {
    static FOUND: OnceLock<Result<BuildClient, String>> = OnceLock::new();
    FOUND
        .get_or_init(find_build_client)
        .clone()
        .map_err(|e| anyhow!(e))
}

fn find_build_client() -> Result<BuildClient, String> {
    let candidates: Vec<PathBuf> = match env::var_os("DOCKER") {
        Some(docker) => vec![PathBuf::from(docker)],
        None => env::split_paths(&env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("docker"))
            .filter(|path| path.is_file())
            .collect(),
    };
    // Probes, not shown with --verbose: they are not what the tooling measures.
    let probe = |cli: &Path, args: &[&str]| {
        let out = Cmd::new(cli).args(args).command().output().ok()?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        out.status.success().then_some(stdout)
    };
    let client = |cli: &PathBuf, needs_env| BuildClient {
        cli: cli.clone(),
        needs_env,
    };
    let found = candidates.iter().find_map(|cli| {
        if probe(cli, &["buildx", "version"]).is_some() {
            return Some(client(cli, false));
        }
        let version = probe(cli, &["version", "--format", "{{.Client.Version}}"])?;
        let major: u32 = version.split('.').next()?.parse().ok()?;
        (major < 23).then(|| client(cli, true))
    });
    found.ok_or_else(|| {
        format!(
            "no docker client here can build with BuildKit (tried {candidates:?}): install the buildx plugin \
             (Docker Desktop has it), or set DOCKER to a docker CLI older than 23.0"
        )
    })
}

#[derive(Debug, Clone, Default)]
pub struct Build {
    pub context: PathBuf,
    /// Relative to the context, or absolute; default `Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub tag: String,
    pub build_args: Vec<(String, String)>,
}

/// An image this run made, removed again when dropped (unless kept).
#[derive(Debug)]
pub struct Image {
    pub reference: String,
    guard: Option<Guard>,
}

impl Image {
    fn made(reference: &str, guard: Guard) -> Self {
        let reference = reference.to_owned();
        Image {
            reference,
            guard: Some(guard),
        }
    }

    /// Keeps the image after the run (what `verify` does with the image it builds).
    pub fn keep(mut self) -> Self {
        if let Some(guard) = self.guard.take() {
            guard.disarm();
        }
        self
    }
}

/// `docker build` with BuildKit, printing one progress line per build step
/// (with the elapsed time); on failure the error quotes the build's last lines.
pub fn build(spec: &Build) -> Result<Image> {
    build_with(spec, &[])
}

/// [`build`] with extra flags, such as `--no-cache`.
pub fn build_with(spec: &Build, flags: &[&str]) -> Result<Image> {
    let client = build_client()?;
    let mut build = Cmd::new(&client.cli)
        .args(["build", "--progress=plain", "--tag", &spec.tag])
        .args(flags)
        .opt("--file", &spec.dockerfile)
        .opt(
            "--build-arg",
            spec.build_args.iter().map(|(n, v)| format!("{n}={v}")),
        )
        .arg(&spec.context);
    if client.needs_env {
        build = build.env("DOCKER_BUILDKIT", "1");
    }
    build.announce();
    let guard = Guard::register(remove_image(&spec.tag));
    let started = Instant::now();
    let mut child = build
        .command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", client.cli.display()))?;
    let mut log = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("stderr is piped")).lines() {
        let line = line?;
        if is_step_line(&line) {
            progress(started, &line);
        }
        log.push(line);
    }
    if !child.wait()?.success() {
        let tail = log[log.len().saturating_sub(15)..].join("\n");
        bail!("building {} failed:\n{tail}", spec.tag);
    }
    Ok(Image::made(&spec.tag, guard))
}

/// BuildKit's plain progress announces each step as `#N [stage k/n] INSTRUCTION`.
fn is_step_line(line: &str) -> bool {
    line.starts_with('#')
        && line.contains(" [")
        && !line.contains(" sha256:")
        && line
            .split_whitespace()
            .nth(1)
            .is_some_and(|w| w.starts_with('['))
}

/// `tar -C ROOTFS -c . | docker import --change CHANGE... - REFERENCE`: an
/// image of a root filesystem (one layer, the `--change` lines its
/// configuration), removed again when dropped (unless kept).
pub fn import_rootfs(rootfs: &Path, changes: &[String], reference: &str) -> Result<Image> {
    let tar = Cmd::new("tar").args(["--numeric-owner", "-C"]).arg(rootfs);
    let tar = tar.args(["-c", "."]);
    let import = docker(["import"])
        .opt("--change", changes)
        .args(["-", reference]);
    if crate::command::verbose() {
        eprintln!("$ {} | {}", tar.shown(), import.shown());
    }
    let guard = Guard::register(remove_image(reference));
    let mut tar = tar.command();
    let mut tar = tar
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run tar")?;
    let import = import
        .command()
        .stdin(tar.stdout.take().expect("stdout is piped"))
        .output()
        .context("cannot run docker import")?;
    if !tar.wait()?.success() {
        bail!("tar of {} failed (its message is above)", rootfs.display());
    }
    if !import.status.success() {
        let stderr = String::from_utf8_lossy(&import.stderr);
        bail!("docker import failed: {}", last_lines(&stderr, 3));
    }
    Ok(Image::made(reference, guard))
}

/// `docker run --rm --network none IMAGE COMMAND...` to completion: its
/// stdout, or an error quoting its stderr. The container is removed also if
/// this run is interrupted.
pub fn run_to_completion(image: &str, command: &[&str]) -> Result<String> {
    let name = unique_name("image-lab-once");
    let _guard = Guard::register(Resource::Container(name.clone()));
    let run = docker(["run", "--rm", "--name", &name, "--network", "none", image]);
    execute(&run.args(command))
}

/// IDs of the objects of one kind (`container`, `network`, `image`, `volume`)
/// that match a `--filter` such as `label=com.docker.compose.project=NAME`;
/// containers include stopped ones.
pub fn list(kind: &str, filter: &str) -> Result<Vec<String>> {
    let all = (kind == "container").then_some("--all");
    let ids = execute(&docker([kind, "ls", "--quiet", "--filter", filter]).args(all))?;
    Ok(ids.lines().map(str::to_owned).collect())
}

/// A Compose v2 project: its file, its name and the variables its `${...}` get.
#[derive(Debug, Clone)]
pub struct Compose {
    pub file: PathBuf,
    pub project: String,
    /// `--env-file`: read instead of the `.env` beside the compose file.
    pub env_file: Option<PathBuf>,
    /// Variables for the file, over those of the env file.
    pub env: Vec<(String, String)>,
}

/// A started project, brought down (containers, networks, volumes) when dropped.
#[derive(Debug)]
pub struct ComposeUp {
    pub compose: Compose,
    guard: Guard,
}

impl Compose {
    /// `VAR=value docker compose ... COMMAND` (secrets masked when shown).
    fn command(&self, command: &[&str]) -> Cmd {
        let compose = docker(["compose", "--project-name", &self.project, "--file"])
            .arg(&self.file)
            .opt("--env-file", &self.env_file)
            .args(command);
        let env = self.env.iter();
        env.fold(compose, |cmd, (name, value)| cmd.env(name, value))
    }

    /// Runs `docker compose ... COMMAND`: its stdout, or an error quoting the
    /// end of its output.
    fn run(&self, command: &[&str]) -> Result<String> {
        let out = (self.command(command).output()).context("cannot run docker compose")?;
        if !out.status.success() {
            let all = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            let (command, tail) = (command.join(" "), last_lines(&all, 15));
            bail!("`docker compose {command}` failed:\n{tail}");
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `docker compose up --build --wait EXTRA...`: builds, starts, and
    /// returns once every service is healthy. Down again when dropped.
    pub fn up(&self, extra: &[&str]) -> Result<ComposeUp> {
        let down = ["down", "--volumes", "--remove-orphans", "--timeout", "5"];
        let guard = Guard::register(Resource::Undo(self.command(&down)));
        self.run(&[&["up", "--build", "--wait"], extra].concat())?;
        Ok(ComposeUp {
            compose: self.clone(),
            guard,
        })
    }
}

impl ComposeUp {
    /// `docker compose down --volumes --remove-orphans`, reporting failure
    /// (dropping does the same, silently).
    pub fn down(self) -> Result<()> {
        self.compose
            .run(&["down", "--volumes", "--remove-orphans"])?;
        self.guard.disarm();
        Ok(())
    }
}
