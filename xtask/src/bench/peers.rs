//! The peers: what each one is, how it is started, and the measurements
//! taken on one running instance (first answer, memory, signal to exit).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use super::procfs;
use toolkit::cleanup::{Guard, Resource};
use toolkit::command::last_lines;
use toolkit::container::{Container, Run};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Service,
    Image,
    BareActix,
    Gunicorn,
    Flask,
}

/// A peer, as the report shows it.
#[derive(Debug, Serialize)]
pub struct Peer {
    #[serde(skip)]
    pub kind: Kind,
    /// The key in JSON.
    pub id: &'static str,
    /// The name in tables.
    pub name: &'static str,
    pub description: &'static str,
}

/// The peers, in the order of every table.
pub static PEERS: [Peer; 5] = [
    Peer {
        kind: Kind::Service,
        id: "service",
        name: "service (host)",
        description: "this service's release build (`cargo build --release`), run on the host; \
                      its JSON request log goes to /dev/null",
    },
    Peer {
        kind: Kind::Image,
        id: "image",
        name: "service (image)",
        description: "the production image (the repo's Dockerfile), run with `--network host` so \
                      that no docker-proxy sits between wrk and the service; its log goes to \
                      docker's json-file driver",
    },
    Peer {
        kind: Kind::BareActix,
        id: "bare-actix",
        name: "bare actix-web",
        description: "the limit: bench/bare-actix, actix-web answering fixed bodies, no logging, \
                      no state, actix's own signal handling",
    },
    Peer {
        kind: Kind::Gunicorn,
        id: "gunicorn",
        name: "gunicorn ×2",
        description: "the Flask original (bench/flask/app.py) under gunicorn, 2 sync workers",
    },
    Peer {
        kind: Kind::Flask,
        id: "flask",
        name: "Flask dev server",
        description: "the Flask original (bench/flask/app.py) under Flask's own threaded server",
    },
];

/// The peer of this kind.
pub fn peer(kind: Kind) -> &'static Peer {
    PEERS
        .iter()
        .find(|p| p.kind == kind)
        .expect("every kind is a peer")
}

/// Where the peers' programs are.
#[derive(Debug, Clone)]
pub struct Peers {
    pub root: PathBuf,
    /// Holds the release builds of the service and `bare-actix`.
    pub release_dir: PathBuf,
    /// The service's binary (its package's name: `cargo xtask rename` changes it).
    pub service_binary: String,
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
    /// Started in bench/flask rather than the repository's root.
    in_flask: bool,
}

impl Peers {
    /// The release build a Rust peer runs.
    pub fn rust_program(&self, kind: Kind) -> PathBuf {
        match kind {
            Kind::Service => self.release_dir.join(&self.service_binary),
            _ => self.release_dir.join("bare-actix"),
        }
    }

    /// How a host peer is started; `port` is a number, or `$PORT` to show it.
    fn host_command(&self, kind: Kind, port: &str) -> HostCommand {
        // The service's metrics on any free port: its default, 9000, would
        // be one port for every peer and run the bench starts.
        let env = vec![
            ("PORT", port.to_owned()),
            ("HOST", "127.0.0.1".to_owned()),
            ("METRICS_PORT", "0".to_owned()),
        ];
        let bind = format!("127.0.0.1:{port}");
        let gunicorn = ["--workers", "2", "--bind", &bind, "app:app"];
        let (program, args, env, in_flask) = match kind {
            Kind::Service => (self.rust_program(kind), vec![], env, false),
            Kind::BareActix => (self.rust_program(kind), vec![], env[..1].to_vec(), false),
            Kind::Flask => (
                self.venv.join("bin/python"),
                vec!["app.py".into()],
                env,
                true,
            ),
            Kind::Gunicorn => (
                self.venv.join("bin/gunicorn"),
                gunicorn.map(String::from).to_vec(),
                vec![],
                true,
            ),
            Kind::Image => unreachable!("the image runs as a container"),
        };
        HostCommand {
            program,
            args,
            env,
            in_flask,
        }
    }

    fn container_run(&self, port: &str) -> Result<Run> {
        let image = self.image.as_deref().context("no image to run")?;
        Ok(Run::new(image)
            .network("host")
            .env("PORT", port)
            .env("HOST", "127.0.0.1")
            .env("METRICS_PORT", "0"))
    }

    /// How the peer is started, as a user would type it (`$PORT` for the port).
    pub fn shown_command(&self, peer: &Peer) -> String {
        const PORT: &str = "$PORT";
        if peer.kind == Kind::Image {
            return self
                .container_run(PORT)
                .map(|run| run.shown_command())
                .unwrap_or_default();
        }
        let command = self.host_command(peer.kind, PORT);
        let program = command
            .program
            .strip_prefix(&self.root)
            .unwrap_or(&command.program);
        let program = match command.in_flask {
            true => format!("../../{}", program.display()),
            false => program.display().to_string(),
        };
        let env = command.env.iter().map(|(k, v)| format!("{k}={v}"));
        let line = env
            .chain([program])
            .chain(command.args)
            .collect::<Vec<_>>()
            .join(" ");
        match command.in_flask {
            true => format!("cd bench/flask && {line}"),
            false => line,
        }
    }

    /// Starts one instance of `peer` on a free port.
    pub fn start(&self, peer: &'static Peer) -> Result<Instance> {
        self.start_with(peer, &[])
    }

    /// Starts one instance of `peer` on a free port, with the variables of
    /// `extra_env` set besides its own; its log is named after them too.
    pub fn start_with(
        &self,
        peer: &'static Peer,
        extra_env: &[(&'static str, &'static str)],
    ) -> Result<Instance> {
        let port = toolkit::http::free_port()?;
        let variant: String = extra_env.iter().map(|(k, v)| format!("-{k}-{v}")).collect();
        let log = self.logs.join(format!("{}{variant}.log", peer.id));
        let mut instance = Instance {
            peer,
            port,
            pid: 0,
            spawned: Instant::now(),
            process: None,
            container: None,
            log,
        };
        if peer.kind == Kind::Image {
            let run = extra_env
                .iter()
                .fold(self.container_run(&port.to_string())?, |run, &(k, v)| {
                    run.env(k, v)
                });
            instance.spawned = Instant::now();
            let container = run.start()?;
            instance.pid = container.pid()?;
            instance.container = Some(container);
            return Ok(instance);
        }
        let mut command = self.host_command(peer.kind, &port.to_string());
        command
            .env
            .extend(extra_env.iter().map(|&(k, v)| (k, v.to_owned())));
        let log = &instance.log;
        let stderr =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .current_dir(match command.in_flask {
                true => self.root.join("bench/flask"),
                false => self.root.clone(),
            })
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            // Keeps __pycache__ out of bench/flask (the venv's own is precompiled).
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .envs(command.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0);
        instance.spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", command.program.display()))?;
        instance.pid = i32::try_from(child.id()).context("pid out of range")?;
        instance.process = Some((child, Guard::register(Resource::ProcessGroup(instance.pid))));
        Ok(instance)
    }
}

/// One running peer; killed (with everything it started) when dropped.
pub struct Instance {
    pub peer: &'static Peer,
    pub port: u16,
    /// The host PID of its first process (gunicorn's master, the container's PID 1).
    pub pid: i32,
    /// Just before the start command ran.
    pub spawned: Instant,
    process: Option<(Child, Guard)>,
    /// The container's guard removes it (`docker rm --force`).
    container: Option<Container>,
    log: PathBuf,
}

impl Instance {
    /// Polls `GET /health` in a tight loop (a connection attempt every
    /// 0.5 ms) until it answers 200; the time since the start command.
    pub fn wait_first_200(&self, timeout: Duration) -> Result<Duration> {
        let deadline = self.spawned + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(true) = healthy(self.port, left.min(Duration::from_secs(2))) {
                return Ok(self.spawned.elapsed());
            }
            let why = if procfs::has_exited(self.pid) {
                "exited before answering".to_owned()
            } else if left.is_zero() {
                format!("gave no 200 on /health within {timeout:?}")
            } else {
                thread::sleep(Duration::from_micros(500));
                continue;
            };
            let printed = match &self.container {
                Some(container) => container.logs(),
                None => std::fs::read_to_string(&self.log).unwrap_or_default(),
            };
            bail!(
                "{} {why}; it printed:\n{}",
                self.peer.name,
                last_lines(&printed, 8)
            );
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
        while !procfs::has_exited(self.pid) {
            if since.elapsed() >= timeout {
                return None;
            }
            thread::sleep(Duration::from_micros(200));
        }
        let elapsed = since.elapsed();
        if let Some((child, _)) = &mut self.process {
            let _ = child.wait();
        }
        Some(elapsed)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some((mut child, guard)) = self.process.take() {
            drop(guard); // SIGKILL to the whole process group
            let _ = child.wait();
        }
    }
}

/// Whether `GET /health` on 127.0.0.1:port answers 200, in one connection.
///
/// By hand rather than `toolkit::http::http_get` (ureq): it times a start-up of a
/// few milliseconds, polled every 0.5 ms, so each probe is one connect, one
/// write and the status line, with no agent to build or body to read.
fn healthy(port: u16, timeout: Duration) -> std::io::Result<bool> {
    let timeout = timeout.max(Duration::from_millis(1));
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    // `HTTP/1.1 200`: the status line's first 12 bytes.
    let mut head = [0; 12];
    stream.read_exact(&mut head)?;
    Ok(head.ends_with(b" 200"))
}
