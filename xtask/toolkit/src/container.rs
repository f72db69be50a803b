//! Containers through the engine's API. A [`Run`] describes one as a
//! student would start it, and that one description makes both the API
//! request and the `docker run` command shown for it; so do the other calls
//! ([`Stop`], [`Exec`], [`TOP_PS_ARGS`]). Every container is removed when its
//! [`Container`] drops, and on Ctrl-C ([`crate::cleanup`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ExecConfig, HostConfig, HostConfigLogConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, LogsOptions, StartContainerOptions,
    StopContainerOptions, TopOptions,
};
use futures_util::StreamExt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cleanup::{Guard, Resource};
use crate::command::{Cmd, last_lines};
use crate::engine::{self, announce, engine, inspect_container, message};
use crate::http::{Answer, http_get_at};
use crate::{inspect, unique_name, wait_for, wait_for_every};

/// What confines a container: its network, limits and log. The values are
/// the caller's; this renders them as the API's and as `docker run` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub network: String,
    /// Memory, and memory plus swap (the same: no swap), in MiB.
    pub memory_mib: i64,
    pub pids: i64,
    pub cpus: i64,
    /// The json-file log's one file, as Docker writes sizes (`1m`).
    pub log_max_size: String,
}

impl Confinement {
    /// `--network NETWORK --memory 512m ...`.
    pub fn flags(&self) -> String {
        let Confinement {
            network,
            memory_mib: memory,
            pids,
            cpus,
            log_max_size: log,
        } = self;
        format!(
            "--network {network} --memory {memory}m --memory-swap {memory}m --pids-limit {pids} \
             --cpus {cpus} --log-driver json-file --log-opt max-size={log} --log-opt max-file=1"
        )
    }

    fn apply(&self, host: &mut HostConfig) {
        let bytes = self.memory_mib * 1024 * 1024;
        host.network_mode = Some(self.network.clone());
        host.memory = Some(bytes);
        host.memory_swap = Some(bytes);
        host.pids_limit = Some(self.pids);
        host.nano_cpus = Some(self.cpus * 1_000_000_000);
        host.log_config = Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".into(), self.log_max_size.clone()),
                ("max-file".into(), "1".into()),
            ])),
        });
    }
}

/// A container to start, as a student would: `docker run -d ...`.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub image: String,
    pub env: Vec<(String, String)>,
    /// Container ports to publish, each on a free 127.0.0.1 port; the
    /// first is the one [`Container::endpoint`] answers on.
    pub publish: Vec<u16>,
    pub read_only: bool,
    /// `--cap-drop ALL --security-opt no-new-privileges`.
    pub hardened: bool,
    pub user: Option<String>,
    /// `--network NAME` (`host`: the container shares the host's network).
    pub network: Option<String>,
    /// Confinement, kept apart from the lab's own flags so that
    /// [`Run::shown_command`] shows the command a student would type.
    pub confinement: Option<Confinement>,
}

const HARDENED_CAP_DROP: &str = "ALL";
const HARDENED_SECURITY_OPT: &str = "no-new-privileges";

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
        self.publish.push(container_port);
        self
    }

    pub fn network(mut self, network: &str) -> Self {
        self.network = Some(network.to_owned());
        self
    }

    /// `docker run` of container `name`, each port published on the same
    /// host port (`shown`) or on one the engine picks, confined or not.
    fn command(&self, name: &str, shown: bool, confined: bool) -> Cmd {
        let hardened = [
            "--cap-drop",
            HARDENED_CAP_DROP,
            "--security-opt",
            HARDENED_SECURITY_OPT,
        ];
        let confinement = match (&self.confinement, confined) {
            (Some(confinement), true) => confinement.flags(),
            _ => String::new(),
        };
        let publish = |port: &u16| match shown {
            true => format!("127.0.0.1:{port}:{port}"),
            false => format!("127.0.0.1::{port}"),
        };
        Cmd::new("docker")
            .args(["run", "--detach", "--name", name])
            .args(confinement.split_whitespace())
            .opt("--publish", self.publish.iter().map(publish))
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
        self.command("NAME", true, false).shown()
    }

    /// The network it joins: the confinement's, else `--network`.
    fn joined_network(&self) -> Option<&str> {
        (self.confinement.as_ref().map(|c| c.network.as_str())).or(self.network.as_deref())
    }

    /// The API's request for what [`Run::command`] says.
    fn request(&self) -> ContainerCreateBody {
        let ports: Vec<String> = self
            .publish
            .iter()
            .map(|port| format!("{port}/tcp"))
            .collect();
        let binding = PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        };
        let bindings = ports
            .iter()
            .map(|port| (port.clone(), Some(vec![binding.clone()])));
        let mut host = HostConfig {
            port_bindings: (!ports.is_empty()).then(|| bindings.collect()),
            readonly_rootfs: Some(self.read_only),
            network_mode: self.network.clone(),
            ..Default::default()
        };
        if self.hardened {
            host.cap_drop = Some(vec![HARDENED_CAP_DROP.into()]);
            host.security_opt = Some(vec![HARDENED_SECURITY_OPT.into()]);
        }
        if let Some(confinement) = &self.confinement {
            confinement.apply(&mut host);
        }
        debug_assert_eq!(host.network_mode.as_deref(), self.joined_network());
        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(self.env.iter().map(|(n, v)| format!("{n}={v}")).collect()),
            user: self.user.clone(),
            exposed_ports: (!ports.is_empty()).then_some(ports),
            host_config: Some(host),
            ..Default::default()
        }
    }

    /// Starts it detached; the container is removed when dropped. A
    /// published port goes to 127.0.0.1 on a port the engine picks, so that
    /// runs in parallel never race for one.
    pub fn start(&self) -> Result<Container> {
        let name = unique_name("labcheck");
        let guard = Guard::register(Resource::Container(name.clone()));
        announce(&self.command(&name, false, true).shown());
        let started = Instant::now();
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let request = self.request();
        engine()?
            .call(async |docker| {
                docker.create_container(Some(options), request).await?;
                let start = None::<StartContainerOptions>;
                docker.start_container(&name, start).await
            })
            .map_err(|error| {
                anyhow!(
                    "cannot start a container of {}: {}",
                    self.image,
                    message(&error)
                )
            })?;
        let mut container = Container {
            name,
            endpoint: None,
            started,
            seen_healthy: OnceLock::new(),
            next_inspect: Mutex::new(Instant::now()),
            _guard: guard,
        };
        if let Some(&port) = self.publish.first() {
            match container.endpoint_of(port, self.joined_network()) {
                Ok(endpoint) => container.endpoint = Some(endpoint),
                // Exited already, and its port with it: what it did is evidence.
                Err(_) if !container.is_running() => {}
                Err(error) => return Err(error),
            }
        }
        Ok(container)
    }
}

/// How often a wait on a container asks the engine about it: polled every
/// 50 ms, the engine's inspects were a fifth of a class's CPU on 2 cores.
const INSPECT_EVERY: Duration = Duration::from_millis(250);

/// A running (or exited) container, removed on drop.
#[derive(Debug)]
pub struct Container {
    pub name: String,
    /// Where its published port answers this process: 127.0.0.1 and the
    /// host port it is published on, or, when this process runs in a
    /// container on the same network, the container's own address there
    /// (the host's ports are not this container's; on Docker Desktop the
    /// host cannot reach container addresses, but a container can).
    pub endpoint: Option<SocketAddr>,
    /// When it was started.
    pub started: Instant,
    /// How long after `started` an inspect first saw it `healthy`.
    seen_healthy: OnceLock<Duration>,
    /// When [`Container::try_answering`] may next ask the engine whether it runs.
    next_inspect: Mutex<Instant>,
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

/// `docker stop --time SECONDS`: SIGTERM, then SIGKILL after `kill_after`.
#[derive(Debug, Clone, Copy)]
pub struct Stop {
    pub kill_after: Duration,
}

impl Stop {
    pub fn shown(&self, container: &str) -> String {
        format!(
            "docker stop --time {} {container}",
            self.kill_after.as_secs()
        )
    }
}

/// `docker exec CONTAINER COMMAND...`.
#[derive(Debug, Clone, Copy)]
pub struct Exec<'a> {
    pub command: &'a [&'a str],
}

impl Exec<'_> {
    pub fn shown(&self, container: &str) -> String {
        Cmd::new("docker")
            .args(["exec", container])
            .args(self.command)
            .shown()
    }
}

/// What a command run in a container did.
#[derive(Debug, Clone, Default)]
pub struct Executed {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// The `ps` options of `docker top`: the engine needs the PID column.
pub const TOP_PS_ARGS: &str = "-eo pid,uid,args";

/// `docker top CONTAINER -eo pid,uid,args`.
pub fn top_shown(container: &str) -> String {
    format!("docker top {container} {TOP_PS_ARGS}")
}

impl Container {
    /// Where `container_port` answers this process (see [`Container::endpoint`]).
    pub fn endpoint_of(&self, container_port: u16, network: Option<&str>) -> Result<SocketAddr> {
        let settings = self.inspect()?.network_settings;
        if let (Some(_), Some(network)) = (engine::own_container(), network) {
            let networks = settings.networks.unwrap_or_default();
            let address = (networks.get(network).and_then(|n| n.ip_address.as_deref()))
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .with_context(|| format!("{} has no address on network {network}", self.name))?;
            return Ok(SocketAddr::new(address, container_port));
        }
        let key = format!("{container_port}/tcp");
        let ports = settings.ports.unwrap_or_default();
        let bindings = ports.get(&key).cloned().flatten().unwrap_or_default();
        let port: u16 = bindings
            .iter()
            .filter(|binding| binding.host_ip.as_deref() == Some("127.0.0.1"))
            .find_map(|binding| binding.host_port.as_deref()?.parse().ok())
            .with_context(|| format!("{} publishes {key} on no 127.0.0.1 port", self.name))?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// `docker container inspect NAME`.
    pub fn inspect(&self) -> Result<inspect::Container> {
        let inspect = inspect_container(&self.name)?;
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
        // One inspect a tick: the time reported comes from the engine's own
        // probe log, so polling faster buys no precision.
        let healthy = wait_for_every(timeout, INSPECT_EVERY, || {
            let state = self.inspect().map(|c| c.state).unwrap_or_default();
            last = state.health_status().map(str::to_owned);
            if !state.running {
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

    /// One try at `GET path` on the published port: `Some(Ok)` once it
    /// answers (any status), `Some(Err)` once the container has exited
    /// (saying how); else `None`, with the try's error in `last_error`.
    /// Whether it still runs is asked of the engine only after a failed try,
    /// and at most every [`INSPECT_EVERY`].
    pub fn try_answering(
        &self,
        path: &str,
        last_error: &mut String,
    ) -> Option<Result<Answer, String>> {
        let Some(endpoint) = self.endpoint else {
            return Some(Err("the container publishes no port".into()));
        };
        match http_get_at(endpoint, path) {
            Ok(answer) => return Some(Ok(answer)),
            Err(error) => *last_error = format!("{error:#}"),
        }
        {
            let mut next = self.next_inspect.lock().unwrap_or_else(|e| e.into_inner());
            if Instant::now() < *next {
                return None;
            }
            *next = Instant::now() + INSPECT_EVERY;
        }
        (!self.is_running()).then(|| Err(self.exited()))
    }

    /// Waits until `GET path` answers on the published port (any status).
    pub fn wait_answering(&self, path: &str, timeout: Duration) -> Result<(Duration, Answer)> {
        let started = Instant::now();
        let mut last_error = String::from("no answer");
        let answer = wait_for(timeout, || self.try_answering(path, &mut last_error));
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
        let endpoint = self.endpoint.context("the container publishes no port")?;
        http_get_at(endpoint, path)
    }

    /// `docker stop`: how long it took and the exit code.
    pub fn stop(&self, stop: Stop) -> Result<Ended> {
        let name = &self.name;
        announce(&stop.shown(name));
        let started = Instant::now();
        let options = StopContainerOptions {
            t: i32::try_from(stop.kill_after.as_secs()).ok(),
            signal: None,
        };
        engine()?
            .call(async |docker| docker.stop_container(name, Some(options)).await)
            .map_err(|error| anyhow!("`{}` failed: {}", stop.shown(name), message(&error)))?;
        let elapsed = started.elapsed();
        let exit_code = self.inspect()?.state.exit_code;
        Ok(Ended { elapsed, exit_code })
    }

    /// The file at `path` in the container (`docker cp NAME:PATH -`): the
    /// engine sends it as a tar archive of one entry.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>> {
        let name = &self.name;
        announce(&format!("docker cp {name}:{path} -"));
        let options = DownloadFromContainerOptions { path: path.into() };
        let archive = engine()?.call(async |docker| {
            let mut chunks = docker.download_from_container(name, Some(options));
            let mut archive = Vec::new();
            while let Some(chunk) = chunks.next().await {
                archive.extend_from_slice(&chunk?);
            }
            Ok::<_, bollard::errors::Error>(archive)
        });
        let archive =
            archive.map_err(|error| anyhow!("docker cp {name}:{path}: {}", message(&error)))?;
        let mut entries = tar::Archive::new(archive.as_slice());
        let mut entry = entries
            .entries()?
            .next()
            .with_context(|| format!("docker cp {name}:{path}: an empty archive"))??;
        let mut file = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut file)?;
        Ok(file)
    }

    /// Everything the container printed, stdout then stderr (`docker logs`).
    pub fn logs(&self) -> String {
        let name = &self.name;
        announce(&format!("docker logs {name}"));
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let Ok(engine) = engine() else {
            return String::new();
        };
        let (stdout, stderr) = engine.call(async |docker| {
            let mut logs = docker.logs(name, Some(options));
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            while let Some(Ok(chunk)) = logs.next().await {
                match chunk {
                    LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                    other => stdout.extend_from_slice(&other.into_bytes()),
                }
            }
            (stdout, stderr)
        });
        String::from_utf8_lossy(&stdout).into_owned() + &String::from_utf8_lossy(&stderr)
    }

    /// Runs `exec` in the container, cut off after `timeout`: for untrusted
    /// images, whose programs decide how long it takes.
    pub fn exec(&self, exec: Exec, timeout: Duration) -> Result<Executed> {
        let name = &self.name;
        announce(&exec.shown(name));
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(exec.command.iter().map(|&arg| arg.to_owned()).collect()),
            ..Default::default()
        };
        let run = async |docker: &bollard::Docker| {
            let id = docker.create_exec(name, config).await?.id;
            let mut executed = Executed::default();
            let started = docker.start_exec(&id, None::<StartExecOptions>).await?;
            if let StartExecResults::Attached { mut output, .. } = started {
                while let Some(chunk) = output.next().await {
                    match chunk? {
                        LogOutput::StdErr { message } => {
                            executed.stderr += &String::from_utf8_lossy(&message);
                        }
                        other => executed.stdout += &String::from_utf8_lossy(&other.into_bytes()),
                    }
                }
            }
            executed.exit_code = docker.inspect_exec(&id).await?.exit_code.unwrap_or(-1);
            Ok::<_, bollard::errors::Error>(executed)
        };
        engine()?
            .call(async |docker| tokio::time::timeout(timeout, run(docker)).await)
            .map_err(|_| anyhow!("did not finish within {timeout:?}"))?
            .map_err(|error| anyhow!("`{}` failed: {}", exec.shown(name), message(&error)))
    }

    /// The container's processes, its PID 1 first.
    pub fn processes(&self) -> Result<Vec<Process>> {
        let name = &self.name;
        announce(&top_shown(name));
        let options = TopOptions {
            ps_args: TOP_PS_ARGS.to_owned(),
        };
        let top = engine()?
            .call(async |docker| docker.top_processes(name, Some(options)).await)
            .map_err(|error| anyhow!("`{}` failed: {}", top_shown(name), message(&error)))?;
        let titles = top.titles.unwrap_or_default();
        let column = |title: &str| titles.iter().position(|t| t.eq_ignore_ascii_case(title));
        let (pid, uid, args) = (column("PID"), column("UID"), column("COMMAND"));
        let (Some(pid), Some(uid), Some(args)) = (pid, uid, args) else {
            bail!(
                "`{}` has no PID, UID and COMMAND columns: {titles:?}",
                top_shown(name)
            );
        };
        let mut processes: Vec<(i32, Process)> = (top.processes.unwrap_or_default().iter())
            .filter_map(|row| {
                let process = Process {
                    uid: row.get(uid)?.parse().ok()?,
                    command: row.get(args)?.clone(),
                };
                Some((row.get(pid)?.parse().ok()?, process))
            })
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The command shown and the request sent say the same, flag by field.
    #[test]
    fn the_shown_run_and_the_request_are_one_description() {
        let run = Run {
            read_only: true,
            hardened: true,
            confinement: Some(Confinement {
                network: "grading".into(),
                memory_mib: 512,
                pids: 256,
                cpus: 1,
                log_max_size: "1m".into(),
            }),
            ..Run::new("alice/image-lab:01234567")
                .env("ROCKET_SIZE", "Big")
                .publish(5000)
        };
        assert_eq!(
            run.shown_command(),
            "docker run --detach --name NAME --publish 127.0.0.1:5000:5000 --read-only --cap-drop ALL \
             --security-opt no-new-privileges --env ROCKET_SIZE=Big alice/image-lab:01234567"
        );
        assert_eq!(
            run.command("labcheck", false, true).shown(),
            "docker run --detach --name labcheck --network grading --memory 512m --memory-swap 512m \
             --pids-limit 256 --cpus 1 --log-driver json-file --log-opt max-size=1m --log-opt max-file=1 \
             --publish 127.0.0.1::5000 --read-only --cap-drop ALL --security-opt no-new-privileges \
             --env ROCKET_SIZE=Big alice/image-lab:01234567"
        );
        let request = run.request();
        let host = request.host_config.expect("a host config");
        assert_eq!(request.image.as_deref(), Some("alice/image-lab:01234567"));
        assert_eq!(request.env, Some(vec!["ROCKET_SIZE=Big".to_owned()]));
        assert_eq!(request.exposed_ports, Some(vec!["5000/tcp".to_owned()]));
        let binding = &host.port_bindings.expect("a binding")["5000/tcp"];
        assert_eq!(
            binding.as_deref(),
            Some(
                &[PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }][..]
            )
        );
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_owned()])
        );
        assert_eq!(host.network_mode.as_deref(), Some("grading"));
        assert_eq!(host.memory, Some(512 << 20));
        assert_eq!(host.memory_swap, Some(512 << 20));
        assert_eq!(host.pids_limit, Some(256));
        assert_eq!(host.nano_cpus, Some(1_000_000_000));
        let log = host.log_config.expect("a log config");
        assert_eq!(log.typ.as_deref(), Some("json-file"));
        let options = log.config.expect("log options");
        assert_eq!(
            (options["max-size"].as_str(), options["max-file"].as_str()),
            ("1m", "1")
        );
    }

    #[test]
    fn stop_exec_and_top_are_shown_as_typed() {
        let stop = Stop {
            kill_after: Duration::from_secs(10),
        };
        assert_eq!(stop.shown("C"), "docker stop --time 10 C");
        let exec = Exec {
            command: &["sh", "-c", "true"],
        };
        assert_eq!(exec.shown("C"), "docker exec C sh -c true");
        assert_eq!(top_shown("C"), "docker top C -eo pid,uid,args");
    }
}
