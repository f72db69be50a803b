//! A student's image is arbitrary code: every container a grading starts
//! runs confined, so that a class of images can be graded unattended.
//!
//! - **Limits**: [`MEMORY`] of memory and no swap, [`PIDS`] processes,
//!   [`CPUS`] CPU, and a log of at most [`LOG_SIZE`] (json-file, one file:
//!   an image that prints without end fills neither the disk nor `docker logs`).
//! - **No way out**: the containers sit on a network of the grading's own
//!   whose bridge has IP masquerading off: no NAT rule is made for it, so a
//!   packet to any address beyond the machine leaves with a private source
//!   address that nothing routes back. Containers on it cannot talk to each
//!   other either (inter-container traffic off). The grader reaches the app
//!   through a port published on 127.0.0.1 only. (An `--internal` network
//!   would also drop the route, but Docker publishes no ports for one, and
//!   Docker Desktop cannot reach a container's own address from the host.)
//! - **A time bound**: the whole grading ends within [`super::evidence::BUDGET`]
//!   whatever the image does; every wait in `evidence.rs` is cut to it.

use anyhow::Result;

use toolkit::docker::{self, Network, Run};

pub const MEMORY: &str = "512m";
pub const PIDS: &str = "256";
pub const CPUS: &str = "1";
pub const LOG_SIZE: &str = "1m";

/// The bridge options of the grading network: no NAT to the outside, no
/// traffic between its containers.
pub const NETWORK_OPTIONS: &[&str] = &[
    "com.docker.network.bridge.enable_ip_masquerade=false",
    "com.docker.network.bridge.enable_icc=false",
];

/// The network of one grading; removed (after its containers) when dropped.
#[derive(Debug)]
pub struct Sandbox {
    network: Network,
}

impl Sandbox {
    pub fn create() -> Result<Self> {
        let name = toolkit::unique_name("image-lab-grading");
        Ok(Sandbox {
            network: docker::create_network(&name, NETWORK_OPTIONS)?,
        })
    }

    /// `run`, confined to this sandbox.
    pub fn confine(&self, mut run: Run) -> Run {
        run.confinement = options(&self.network.name);
        run
    }
}

/// The `docker run` options that confine a container to `network`.
pub fn options(network: &str) -> Vec<String> {
    format!(
        "--network {network} --memory {MEMORY} --memory-swap {MEMORY} --pids-limit {PIDS} --cpus {CPUS} \
         --log-driver json-file --log-opt max-size={LOG_SIZE} --log-opt max-file=1"
    )
    .split(' ')
    .map(str::to_owned)
    .collect()
}

/// The options as shown once in a grade: `--network NETWORK --memory 512m ...`.
pub fn shown() -> String {
    options("NETWORK").join(" ")
}
