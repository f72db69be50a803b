//! Everything the tooling creates on the engine (and every process it starts,
//! and every file it changes for a while) is registered here first and
//! undone when its guard drops: on success, on error, and on Ctrl-C or
//! SIGTERM (Drop does not run then, so the signal handler removes whatever is
//! still registered before exiting).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::command::Cmd;

/// Something created that must not outlive the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A container, by name: removed through the engine's API, with its volumes.
    Container(String),
    /// A network, by name (its containers must be gone first).
    Network(String),
    /// An image (or a tag of one), by reference.
    Image(String),
    /// Something else on the engine (a compose project): the command that
    /// removes it, such as `docker compose down`.
    Undo(Cmd),
    /// A process group this run started (`CommandExt::process_group(0)`),
    /// by its leader's PID: every process in it gets SIGKILL.
    ProcessGroup(i32),
    /// A file changed for a while: its contents and modification time are
    /// put back.
    FileContents {
        path: PathBuf,
        contents: Vec<u8>,
        modified: SystemTime,
    },
    /// A scratch directory (a root filesystem being built, say): whatever is
    /// still mounted under it is unmounted, then it is deleted.
    TempDir(PathBuf),
}

static LIVE: Mutex<Vec<Resource>> = Mutex::new(Vec::new());

/// Set by the Ctrl-C handler: from then on nothing new is registered.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

impl Resource {
    /// Best effort: what is already gone is no error.
    fn remove(&self) {
        match self {
            Resource::Container(_) | Resource::Network(_) | Resource::Image(_) => {
                crate::engine::remove(self);
            }
            Resource::ProcessGroup(leader) => {
                let _ = killpg(Pid::from_raw(*leader), Signal::SIGKILL);
            }
            Resource::Undo(command) => {
                command.announce();
                let mut command = command.command();
                let _ = command.stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
            Resource::FileContents {
                path,
                contents,
                modified,
            } => {
                let file = || std::fs::File::options().write(true).open(path);
                let restored =
                    std::fs::write(path, contents).and_then(|()| file()?.set_modified(*modified));
                if let Err(error) = restored {
                    eprintln!("warning: cannot restore {}: {error}", path.display());
                }
            }
            Resource::TempDir(path) => {
                if let Err(error) = remove_temp_dir(path) {
                    eprintln!("warning: cannot remove {}: {error:#}", path.display());
                }
            }
        }
    }
}

/// Removes its resource when dropped.
#[must_use = "the resource is removed when the guard drops"]
#[derive(Debug)]
pub struct Guard(Resource);

fn live() -> std::sync::MutexGuard<'static, Vec<Resource>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

impl Guard {
    /// Registers `resource` for removal; call before creating it, so that an
    /// interruption during creation still cleans up.
    ///
    /// After Ctrl-C this never returns: the thread is parked until the
    /// handler exits the process, so nothing new is created while (or after)
    /// the handler removes what exists.
    pub fn register(resource: Resource) -> Self {
        let mut live = live();
        if INTERRUPTED.load(Ordering::SeqCst) {
            drop(live);
            loop {
                std::thread::park();
            }
        }
        live.push(resource.clone());
        Guard(resource)
    }

    /// Keeps the resource after all: it is no longer removed.
    pub fn disarm(self) {
        self.forget();
        std::mem::forget(self);
    }

    fn forget(&self) {
        let mut live = live();
        if let Some(index) = live.iter().position(|r| *r == self.0) {
            live.remove(index);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.remove();
        self.forget();
    }
}

/// On Ctrl-C or SIGTERM: remove every registered resource, then exit 130.
pub fn remove_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        // Held until the exit: the other threads go on until they touch what
        // is being removed, and must not print what they make of that.
        let _stdout = std::io::stdout().lock();
        let _stderr = std::io::stderr().lock();
        eprintln!("interrupted: removing what this run created");
        let live = {
            let mut live = live();
            INTERRUPTED.store(true, Ordering::SeqCst);
            std::mem::take(&mut *live)
        };
        // Twice: a container start already under way during the first pass has
        // usually finished by the second (removing what is gone is harmless).
        for _ in 0..2 {
            live.iter().rev().for_each(Resource::remove);
        }
        std::process::exit(130);
    });
    if let Err(error) = installed {
        eprintln!(
            "warning: cannot catch Ctrl-C ({error}); an interrupted run may leave containers behind"
        );
    }
}

/// The mount points at or under `dir`, deepest first (from /proc/self/mounts,
/// which writes a space in a path as `\040`).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(|point| PathBuf::from(point.replace("\\040", " ").replace("\\011", "\t")))
        .filter(|point| point.starts_with(dir))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    mounts
}

/// Unmounts whatever is mounted under `dir` (an interrupted debootstrap
/// leaves /proc and /sys mounted in its target), then deletes `dir`. Refuses
/// to delete while a mount remains: that would reach into the host's /proc
/// or /dev.
fn remove_temp_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for point in mounts_under(dir) {
        let umount = Cmd::new("umount").arg("--lazy").arg(&point);
        umount.show();
        let _ = umount.command().status();
    }
    let left = mounts_under(dir);
    if !left.is_empty() {
        anyhow::bail!(
            "still mounted: {left:?}; unmount them, then delete {}",
            dir.display()
        );
    }
    Ok(std::fs::remove_dir_all(dir)?)
}
