//! The one module that talks to the Docker engine.
//!
//! It runs the plain `docker` CLI commands a student would type (printed
//! with `--verbose`), so every measurement can be repeated by hand. Every
//! container and image it creates is registered with [`crate::cleanup`].

use std::env;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cleanup::{Guard, Resource};
use crate::command::{Cmd, last_lines};
use crate::http::{Answer, http_get};
use crate::{inspect, progress, unique_name, wait_for};

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

/// Runs `docker ARGS`; its output, whatever its exit status.
fn output<S: AsRef<OsStr>>(args: &[S]) -> Result<Output> {
    docker(args).output().map_err(cannot_start)
}

fn execute(docker: &Cmd) -> Result<String> {
    docker.stdout_of(docker.output().map_err(cannot_start)?)
}

/// Runs `docker ARGS`; its trimmed stdout, or an error quoting its stderr.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Result<String> {
    execute(&docker(args))
}

fn remove_container(name: &str) -> Resource {
    Resource::Undo(docker(["rm", "--force", "--volumes", name]))
}

/// What undoes the creation (or tagging) of image `reference`.
pub fn remove_image(reference: &str) -> Resource {
    Resource::Undo(docker(["image", "rm", "--force", reference]))
}

/// Checks that an engine answers; the error says how to start one.
pub fn ensure_engine() -> Result<String> {
    let out = output(&["version", "--format", "{{.Server.Version}}"])?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || version.is_empty() {
        bail!(
            "cannot reach the Docker engine ({}). Start it: `sudo systemctl start docker` on Linux, \
             or open Docker Desktop; or point DOCKER_HOST at a running engine",
            last_lines(&String::from_utf8_lossy(&out.stderr), 1)
        );
    }
    Ok(version)
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

pub fn inspect_image(reference: &str) -> Result<inspect::Image> {
    let out = output(&["image", "inspect", reference])?;
    if !out.status.success() {
        bail!(
            "no image {reference:?} on this engine (build it, or check the name with `docker images`)"
        );
    }
    first_element(&out.stdout)
}

/// The one object of a `docker inspect` list.
fn first_element<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T> {
    let all: Vec<T> =
        serde_json::from_slice(json).context("docker inspect printed no JSON it could read")?;
    all.into_iter()
        .next()
        .context("docker inspect printed an empty list")
}

#[derive(Debug, Clone, Default)]
pub struct Run {
    pub image: String,
    pub env: Vec<(String, String)>,
    /// Container port to publish on a free 127.0.0.1 port.
    pub publish: Option<u16>,
    pub read_only: bool,
    /// `--cap-drop ALL --security-opt no-new-privileges`.
    pub hardened: bool,
    pub user: Option<String>,
    /// `--network NAME` (`host`: the container shares the host's network).
    pub network: Option<String>,
    /// Options that confine the container (limits, network), kept apart
    /// from the lab's own flags so that [`Run::shown_command`] shows the
    /// command a student would type.
    pub confinement: Vec<String>,
}

impl Run {
    pub fn new(image: &str) -> Self {
        let image = image.to_owned();
        Run {
            image,
            ..Run::default()
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn publish(mut self, container_port: u16) -> Self {
        self.publish = Some(container_port);
        self
    }

    pub fn network(mut self, network: &str) -> Self {
        self.network = Some(network.to_owned());
        self
    }

    /// `docker run` of container `name`; `host_port` is the port to publish
    /// on, empty for one the engine picks.
    fn cmd(&self, name: &str, host_port: &str, confined: bool) -> Cmd {
        let hardened = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"];
        let publish = |port| format!("127.0.0.1:{host_port}:{port}");
        docker(["run", "--detach", "--name", name])
            .args(if confined { &self.confinement[..] } else { &[] })
            .opt("--publish", self.publish.map(publish))
            .opt("--network", &self.network)
            .args(self.read_only.then_some("--read-only"))
            .args(if self.hardened { &hardened[..] } else { &[] })
            .opt("--user", &self.user)
            .opt("--env", self.env.iter().map(|(n, v)| format!("{n}={v}")))
            .arg(&self.image)
    }

    /// The `docker run` command as a student would type it (`NAME` for the
    /// container's name, the container port for the host port).
    pub fn shown_command(&self) -> String {
        let host_port = self.publish.map(|port| port.to_string());
        self.cmd("NAME", &host_port.unwrap_or_default(), false)
            .shown()
    }

    /// `docker run --detach ...`; the container is removed when dropped. A
    /// published port goes to 127.0.0.1 on a port the engine picks, so that
    /// runs in parallel never race for one.
    pub fn start(&self) -> Result<Container> {
        let name = unique_name("labcheck");
        let guard = Guard::register(remove_container(&name));
        let started = Instant::now();
        execute(&self.cmd(&name, "", true))
            .with_context(|| format!("cannot start a container of {}", self.image))?;
        let mut container = Container {
            name,
            host_port: None,
            started,
            seen_healthy: OnceLock::new(),
            _guard: guard,
        };
        if let Some(port) = self.publish {
            match container.published_port(port) {
                Ok(host_port) => container.host_port = Some(host_port),
                // Exited already, and its port with it: what it did is evidence.
                Err(_) if !container.is_running() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(container)
    }
}

/// A running (or exited) container, removed on drop.
#[derive(Debug)]
pub struct Container {
    pub name: String,
    /// The 127.0.0.1 port its published port maps to.
    pub host_port: Option<u16>,
    /// When `docker run` was called for it.
    pub started: Instant,
    /// How long after `started` an inspect first saw it `healthy`.
    seen_healthy: OnceLock<Duration>,
    _guard: Guard,
}

/// How a container ended after `docker stop`.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    pub elapsed: Duration,
    pub exit_code: i64,
}

/// A process of a container, as `docker top` shows it.
#[derive(Debug, Clone)]
pub struct Process {
    /// Host-side UID.
    pub uid: u32,
    pub command: String,
}

impl Container {
    /// The 127.0.0.1 port that `container_port` is published on.
    fn published_port(&self, container_port: u16) -> Result<u16> {
        let name = &self.name;
        let mapping = run(&["port", name, &format!("{container_port}/tcp")])?;
        mapping
            .lines()
            .find_map(|line| line.strip_prefix("127.0.0.1:")?.parse().ok())
            .with_context(|| format!("`docker port {name}` shows no 127.0.0.1 port: {mapping:?}"))
    }

    pub fn inspect(&self) -> Result<inspect::Container> {
        let inspect: inspect::Container =
            first_element(&output(&["container", "inspect", &self.name])?.stdout)?;
        if inspect.state.health_status() == Some("healthy") {
            self.seen_healthy.get_or_init(|| self.started.elapsed());
        }
        Ok(inspect)
    }

    /// The host PID of the container's first process (0 once it has stopped).
    pub fn pid(&self) -> Result<i32> {
        i32::try_from(self.inspect()?.state.pid).context("State.Pid out of range")
    }

    pub fn is_running(&self) -> bool {
        self.inspect().is_ok_and(|c| c.state.running)
    }

    /// `State.Health.Status`: `starting`, `healthy`, `unhealthy`, or `None`
    /// without a healthcheck.
    pub fn health(&self) -> Option<String> {
        Some(self.inspect().ok()?.state.health?.status)
    }

    /// Waits for `healthy`: the time from the container's start to its first
    /// passing probe, or an error naming the last state and probe. The time is
    /// the earlier of two upper bounds: the first passing probe the engine
    /// still keeps (only its last five), and the first inspect that saw it
    /// healthy (every wait on the container inspects it).
    pub fn wait_healthy(&self, timeout: Duration) -> Result<Duration> {
        let mut last = None;
        let healthy = wait_for(timeout, || {
            last = self.health();
            if !self.is_running() {
                return Some(false);
            }
            (last.as_deref() == Some("healthy")).then_some(true)
        });
        match healthy {
            Some(true) => Ok(
                [self.healthy_after_start(), self.seen_healthy.get().copied()]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or_else(|| self.started.elapsed()),
            ),
            Some(false) => bail!("{}", self.exited()),
            None => bail!(
                "not healthy after {:.0} s (health: {}){}",
                timeout.as_secs_f64(),
                last.unwrap_or_else(|| "none".into()),
                self.last_probe()
                    .map(|probe| format!("; the last probe {probe}"))
                    .unwrap_or_default()
            ),
        }
    }

    /// From `State.StartedAt` to the end of the first passing probe the
    /// engine still keeps.
    fn healthy_after_start(&self) -> Option<Duration> {
        let state = self.inspect().ok()?.state;
        let at = |time: &str| OffsetDateTime::parse(time, &Rfc3339).ok();
        let log = state.health?.log;
        let first_pass = log.into_iter().find(|probe| probe.exit_code == 0)?;
        Duration::try_from(at(&first_pass.end)? - at(&state.started_at)?).ok()
    }

    /// How the last healthcheck probe ended: its exit code and the end of its output.
    fn last_probe(&self) -> Option<String> {
        let probe = self.inspect().ok()?.state.health?.log.pop()?;
        let output = last_lines(probe.output.trim(), 2);
        Some(format!("exited {}: {output:?}", probe.exit_code))
    }

    /// Waits until `GET path` answers on the published port (any status).
    pub fn wait_answering(&self, path: &str, timeout: Duration) -> Result<(Duration, Answer)> {
        let started = Instant::now();
        let mut last_error = String::from("no answer");
        let answer = wait_for(timeout, || {
            let port = match (self.is_running(), self.host_port) {
                (false, _) => return Some(Err(self.exited())),
                (true, None) => return Some(Err("the container publishes no port".into())),
                (true, Some(port)) => port,
            };
            let answer = http_get(port, path).map_err(|error| last_error = format!("{error:#}"));
            answer.ok().map(Ok)
        });
        match answer {
            Some(Ok(answer)) => Ok((started.elapsed(), answer)),
            Some(Err(error)) => Err(anyhow!(error)),
            None => bail!(
                "nothing on {path} within {:.0} s of `docker run` (the last try: {last_error})",
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    /// Says how the container ended, and the end of its logs.
    fn exited(&self) -> String {
        let state = self.inspect().map(|c| c.state).unwrap_or_default();
        let how = if state.oom_killed {
            "was killed for going over its memory limit".to_owned()
        } else {
            format!("exited with code {}", state.exit_code)
        };
        let logs = last_lines(&self.logs(), 5);
        format!("the container {how}; its logs:\n{logs}")
    }

    /// `GET path` on the published port.
    pub fn get(&self, path: &str) -> Result<Answer> {
        let port = self.host_port.context("the container publishes no port")?;
        http_get(port, path)
    }

    /// `docker stop --time SECS`: how long it took and the exit code.
    pub fn stop(&self, kill_after: Duration) -> Result<Ended> {
        let started = Instant::now();
        let seconds = kill_after.as_secs().to_string();
        run(&["stop", "--time", &seconds, &self.name])?;
        let elapsed = started.elapsed();
        let exit_code = self.inspect()?.state.exit_code;
        Ok(Ended { elapsed, exit_code })
    }

    /// Everything the container printed, stdout then stderr.
    pub fn logs(&self) -> String {
        let out = output(&["logs", &self.name]);
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        out.map(|out| text(&out.stdout) + &text(&out.stderr))
            .unwrap_or_default()
    }

    /// `docker exec NAME ARGS...`, whatever its status.
    pub fn exec(&self, args: &[&str]) -> Result<Output> {
        docker(["exec", &self.name])
            .args(args)
            .output()
            .map_err(cannot_start)
    }

    /// [`Container::exec`], killed after `timeout`: for untrusted images,
    /// whose programs decide how long it takes.
    pub fn exec_within(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        let exec = docker(["exec", &self.name]).args(args);
        exec.output_within(timeout)
            .map_err(cannot_start)?
            .with_context(|| format!("did not finish within {timeout:?}"))
    }

    /// The container's processes, its PID 1 first (`docker top NAME -eo
    /// pid,uid,args`: the engine refuses a ps format without a PID column).
    pub fn processes(&self) -> Result<Vec<Process>> {
        let table = run(&["top", &self.name, "-eo", "pid,uid,args"])?;
        let process = |line: &str| {
            let mut words = line.split_whitespace();
            let pid: i32 = words.next()?.parse().ok()?;
            let uid = words.next()?.parse().ok()?;
            let command = words.collect::<Vec<_>>().join(" ");
            Some((pid, Process { uid, command }))
        };
        let mut processes: Vec<_> = table.lines().skip(1).filter_map(process).collect();
        // `docker top` lists by host PID, and host PIDs wrap (at 32,768 on CI's
        // machines): the container's PID 1 is the one the engine names.
        let first = self.pid()?;
        processes.sort_by_key(|&(pid, _)| pid != first);
        Ok(processes.into_iter().map(|(_, process)| process).collect())
    }

    /// The host-side UIDs of the container's processes.
    pub fn process_uids(&self) -> Result<Vec<u32>> {
        Ok(self.processes()?.iter().map(|p| p.uid).collect())
    }
}

/// The ID of image `reference`, or `None` when the engine has no such image.
pub fn image_id(reference: &str) -> Result<Option<String>> {
    let out = output(&["image", "inspect", "--format", "{{.Id}}", reference])?;
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No such image") || stderr.contains("No such object") {
        return Ok(None);
    }
    bail!(
        "`docker image inspect {reference}` failed: {}",
        last_lines(&stderr, 3)
    )
}

pub fn pull(reference: &str) -> Result<()> {
    run(&["pull", "--quiet", reference]).map(drop)
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

/// A network this run created, removed when dropped (its containers must be
/// gone by then: drop them first).
#[derive(Debug)]
pub struct Network {
    pub name: String,
    _guard: Guard,
}

pub fn create_network(name: &str, options: &[&str]) -> Result<Network> {
    let guard = Guard::register(Resource::Undo(docker(["network", "rm", name])));
    execute(
        &docker(["network", "create"])
            .opt("--opt", options)
            .arg(name),
    )?;
    let name = name.to_owned();
    Ok(Network {
        name,
        _guard: guard,
    })
}

/// `docker run --rm --network none IMAGE COMMAND...` to completion: its
/// stdout, or an error quoting its stderr. The container is removed also if
/// this run is interrupted.
pub fn run_to_completion(image: &str, command: &[&str]) -> Result<String> {
    let name = unique_name("image-lab-once");
    let _guard = Guard::register(remove_container(&name));
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
