//! Before measuring: the tools, the builds, the Python peers, the machine.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use toolkit::command::Cmd;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// The builds of the Rust peers: the service in its workspace (the root),
/// the bare actix-web server in the tooling's (`xtask/Cargo.toml`), both
/// with the service's release profile.
fn release_builds(root: &Path) -> [Cmd; 2] {
    let cargo = || Cmd::new(crate::cargo()).dir(root);
    [
        // The root workspace is the service alone.
        cargo().args(["build", "--release"]),
        cargo().args("build --release --manifest-path xtask/Cargo.toml -p bare-actix".split(' ')),
    ]
}

/// The name of the service's binary: its package's, which `cargo xtask
/// rename` changes.
pub fn service_binary(root: &Path) -> Result<String> {
    let metadata = Cmd::new(crate::cargo())
        .dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .run()?;
    let metadata: serde_json::Value = serde_json::from_str(&metadata)?;
    let targets = metadata["packages"][0]["targets"]
        .as_array()
        .into_iter()
        .flatten();
    targets
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|k| k.contains(&"bin".into()))
        })
        .find_map(|target| target["name"].as_str().map(str::to_owned))
        .context("cargo metadata names no binary in the root workspace")
}

/// The Python interpreter that makes the virtualenv: `$PYTHON` or `python3`.
fn python() -> PathBuf {
    std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The commands that install the Python peers, from the repository's root.
fn venv_commands(root: &Path) -> [Cmd; 2] {
    [
        Cmd::new(python()).args(["-m", "venv", "target/bench-venv"]),
        Cmd::new("target/bench-venv/bin/pip")
            .args("install -r bench/flask/requirements.txt".split(' ')),
    ]
    .map(|cmd| cmd.dir(root))
}

/// What the report lists as the commands that prepared the peers.
pub fn preparation(root: &Path) -> Vec<String> {
    release_builds(root)
        .iter()
        .chain(&venv_commands(root))
        .map(Cmd::shown)
        .collect()
}

/// Runs `cmd` (printed first) to success; `hint` says what to do when it fails.
fn run_shown(cmd: &Cmd, hint: &str) -> Result<()> {
    cmd.show();
    let status = cmd
        .command()
        .stdout(Stdio::null())
        .status()
        .map_err(|error| anyhow::anyhow!("cannot run `{}`: {error}{hint}", cmd.shown()))?;
    if !status.success() {
        bail!("`{}` failed ({status}){hint}", cmd.shown());
    }
    Ok(())
}

/// Builds the Rust peers; the folder holding the binaries.
pub fn build_release(root: &Path) -> Result<PathBuf> {
    for build in release_builds(root) {
        run_shown(&build, "")?;
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release"))
}

/// Makes `target/bench-venv` with bench/flask/requirements.txt installed,
/// unless it already holds exactly those (a stamp file remembers).
pub fn python_venv(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/bench-venv");
    let requirements = root.join("bench/flask/requirements.txt");
    let wanted = fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let stamp = venv.join("bench-requirements.txt");
    if venv.join("bin/gunicorn").is_file() && fs::read_to_string(&stamp).is_ok_and(|s| s == wanted)
    {
        return Ok(venv);
    }
    let [make, install] = venv_commands(root);
    run_shown(
        &make,
        "; the Python peers need python3 and its venv module: `apt-get install python3 python3-venv`",
    )?;
    run_shown(&install, "")?;
    fs::write(&stamp, wanted)?;
    Ok(venv)
}

/// The machine the figures come from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    /// Logical CPUs in /proc/cpuinfo.
    pub cores: usize,
    /// CPUs this process may use (cgroup and affinity limits).
    pub usable_cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub wrk: String,
    pub python: String,
    pub rustc: String,
    pub docker_engine: Option<String>,
}

/// The first line `program --version` prints.
fn version_of(program: &OsStr) -> String {
    let Ok(out) = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    else {
        return "not found".to_owned();
    };
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// What follows `key` (and `:` or `=`) on the first line of file `path` that starts with it.
fn field(path: &str, key: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let value = text.lines().find_map(|line| line.strip_prefix(key))?;
    Some(
        value
            .trim_start_matches([' ', '\t', ':', '='])
            .trim()
            .trim_matches('"')
            .to_owned(),
    )
}

pub fn machine(wrk: String, docker_engine: Option<String>) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let memory = field("/proc/meminfo", "MemTotal");
    let memory_kib = memory.and_then(|kib| kib.split_whitespace().next()?.parse::<f64>().ok());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Machine {
        cpu_model: field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".to_owned()),
        cores: cpuinfo
            .lines()
            .filter(|line| line.starts_with("processor"))
            .count(),
        usable_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: memory_kib.map_or(0.0, |kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        kernel: kernel.trim().to_owned(),
        os: field("/etc/os-release", "PRETTY_NAME").unwrap_or_else(|| "unknown".to_owned()),
        wrk,
        python: version_of(python().as_os_str()),
        rustc: version_of("rustc".as_ref()),
        docker_engine,
    }
}
