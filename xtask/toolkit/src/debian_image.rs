//! Base images made without a registry: a minimal Debian of Debian's own
//! packages (`debootstrap --variant=minbase`), completed, carrying this
//! host's CA bundle, then `docker import`ed under the name a Dockerfile
//! expects, so that its build finds it locally and pulls nothing.

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
use crate::{docker, progress};

/// The CA bundle of a Debian-like host (and of the image).
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Whether the engine has `reference` (said, with its ID and `hint`, when it does).
pub fn exists(reference: &str, hint: &str) -> Result<bool> {
    let id = crate::engine::image_id(reference)?;
    if let Some(id) = &id {
        let id = &id[..id.len().min(19)];
        eprintln!("{reference} already exists ({id}); nothing to do{hint}");
    }
    Ok(id.is_some())
}

/// A Debian image made from Debian's packages, for an engine that cannot pull.
pub struct DebianImage<'a> {
    pub reference: &'a str,
    pub release: &'a str,
    /// debootstrap's `--include=`.
    pub packages: &'a str,
    /// Adds to the root filesystem what Debian's packages do not.
    pub complete: &'a dyn Fn(&Path) -> Result<()>,
    /// The image's configuration, as `docker import --change` lines.
    pub changes: Vec<String>,
    /// A shell command run in the new image before it gets its name.
    pub check: &'a str,
}

/// debootstrap, trim, complete, the host's CA bundle, `docker import`: the
/// image tagged `image.reference` once its check command runs in it.
pub fn make(image: &DebianImage, mirror: &str) -> Result<()> {
    let started = Instant::now();
    // Root owns /proc/self when we are root.
    if !fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        bail!(
            "making {} runs debootstrap, which needs root: run the same command as root, keeping your PATH: `sudo env \"PATH=$PATH\" {}`",
            image.reference,
            std::env::args().collect::<Vec<_>>().join(" ")
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
        // An image without the ca-certificates package has no folder for it.
        fs::create_dir_all(to.parent().context("the bundle has a folder")?)?;
        Cmd::new("cp").arg(&*from).arg(&to).run()?;
    } else {
        eprintln!("  no {}: keeping Debian's own bundle", host_ca.display());
    }

    step(&format!("docker import as {reference}"));
    if !crate::cleanup::mounts_under(&rootfs).is_empty() {
        bail!("something is still mounted under {}", rootfs.display());
    }
    let mut changes = image.changes.clone();
    changes.push(format!(
        "LABEL org.opencontainers.image.description=\"{reference} look-alike made locally from Debian packages\""
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
    let id = crate::engine::image_id(reference)?.unwrap_or_default();
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
pub fn empty(rootfs: &Path, dirs: &[&str]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
