//! `cargo xtask builder-image`: the Dockerfile's build-stage image, made on
//! this machine, for an engine that cannot pull from a registry.
//!
//! The Dockerfile builds `FROM ${RUST_IMAGE}`, whose default its `ARG
//! RUST_IMAGE=` line pins (say `rust:1.95.0-slim-bookworm`). Without a
//! registry that image cannot be pulled, so this task makes an image of
//! exactly that name from what is reachable:
//!
//! 1. a minimal Debian of the pinned release, from Debian's own packages
//!    (`debootstrap --variant=minbase`), with gcc and libc6-dev: the linker
//!    driver and the static C library that `+crt-static` links in;
//! 2. the Rust toolchain installed here, which must be the pinned version,
//!    laid out like the official image (`/usr/local/rustup`, `/usr/local/cargo`);
//! 3. this host's CA bundle, so that cargo inside a build trusts whatever
//!    TLS-intercepting proxy stands between the machine and crates.io.
//!
//! The tag is the Dockerfile's own default, so `docker build .` and
//! `docker compose up --build` then find the base locally and pull nothing.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cleanup::{Guard, Resource};
use crate::command::Cmd;
use crate::{docker, progress, project_root};

/// Options of `cargo xtask builder-image`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Build it again even when the image already exists.
    #[arg(long)]
    pub force: bool,
    /// The Debian mirror debootstrap downloads from.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://deb.debian.org/debian"
    )]
    pub mirror: String,
}

/// The build-stage image the Dockerfile pins, taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Pin {
    /// The whole reference, `rust:1.95.0-slim-bookworm`: the tag to create.
    pub reference: String,
    /// The Rust version, `1.95.0`.
    pub rust: String,
    /// The Debian release, `bookworm`.
    pub debian: String,
}

/// Debian releases the official Rust images are made from.
const DEBIAN_RELEASES: &[&str] = &["bullseye", "bookworm", "trixie", "forky"];

/// The CA bundle of a Debian-like host (and of the image).
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Reads the `ARG RUST_IMAGE=rust:<version>-<variant>-<debian>` line of a
/// Dockerfile: the single place the build image is pinned.
pub fn read_pin(dockerfile: &str) -> Result<Pin> {
    let reference = dockerfile
        .lines()
        .find_map(|line| line.trim().strip_prefix("ARG RUST_IMAGE="))
        .context("the Dockerfile has no `ARG RUST_IMAGE=rust:<version>-slim-<debian>` line")?
        .trim()
        .trim_matches('"')
        .to_owned();
    let tag = reference.strip_prefix("rust:").with_context(|| {
        format!("RUST_IMAGE={reference}: expected rust:<version>-slim-<debian>")
    })?;
    let rust = tag.split('-').next().unwrap_or_default().to_owned();
    let debian = tag.rsplit('-').next().unwrap_or_default().to_owned();
    let version_ok = rust.split('.').count() == 3
        && rust
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !version_ok || !DEBIAN_RELEASES.contains(&debian.as_str()) {
        bail!(
            "RUST_IMAGE={reference}: expected rust:<x.y.z>-slim-<debian release> (one of {DEBIAN_RELEASES:?})"
        );
    }
    Ok(Pin {
        reference,
        rust,
        debian,
    })
}

/// Runs a host command (printed first); its trimmed stdout.
fn host(program: &str, args: &[&str]) -> Result<String> {
    Cmd::new(program).args(args).run()
}

/// The toolchain `rustc` runs here: its sysroot and host triple, after
/// checking that it is the pinned version.
fn local_toolchain(pin: &Pin) -> Result<(PathBuf, String)> {
    let version = host("rustc", &["--version"])?;
    let found = version.split_whitespace().nth(1).unwrap_or_default();
    let Pin {
        reference, rust, ..
    } = pin;
    if found != rust {
        bail!(
            "the Dockerfile pins Rust {rust} ({reference}) but this machine's rustc is {found}: run `rustup toolchain install {rust}` and then `cargo +{rust} xtask builder-image`"
        );
    }
    let sysroot = PathBuf::from(host("rustc", &["--print", "sysroot"])?);
    let triple = host("rustc", &["-vV"])?
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .context("`rustc -vV` names no host triple")?
        .to_owned();
    Ok((sysroot, triple))
}

pub fn run(args: &Args) -> Result<()> {
    let dockerfile = project_root().join("Dockerfile");
    let text = fs::read_to_string(&dockerfile)
        .with_context(|| format!("cannot read {}", dockerfile.display()))?;
    let pin = read_pin(&text)?;
    docker::ensure_engine()?;
    if !args.force && exists(&pin.reference, " (--force builds it again)")? {
        return Ok(());
    }
    // Every check that can fail fast, before a minute of downloading.
    let (sysroot, triple) = local_toolchain(&pin)?;
    let toolchain = format!("{}-{triple}", pin.rust);
    make(
        &DebianImage {
            reference: &pin.reference,
            release: &pin.debian,
            packages: "gcc,libc6-dev,ca-certificates",
            complete: &|rootfs| {
                eprintln!(
                    "  copying the Rust {} toolchain from {} (without its documentation)",
                    pin.rust,
                    sysroot.display()
                );
                install_toolchain(&sysroot, rootfs, &toolchain)
            },
            changes: vec![
                "ENV RUSTUP_HOME=/usr/local/rustup".to_owned(),
                "ENV CARGO_HOME=/usr/local/cargo".into(),
                "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                    .into(),
                format!("ENV RUST_VERSION={}", pin.rust),
                "CMD [\"bash\"]".into(),
            ],
            check: "cargo --version && rustc --version && cc --version | head -n 1",
        },
        &args.mirror,
    )?;
    eprintln!("`docker build .` and `docker compose up --build` now use it");
    Ok(())
}

/// The stand-in for `python:3.11-slim` that the tests' student-style images
/// build on: Debian bookworm's Python 3.11 with pip and venv, trimmed as the
/// official slim image is (no `__pycache__`, tests, locales or docs) so that
/// a two-stage Flask image stays under the lab's 150 MB like a real one. It
/// carries this host's CA bundle, so pip works behind a TLS-intercepting proxy.
pub const PYTHON_BASE: &str = "image-lab-test/python:3.11-slim";

/// Makes [`PYTHON_BASE`] unless the engine has it (about a minute, as root).
pub fn python_base() -> Result<()> {
    if exists(PYTHON_BASE, "")? {
        return Ok(());
    }
    make(
        &DebianImage {
            reference: PYTHON_BASE,
            release: "bookworm",
            packages: "python3,python3-pip,python3-venv,python-is-python3,ca-certificates",
            complete: &slim_python,
            changes: vec![
                "ENV LANG=C.UTF-8".to_owned(),
                "ENV PYTHONDONTWRITEBYTECODE=1".into(),
                "CMD [\"python3\"]".into(),
            ],
            check: "python --version && pip --version",
        },
        "http://deb.debian.org/debian",
    )
}

/// What the official Python images leave out, and Debian's mark that makes
/// pip refuse to install outside a venv (the official images have none).
fn slim_python(rootfs: &Path) -> Result<()> {
    empty(
        rootfs,
        &[
            "usr/share/locale",
            "usr/share/zoneinfo",
            "usr/lib/x86_64-linux-gnu/gconv",
            "usr/lib/aarch64-linux-gnu/gconv",
            "usr/lib/python3.11/test",
        ],
    )?;
    let externally_managed = rootfs.join("usr/lib/python3.11/EXTERNALLY-MANAGED");
    if externally_managed.is_file() {
        fs::remove_file(externally_managed)?;
    }
    remove_named(rootfs, "__pycache__")
}

/// Deletes every directory called `name` under `dir`.
fn remove_named(dir: &Path, name: &str) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if entry.file_name() == name {
            fs::remove_dir_all(entry.path())?;
        } else {
            remove_named(&entry.path(), name)?;
        }
    }
    Ok(())
}

/// Whether the engine has `reference` (said, with its ID and `hint`, when it does).
fn exists(reference: &str, hint: &str) -> Result<bool> {
    let id = docker::image_id(reference)?;
    if let Some(id) = &id {
        let id = &id[..id.len().min(19)];
        eprintln!("{reference} already exists ({id}); nothing to do{hint}");
    }
    Ok(id.is_some())
}

/// A Debian image made from Debian's packages, for an engine that cannot pull.
struct DebianImage<'a> {
    reference: &'a str,
    release: &'a str,
    /// debootstrap's `--include=`.
    packages: &'a str,
    /// Adds to the root filesystem what Debian's packages do not.
    complete: &'a dyn Fn(&Path) -> Result<()>,
    /// The image's configuration, as `docker import --change` lines.
    changes: Vec<String>,
    /// A shell command run in the new image before it gets its name.
    check: &'a str,
}

/// debootstrap, trim, complete, the host's CA bundle, `docker import`: the
/// image tagged `image.reference` once its check command runs in it.
fn make(image: &DebianImage, mirror: &str) -> Result<()> {
    let started = Instant::now();
    // Root owns /proc/self when we are root.
    if !fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        bail!(
            "making {} runs debootstrap, which needs root: run this as root, e.g. `sudo env \"PATH=$PATH\" cargo xtask builder-image`",
            image.reference
        );
    }
    // On PATH, or in the sbin folders, which a non-root PATH often lacks.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let debootstrap = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("debootstrap"))
        .find(|candidate| candidate.is_file())
        .context("debootstrap is not installed: `apt-get install debootstrap`")?;
    let host_ca = Path::new("/").join(CA_BUNDLE);
    let (reference, release) = (image.reference, image.release);
    eprintln!("making {reference} from Debian {release} packages");
    let mut done = 0;
    let mut step = |title: &str| {
        done += 1;
        let so_far = started.elapsed().as_secs_f64();
        eprintln!("[{done}/5] {title}   ({so_far:.1} s so far)");
    };
    // /var/tmp: on disk (a tmpfs /tmp may be small, or mounted nodev/noexec).
    let rootfs = PathBuf::from("/var/tmp").join(crate::unique_name("image-lab-rootfs"));
    let _rootfs_guard = Guard::register(Resource::TempDir(rootfs.clone()));

    let packages = image.packages;
    step(&format!(
        "debootstrap: a minimal Debian with {packages} (about a minute)"
    ));
    debootstrap_into(&debootstrap, image, &rootfs, mirror, started)?;

    step("trimming: downloaded packages, package lists, documentation");
    trim(&rootfs)?;

    step("completing the root filesystem");
    (image.complete)(&rootfs)?;

    step("copying this host's CA bundle (package managers must trust the proxy)");
    if host_ca.is_file() {
        let (from, to) = (host_ca.to_string_lossy(), rootfs.join(CA_BUNDLE));
        host("cp", &[&from, &to.to_string_lossy()])?;
    } else {
        eprintln!("  no {}: keeping Debian's own bundle", host_ca.display());
    }

    step(&format!("docker import as {reference}"));
    if !crate::cleanup::mounts_under(&rootfs).is_empty() {
        bail!("something is still mounted under {}", rootfs.display());
    }
    let mut changes = image.changes.clone();
    changes.push(format!(
        "LABEL org.opencontainers.image.description=\"{reference} look-alike made locally from Debian packages by cargo xtask\""
    ));
    // Imported under a temporary name first: a failure must not remove an
    // older image of the real name.
    let staging = crate::unique_name("image-lab-staging").to_lowercase();
    let staged = docker::import_rootfs(&rootfs, &changes, &staging)?;
    let versions = docker::run_to_completion(&staged.reference, &["sh", "-c", image.check])
        .with_context(|| format!("the imported image cannot run `{}`", image.check))?;
    for line in versions.lines() {
        progress(started, line);
    }
    docker::run(&["tag", &staged.reference, reference])?;
    drop(staged); // removes only the staging name: the image keeps the real one
    let id = docker::image_id(reference)?.unwrap_or_default();
    eprintln!(
        "{reference} is ready ({}, {:.0} s)",
        &id[..id.len().min(19)],
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs debootstrap in a process group of its own (killed, with whatever it
/// started, if this run is interrupted), printing its phases as they come.
fn debootstrap_into(
    program: &Path,
    image: &DebianImage,
    rootfs: &Path,
    mirror: &str,
    started: Instant,
) -> Result<()> {
    let debootstrap = Cmd::new(program)
        .arg("--variant=minbase")
        .arg(format!("--include={}", image.packages))
        .args([image.release.as_ref(), rootfs.as_os_str(), mirror.as_ref()]);
    debootstrap.announce();
    let (reader, writer) = std::io::pipe()?;
    let mut command = debootstrap.command();
    command
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    let mut child = command.spawn().context("cannot run debootstrap")?;
    drop(command); // closes our copies of the pipe's writing end
    let _group = Guard::register(Resource::ProcessGroup(
        i32::try_from(child.id()).context("PID out of range")?,
    ));
    let mut last = VecDeque::new();
    let mut packages = 0;
    for line in BufReader::new(reader).lines() {
        let line = line?;
        if line.starts_with("I: Retrieving ") && line.split_whitespace().count() == 4 {
            packages += 1;
        }
        if is_phase(&line) {
            progress(started, &line);
        }
        last.push_back(line);
        if last.len() > 20 {
            last.pop_front();
        }
    }
    let status = child.wait()?;
    if !status.success() {
        let last = Vec::from(last).join("\n");
        bail!("debootstrap failed ({status}); its last lines:\n{last}");
    }
    progress(started, format!("{packages} packages downloaded"));
    Ok(())
}

/// The lines of debootstrap worth showing: its phases and its warnings,
/// not the hundreds of lines about one package each.
fn is_phase(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    let phase = [" packages", " system", "release", "successfully"];
    line.starts_with("W:")
        || line.starts_with("E:")
        || (line.starts_with("I: ") && phase.iter().any(|word| lower.contains(word)))
}

/// Removes what a build image does not need: the downloaded packages, apt's
/// lists (as the official images do) and documentation; empties the host's
/// resolv.conf and hostname, which debootstrap copied and Docker replaces.
fn trim(rootfs: &Path) -> Result<()> {
    empty(
        rootfs,
        &[
            "var/cache/apt/archives",
            "var/lib/apt/lists",
            "usr/share/doc",
            "usr/share/man",
            "usr/share/info",
        ],
    )?;
    for file in ["etc/resolv.conf", "etc/hostname"] {
        let path = rootfs.join(file);
        if path.is_file() {
            eprintln!("  emptying /{file} (the host's; Docker provides its own)");
            fs::write(&path, "")?;
        }
    }
    Ok(())
}

/// Empties the folders `dirs` of `rootfs` (those that exist), but for what
/// apt needs in place: `archives/partial` and the lock files.
fn empty(rootfs: &Path, dirs: &[&str]) -> Result<()> {
    for dir in dirs.iter().map(|dir| rootfs.join(dir)) {
        if !dir.is_dir() {
            continue;
        }
        eprintln!("  emptying /{}", dir.strip_prefix(rootfs)?.display());
        for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default();
            if name == "partial" || name == "lock" {
                continue;
            }
            if path.is_dir() && !path.is_symlink() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Copies the toolchain under `/usr/local/rustup/toolchains/NAME` and links
/// its programs into `/usr/local/cargo/bin`, where the official image has
/// them on PATH.
fn install_toolchain(sysroot: &Path, rootfs: &Path, name: &str) -> Result<()> {
    let toolchain = rootfs.join("usr/local/rustup/toolchains").join(name);
    let cargo_bin = rootfs.join("usr/local/cargo/bin");
    fs::create_dir_all(&toolchain)?;
    fs::create_dir_all(&cargo_bin)?;
    let parts = ["bin", "lib", "libexec", "etc"].map(|part| sysroot.join(part));
    Cmd::new("cp")
        .arg("-a")
        .args(parts.iter().filter(|from| from.exists()))
        .arg(format!("{}/", toolchain.display()))
        .run()?;
    let mut linked = Vec::new();
    for entry in fs::read_dir(toolchain.join("bin"))? {
        let program = entry?.file_name();
        let target = Path::new("../../rustup/toolchains").join(name).join("bin");
        std::os::unix::fs::symlink(target.join(&program), cargo_bin.join(&program))?;
        linked.push(program.to_string_lossy().into_owned());
    }
    linked.sort();
    eprintln!("  linked into /usr/local/cargo/bin: {}", linked.join(" "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pin() {
        let pin = read_pin("# x\nARG RUST_IMAGE=rust:1.95.0-slim-bookworm\nFROM ${RUST_IMAGE}\n")
            .unwrap();
        assert_eq!(
            pin,
            Pin {
                reference: "rust:1.95.0-slim-bookworm".into(),
                rust: "1.95.0".into(),
                debian: "bookworm".into(),
            }
        );
    }

    #[test]
    fn refuses_unpinned_or_unknown_images() {
        for bad in [
            "FROM rust\n",
            "ARG RUST_IMAGE=rust:latest\n",
            "ARG RUST_IMAGE=rust:1.95-slim-bookworm\n",
            "ARG RUST_IMAGE=rust:1.95.0-slim-hamm0\n",
            "ARG RUST_IMAGE=debian:bookworm\n",
        ] {
            assert!(read_pin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shows_phases_only() {
        assert!(is_phase("I: Installing core packages..."));
        assert!(is_phase("I: Base system installed successfully."));
        assert!(is_phase("W: Failure trying to run: chroot"));
        assert!(is_phase("I: Unpacking the base system..."));
        assert!(!is_phase("I: Unpacking libacl1:amd64..."));
        assert!(!is_phase("I: Configuring ca-certificates..."));
        assert!(!is_phase("I: Retrieving adduser 3.134"));
        assert!(!is_phase(
            "I: Checking component main on http://deb.debian.org/debian..."
        ));
    }

    #[test]
    fn the_repository_pins_a_buildable_image() {
        let text = fs::read_to_string(project_root().join("Dockerfile")).unwrap();
        read_pin(&text).unwrap();
    }
}
