//! Everything the tooling creates on the engine is registered here first and
//! removed when its guard drops: on success, on error, and on Ctrl-C or
//! SIGTERM (Drop does not run then, so the signal handler removes whatever is
//! still registered before exiting).

use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Something created on the engine that must not outlive the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// A container, by name.
    Container(String),
    /// An image, by reference.
    Image(String),
    /// A compose project: `docker compose -p NAME -f FILE down -v --rmi local`.
    ComposeProject { name: String, file: String },
}

static LIVE: Mutex<Vec<Resource>> = Mutex::new(Vec::new());

impl Resource {
    fn remove(&self) {
        let args: Vec<&str> = match self {
            Resource::Container(name) => vec!["rm", "--force", "--volumes", name],
            Resource::Image(reference) => vec!["image", "rm", "--force", reference],
            Resource::ComposeProject { name, file } => vec![
                "compose",
                "--project-name",
                name,
                "--file",
                file,
                "down",
                "--volumes",
                "--remove-orphans",
                "--timeout",
                "5",
            ],
        };
        crate::docker::announce(&args);
        // Best effort: the resource may already be gone.
        let _ = Command::new(crate::docker::cli())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes its resource when dropped.
#[must_use = "the resource is removed when the guard drops"]
#[derive(Debug)]
pub struct Guard(Resource);

impl Guard {
    /// Registers `resource` for removal; call before creating it, so that an
    /// interruption during creation still cleans up.
    pub fn register(resource: Resource) -> Self {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(resource.clone());
        Guard(resource)
    }

    pub fn resource(&self) -> &Resource {
        &self.0
    }

    /// Keeps the resource after all: it is no longer removed.
    pub fn disarm(self) {
        forget(&self.0);
        std::mem::forget(self);
    }
}

fn forget(resource: &Resource) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(index) = live.iter().position(|r| r == resource) {
        live.remove(index);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.remove();
        forget(&self.0);
    }
}

/// On Ctrl-C or SIGTERM: remove every registered resource, then exit 130.
pub fn remove_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        eprintln!("interrupted: removing what this run created");
        let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|e| e.into_inner()));
        for resource in live.iter().rev() {
            resource.remove();
        }
        std::process::exit(130);
    });
    if let Err(error) = installed {
        eprintln!(
            "warning: cannot catch Ctrl-C ({error}); an interrupted run may leave containers behind"
        );
    }
}
