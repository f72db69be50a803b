//! Before measuring: the tools, the builds, the Python peers, the machine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// The builds of the Rust peers: the service in its workspace (the root),
/// the bare actix-web server in the tooling's (`xtask/Cargo.toml`), both
/// with the service's release profile.
const RELEASE_BUILDS: [&[&str]; 2] = [
    &["build", "--release", "-p", "service"],
    &[
        "build",
        "--release",
        "--manifest-path",
        "xtask/Cargo.toml",
        "-p",
        "bare-actix",
    ],
];

/// The commands that build the Rust peers, as shown in the report.
pub fn release_builds() -> Vec<String> {
    RELEASE_BUILDS
        .iter()
        .map(|args| format!("cargo {}", args.join(" ")))
        .collect()
}

/// Builds the Rust peers; the folder holding the binaries.
pub fn build_release(root: &Path) -> Result<PathBuf> {
    for (args, shown) in RELEASE_BUILDS.iter().zip(release_builds()) {
        eprintln!("$ {shown}");
        let status = Command::new(crate::cargo())
            .args(*args)
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release"))
}

/// The Python interpreter that makes the virtualenv: `$PYTHON` or `python3`.
fn python() -> PathBuf {
    std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// The commands that install the Python peers (shown in the report).
pub fn venv_commands() -> [&'static str; 2] {
    [
        "python3 -m venv target/bench-venv",
        "target/bench-venv/bin/pip install -r bench/flask/requirements.txt",
    ]
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
    let [make, install] = venv_commands();
    eprintln!("$ {make}");
    let made = Command::new(python())
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(crate::launch_error(
            "python3",
            "python3 is not installed (the Python peers need it): `apt-get install python3 python3-venv`",
        ))?;
    if !made.success() {
        bail!(
            "`{make}` failed ({made}); on Debian the venv module is `apt-get install python3-venv`"
        );
    }
    eprintln!("$ {install}");
    let status = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .context("cannot run the virtualenv's pip")?;
    if !status.success() {
        bail!("`{install}` failed ({status})");
    }
    fs::write(&stamp, wanted)?;
    Ok(venv)
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
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

fn first_line_of(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .map(|out| {
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            text.lines().next().unwrap_or_default().trim().to_owned()
        })
        .unwrap_or_else(|| "not found".to_owned())
}

pub fn machine(wrk: String, docker_engine: Option<String>) -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count();
    let memory_gib = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| (kib / 1024.0 / 1024.0 * 10.0).round() / 10.0);
    let os = fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            Some(
                line.strip_prefix("PRETTY_NAME=")?
                    .trim_matches('"')
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        cpu_model,
        cores,
        usable_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib,
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        os,
        wrk,
        python: first_line_of(&python().to_string_lossy(), &["--version"]),
        rustc: first_line_of("rustc", &["--version"]),
        docker_engine,
    }
}
