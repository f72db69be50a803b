//! The peers: what each one is, how it is started, and the measurements
//! taken on one running instance (first answer, memory, signal to exit).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use super::procfs;
use crate::cleanup::{Guard, Resource};
use crate::docker::{self, Container};

/// The peers, in the order of every table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerId {
    /// This service's release binary on the host.
    Service,
    /// The production image, as a container.
    Image,
    /// The limit: actix-web answering fixed bodies.
    BareActix,
    /// The Flask original under gunicorn, 2 sync workers.
    Gunicorn,
    /// The Flask original under Flask's own threaded server.
    Flask,
}

impl PeerId {
    pub const ALL: [PeerId; 5] = [
        PeerId::Service,
        PeerId::Image,
        PeerId::BareActix,
        PeerId::Gunicorn,
        PeerId::Flask,
    ];

    /// The key in JSON.
    pub fn key(self) -> &'static str {
        match self {
            PeerId::Service => "service",
            PeerId::Image => "image",
            PeerId::BareActix => "bare-actix",
            PeerId::Gunicorn => "gunicorn",
            PeerId::Flask => "flask",
        }
    }

    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            PeerId::Service => "service (host)",
            PeerId::Image => "service (image)",
            PeerId::BareActix => "bare actix-web",
            PeerId::Gunicorn => "gunicorn ×2",
            PeerId::Flask => "Flask dev server",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            PeerId::Service => {
                "this service's release build (`cargo build --release`), run on the host; \
                                its JSON request log goes to /dev/null"
            }
            PeerId::Image => {
                "the production image (the repo's Dockerfile), run with `--network host` so that \
                              no docker-proxy sits between wrk and the service; its log goes to docker's json-file driver"
            }
            PeerId::BareActix => {
                "the limit: bench/bare-actix, actix-web answering fixed bodies, \
                                  no logging, no state, actix's own signal handling"
            }
            PeerId::Gunicorn => {
                "the Flask original (bench/flask/app.py) under gunicorn, 2 sync workers"
            }
            PeerId::Flask => {
                "the Flask original (bench/flask/app.py) under Flask's own threaded server"
            }
        }
    }
}

/// Where the peers' programs are.
#[derive(Debug, Clone)]
pub struct Peers {
    pub root: PathBuf,
    /// Holds the release builds of `service` and `bare-actix`.
    pub release_dir: PathBuf,
    /// The virtualenv holding Flask and gunicorn.
    pub venv: PathBuf,
    /// The production image, when the container peer is measured.
    pub image: Option<String>,
    /// Each peer's stderr goes to `logs/<peer>.log`.
    pub logs: PathBuf,
}

/// A program to start on the host.
struct HostCommand {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    dir: PathBuf,
}

impl Peers {
    fn flask_dir(&self) -> PathBuf {
        self.root.join("bench/flask")
    }

    /// How `peer` is started on the host; `port` is a number, or `$PORT`
    /// to show the command.
    fn host_command(&self, peer: PeerId, port: &str) -> HostCommand {
        let port = port.to_owned();
        let local = "127.0.0.1".to_owned();
        match peer {
            PeerId::Service => HostCommand {
                program: self.release_dir.join("service"),
                args: vec![],
                env: vec![("PORT", port), ("HOST", local)],
                dir: self.root.clone(),
            },
            PeerId::BareActix => HostCommand {
                program: self.release_dir.join("bare-actix"),
                args: vec![],
                env: vec![("PORT", port)],
                dir: self.root.clone(),
            },
            PeerId::Flask => HostCommand {
                program: self.venv.join("bin/python"),
                args: vec!["app.py".into()],
                env: vec![("PORT", port), ("HOST", local)],
                dir: self.flask_dir(),
            },
            PeerId::Gunicorn => HostCommand {
                program: self.venv.join("bin/gunicorn"),
                args: vec![
                    "--workers".into(),
                    "2".into(),
                    "--bind".into(),
                    format!("{local}:{port}"),
                    "app:app".into(),
                ],
                env: vec![],
                dir: self.flask_dir(),
            },
            PeerId::Image => unreachable!("the image runs as a container"),
        }
    }

    fn container_run(&self, port: &str) -> Result<docker::Run> {
        let image = self.image.as_deref().context("no image to run")?;
        Ok(docker::Run::new(image)
            .network("host")
            .env("PORT", port)
            .env("HOST", "127.0.0.1"))
    }

    /// How the peer is started, as a user would type it (`$PORT` for the port).
    pub fn shown_command(&self, peer: PeerId) -> String {
        const PORT: &str = "$PORT";
        if peer == PeerId::Image {
            self.container_run(PORT)
                .map(|run| run.shown_command())
                .unwrap_or_default()
        } else {
            let command = self.host_command(peer, PORT);
            let relative = |path: &Path| {
                let from_root = path
                    .strip_prefix(&self.root)
                    .unwrap_or(path)
                    .display()
                    .to_string();
                if command.dir == self.root {
                    from_root
                } else {
                    format!("../../{from_root}")
                }
            };
            let env: Vec<String> = command
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let line = [env, vec![relative(&command.program)], command.args.clone()]
                .concat()
                .join(" ");
            if command.dir == self.root {
                line
            } else {
                format!("cd bench/flask && {line}")
            }
        }
    }

    /// Starts one instance of `peer` on a free port.
    pub fn start(&self, peer: PeerId) -> Result<Instance> {
        let port = crate::http::free_port()?;
        let log = self.logs.join(format!("{}.log", peer.key()));
        if peer == PeerId::Image {
            let run = self.container_run(&port.to_string())?;
            let spawned = Instant::now();
            let container = run.start()?;
            let pid = container.pid()?;
            return Ok(Instance {
                peer,
                port,
                pid,
                spawned,
                process: None,
                container: Some(container),
                log,
            });
        }
        let command = self.host_command(peer, &port.to_string());
        let stderr =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .current_dir(&command.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            // Keeps __pycache__ out of bench/flask (the venv's own is precompiled).
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0);
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", command.program.display()))?;
        let pid = i32::try_from(child.id()).context("pid out of range")?;
        let guard = Guard::register(Resource::ProcessGroup(pid));
        Ok(Instance {
            peer,
            port,
            pid,
            spawned,
            process: Some((child, guard)),
            container: None,
            log,
        })
    }
}

/// One running peer; killed (with everything it started) when dropped.
pub struct Instance {
    pub peer: PeerId,
    pub port: u16,
    /// The host PID of its first process (gunicorn's master, the container's PID 1).
    pub pid: i32,
    /// Just before the start command ran.
    pub spawned: Instant,
    process: Option<(Child, Guard)>,
    container: Option<Container>,
    log: PathBuf,
}

impl Instance {
    fn has_exited(&self) -> bool {
        procfs::has_exited(self.pid)
    }

    /// The last lines the peer printed, for error messages.
    fn log_tail(&self) -> String {
        let text = match &self.container {
            Some(container) => container.logs(),
            None => std::fs::read_to_string(&self.log).unwrap_or_default(),
        };
        let lines: Vec<&str> = text.trim_end().lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Polls `GET /health` in a tight loop (a connection attempt every
    /// 0.5 ms) until it answers 200; the time since the start command.
    pub fn wait_first_200(&self, timeout: Duration) -> Result<Duration> {
        let deadline = self.spawned + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(200) = status_of(self.port, "/health", left.min(Duration::from_secs(2))) {
                return Ok(self.spawned.elapsed());
            }
            if self.has_exited() {
                bail!(
                    "{} exited before answering; it printed:\n{}",
                    self.peer.name(),
                    self.log_tail()
                );
            }
            if left.is_zero() {
                bail!(
                    "{} gave no 200 on /health within {timeout:?}; it printed:\n{}",
                    self.peer.name(),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_micros(500));
        }
    }

    /// Every process of the peer (its first one and all descendants).
    pub fn processes(&self) -> Vec<i32> {
        procfs::tree(self.pid)
    }

    /// Resident memory of all its processes, in bytes.
    pub fn rss(&self) -> u64 {
        procfs::total_rss(&self.processes())
    }

    /// Sends SIGTERM to its first process (as `docker stop` does); when it went.
    pub fn terminate(&self) -> Result<Instant> {
        let sent = Instant::now();
        kill(Pid::from_raw(self.pid), Signal::SIGTERM)
            .with_context(|| format!("cannot signal {}", self.pid))?;
        Ok(sent)
    }

    /// Waits (polling every 0.2 ms) for its first process to exit; the time
    /// since `since`, or `None` if it still runs `timeout` after it.
    pub fn wait_exit(&mut self, since: Instant, timeout: Duration) -> Option<Duration> {
        loop {
            if self.has_exited() {
                let elapsed = since.elapsed();
                if let Some((child, _)) = &mut self.process {
                    let _ = child.wait();
                }
                return Some(elapsed);
            }
            if since.elapsed() >= timeout {
                return None;
            }
            thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some((mut child, guard)) = self.process.take() {
            drop(guard); // SIGKILL to the whole process group
            let _ = child.wait();
        }
        // The container's guard removes it (`docker rm --force`).
    }
}

/// The status code of `GET path` on 127.0.0.1:port, in one connection.
///
/// By hand rather than `crate::http::http_get` (ureq): it times a start-up of a
/// few milliseconds, polled every 0.5 ms, so each probe is one connect, one
/// write and the status line, with no agent to build or body to read.
pub fn status_of(port: u16, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let timeout = timeout.max(Duration::from_millis(1));
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::with_capacity(64);
    let mut buffer = [0; 256];
    while !head.contains(&b'\n') {
        match stream.read(&mut buffer)? {
            0 => break,
            n => head.extend_from_slice(&buffer[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
}
