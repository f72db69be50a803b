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
//!    TLS-intercepting proxy stands between the machine and crates.io;
//! 4. cargo-auditable, the version the Dockerfile installs, compiled here
//!    from crates.io into the image's cargo home: the Dockerfile's `cargo
//!    install` then finds it installed instead of compiling it (a minute).
//!
//! The tag is the Dockerfile's own default, so `docker build .` and
//! `docker compose up --build` then find the base locally and pull nothing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toolkit::command::Cmd;
use toolkit::debian_image::{self, DebianImage};

use crate::project_root;

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
    if !is_exact_version(&rust) || !DEBIAN_RELEASES.contains(&debian.as_str()) {
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

/// `x.y.z`, three numbers: a version that names one release.
fn is_exact_version(version: &str) -> bool {
    version.split('.').count() == 3
        && version
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The cargo-auditable version the Dockerfile's `cargo install --locked
/// cargo-auditable@<version>` line installs.
pub fn read_auditable(dockerfile: &str) -> Result<String> {
    let version = dockerfile
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("cargo install --locked cargo-auditable@")
        })
        .context("the Dockerfile has no `cargo install --locked cargo-auditable@<version>` line")?
        .trim();
    if !is_exact_version(version) {
        bail!("cargo-auditable@{version}: expected an exact version, x.y.z");
    }
    Ok(version.to_owned())
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
    let auditable = read_auditable(&text)?;
    toolkit::engine::ensure_engine()?;
    if !args.force && debian_image::exists(&pin.reference, " (--force builds it again)")? {
        return Ok(());
    }
    // Every check that can fail fast, before a minute of downloading.
    let (sysroot, triple) = local_toolchain(&pin)?;
    let toolchain = format!("{}-{triple}", pin.rust);
    debian_image::make(
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
                install_toolchain(&sysroot, rootfs, &toolchain)?;
                install_auditable(&auditable, rootfs, &triple)
            },
            changes: vec![
                "ENV RUSTUP_HOME=/usr/local/rustup".to_owned(),
                "ENV CARGO_HOME=/usr/local/cargo".into(),
                "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                    .into(),
                format!("ENV RUST_VERSION={}", pin.rust),
                "CMD [\"bash\"]".into(),
            ],
            check: "cargo --version && rustc --version && cargo auditable --version && cc --version | head -n 1",
        },
        &args.mirror,
    )?;
    eprintln!("`docker build .` and `docker compose up --build` now use it");
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

/// Compiles cargo-auditable `version` from crates.io into the image's cargo
/// home, with the records `cargo install` keeps there. Linked statically:
/// this host's C library may be newer than the image's Debian.
fn install_auditable(version: &str, rootfs: &Path, triple: &str) -> Result<()> {
    let root = rootfs.join("usr/local/cargo");
    Cmd::new("cargo")
        .args(["install", "--locked", &format!("cargo-auditable@{version}")])
        .arg("--root")
        .arg(&root)
        .args(["--target", triple])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .run()?;
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
    fn the_repository_pins_a_buildable_image() {
        let text = fs::read_to_string(project_root().join("Dockerfile")).unwrap();
        read_pin(&text).unwrap();
        read_auditable(&text).unwrap();
    }

    #[test]
    fn reads_the_cargo_auditable_version() {
        let line = "RUN --mount=type=cache,target=/x \\\n    cargo install --locked cargo-auditable@0.7.7\n";
        assert_eq!(read_auditable(line).unwrap(), "0.7.7");
        for bad in [
            "cargo install cargo-auditable\n",
            "cargo install --locked cargo-auditable@0.7\n",
        ] {
            assert!(read_auditable(bad).is_err(), "{bad}");
        }
    }
}
