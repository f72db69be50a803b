//! A student's image is arbitrary code: every container a grading starts
//! runs confined, so that a class of images can be graded unattended.
//!
//! - **Limits**: [`MEMORY_MIB`] of memory and no swap, [`PIDS`] processes,
//!   [`CPUS`] CPU, and a log of at most [`LOG_SIZE`] (json-file, one file:
//!   an image that prints without end fills neither the disk nor `docker logs`).
//! - **No way out**: the containers sit on a network of the grading's own
//!   whose bridge has IP masquerading off: no NAT rule is made for it, so a
//!   packet to any address beyond the machine leaves with a private source
//!   address that nothing routes back. On it are only this grading's
//!   containers, all of one image, and, when the grader runs in its own
//!   image, the grader, which reaches the app there (so inter-container
//!   traffic stays on: every other grading has a network of its own). On
//!   the host, the grader reaches the app through a port published on
//!   127.0.0.1 only. (An `--internal` network would also drop the route, but
//!   Docker publishes no ports for one, and Docker Desktop cannot reach a
//!   container's own address from the host.)
//! - **A time bound**: the whole grading ends within [`super::evidence::BUDGET`]
//!   whatever the image does; every wait in `evidence.rs` is cut to it.

use anyhow::Result;
use toolkit::container::{Confinement, Run};
use toolkit::engine::{self, Network};

pub const MEMORY_MIB: i64 = 512;
pub const PIDS: i64 = 256;
pub const CPUS: i64 = 1;
pub const LOG_SIZE: &str = "1m";

/// The bridge options of the grading network: no NAT to the outside.
pub const NETWORK_OPTIONS: &[(&str, &str)] =
    &[("com.docker.network.bridge.enable_ip_masquerade", "false")];

/// The network of one grading; removed (after its containers) when dropped.
#[derive(Debug)]
pub struct Sandbox {
    network: Network,
}

impl Sandbox {
    pub fn create() -> Result<Self> {
        let name = toolkit::unique_name("image-lab-grading");
        Ok(Sandbox {
            network: engine::create_network(&name, NETWORK_OPTIONS)?,
        })
    }

    /// `run`, confined to this sandbox.
    pub fn confine(&self, mut run: Run) -> Run {
        run.confinement = Some(confinement(&self.network.name));
        run
    }
}

/// What confines a container to `network`.
pub fn confinement(network: &str) -> Confinement {
    Confinement {
        network: network.to_owned(),
        memory_mib: MEMORY_MIB,
        pids: PIDS,
        cpus: CPUS,
        log_max_size: LOG_SIZE.to_owned(),
    }
}

/// The options as shown once in a grade: `--network NETWORK --memory 512m ...`.
pub fn shown() -> String {
    confinement("NETWORK").flags()
}
