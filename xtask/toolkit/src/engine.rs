//! The Docker engine through its API (bollard, the maintained Rust client),
//! reached where the `docker` CLI would reach it: `DOCKER_HOST`, else the
//! local socket (Docker Desktop's too). The API version is negotiated with
//! the engine, never pinned, so an old engine (20.10 speaks 1.41) and a new
//! one both answer.
//!
//! The callers are synchronous (a grade runs `--jobs` threads), so every
//! call blocks on one shared runtime. Each call has a `docker` command that
//! does the same, printed with `--verbose` and shown to students: both come
//! from the same description (see `container.rs`).

use std::future::Future;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::errors::Error as ApiError;
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use bollard::query_parameters::{CreateImageOptions, RemoveContainerOptions, RemoveImageOptions};
use futures_util::TryStreamExt;

use crate::cleanup::{Guard, Resource};
use crate::inspect;

/// A connected engine, at the API version it and bollard share.
pub struct Engine {
    docker: Docker,
    runtime: tokio::runtime::Runtime,
    /// `docker version`'s server version, such as `20.10.24`.
    pub version: String,
}

/// The engine, connected on first use; the error says how to start one.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| connect().map_err(|error| format!("{error:#}")))
        .as_ref()
        .map_err(|error| anyhow!("{error}"))
}

fn connect() -> Result<Engine> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the engine client's runtime")?;
    let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "the local socket".into());
    let unreachable = |error: ApiError| {
        anyhow!(
            "cannot reach the Docker engine at {host} ({error}). Start it: `sudo systemctl start docker` \
             on Linux, or open Docker Desktop; or point DOCKER_HOST at a running engine"
        )
    };
    let (docker, version) = runtime.block_on(async {
        let docker = Docker::connect_with_defaults().map_err(unreachable)?;
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        let version = docker.version().await.map_err(unreachable)?;
        Ok::<_, anyhow::Error>((docker, version.version.unwrap_or_default()))
    })?;
    Ok(Engine {
        docker,
        runtime,
        version,
    })
}

/// Checks that an engine answers: its version.
pub fn ensure_engine() -> Result<String> {
    Ok(engine()?.version.clone())
}

/// Prints `$ COMMAND` with `--verbose`: the docker command that does what
/// the API call about to be made does.
pub fn announce(command: &str) {
    if crate::command::verbose() {
        eprintln!("$ {command}");
    }
}

/// Whether the engine answered "no such object".
pub fn is_not_found(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The engine's own message, without bollard's wrapping.
pub fn message(error: &ApiError) -> String {
    match error {
        ApiError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

impl Engine {
    /// Runs one API call to its end.
    pub fn call<T>(&self, call: impl AsyncFnOnce(&Docker) -> T) -> T {
        self.block_on(call(&self.docker))
    }

    /// Runs `future` on the engine's runtime, from a thread outside it.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The API version both sides speak, such as `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }
}

/// `docker image inspect REFERENCE`, or `None` when the engine has no such image.
fn find_image(reference: &str) -> Result<Option<inspect::Image>> {
    announce(&format!("docker image inspect {reference}"));
    match engine()?.call(async |docker| docker.inspect_image(reference).await) {
        Ok(image) => Ok(Some(image.into())),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => bail!(
            "`docker image inspect {reference}` failed: {}",
            message(&error)
        ),
    }
}

/// `docker image inspect REFERENCE`.
pub fn inspect_image(reference: &str) -> Result<inspect::Image> {
    find_image(reference)?.with_context(|| {
        format!("no image {reference:?} on this engine (build it, or check the name with `docker images`)")
    })
}

/// The ID of image `reference`, or `None` when the engine has no such image.
pub fn image_id(reference: &str) -> Result<Option<String>> {
    Ok(find_image(reference)?.map(|image| image.id))
}

/// `docker container inspect NAME`.
pub fn inspect_container(name: &str) -> Result<inspect::Container> {
    announce(&format!("docker container inspect {name}"));
    Ok(engine()?
        .call(async |docker| docker.inspect_container(name, None).await)
        .map_err(|error| anyhow!("`docker inspect {name}` failed: {}", message(&error)))?
        .into())
}

/// `docker pull REFERENCE`.
pub fn pull(reference: &str) -> Result<()> {
    announce(&format!("docker pull {reference}"));
    let options = CreateImageOptions {
        from_image: Some(reference.to_owned()),
        ..Default::default()
    };
    engine()?
        .call(async |docker| {
            let pulled = docker.create_image(Some(options), None, None);
            pulled.try_collect::<Vec<_>>().await
        })
        .map(drop)
        .map_err(|error| anyhow!("`docker pull {reference}` failed: {}", message(&error)))
}

/// One layer of `docker history --no-trunc`.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The instruction that made it.
    pub created_by: String,
    /// Bytes.
    pub size: i64,
}

/// `docker history --no-trunc REFERENCE`: the newest layer first.
pub fn history(reference: &str) -> Result<Vec<Layer>> {
    announce(&format!("docker history --no-trunc {reference}"));
    let layers = engine()?
        .call(async |docker| docker.image_history(reference).await)
        .map_err(|error| anyhow!("`docker history {reference}` failed: {}", message(&error)))?;
    Ok(layers
        .into_iter()
        .map(|layer| Layer {
            created_by: layer.created_by,
            size: layer.size,
        })
        .collect())
}

/// The container this process runs in, when it runs in one of this
/// engine's (the grader's image, given the engine's socket): its ID.
///
/// A container's /etc/hostname is mounted from the engine's folder for it,
/// `.../containers/<64 hex digits>/hostname`, as /proc/self/mountinfo says
/// (the mount's root, then its mount point); the engine must then know the
/// ID. (On the host, other containers' folders show up too, but mounted
/// elsewhere than /etc/hostname.)
pub fn own_container() -> Option<&'static str> {
    static OWN: OnceLock<Option<String>> = OnceLock::new();
    OWN.get_or_init(|| {
        let id = container_id(&std::fs::read_to_string("/proc/self/mountinfo").ok()?)?;
        inspect_container(&id).ok().map(|_| id)
    })
    .as_deref()
}

/// The container ID a mount table names for /etc/hostname, if any.
fn container_id(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let mut fields = line.split(' ').skip(3);
        let (root, mount_point) = (fields.next()?, fields.next()?);
        let id = root.strip_suffix("/hostname")?.rsplit('/').next()?;
        (mount_point == "/etc/hostname"
            && root.contains("/containers/")
            && id.len() == 64
            && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_owned())
    })
}

/// A network this run created, removed when dropped (its containers must be
/// gone by then: drop them first). When this process runs in a container,
/// that container is on the network too, to reach the others.
#[derive(Debug)]
pub struct Network {
    pub name: String,
    _guard: Guard,
}

/// `docker network create --opt OPTION... NAME` (a bridge), then `docker
/// network connect NAME SELF` when this process runs in a container.
pub fn create_network(name: &str, options: &[(&str, &str)]) -> Result<Network> {
    let opts: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("--opt {k}={v}"))
        .collect();
    announce(&format!("docker network create {} {name}", opts.join(" ")));
    let guard = Guard::register(Resource::Network(name.to_owned()));
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        options: Some(
            options
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ),
        ..Default::default()
    };
    engine()?
        .call(async |docker| docker.create_network(request).await)
        .map_err(|error| anyhow!("cannot create network {name}: {}", message(&error)))?;
    if let Some(own) = own_container() {
        announce(&format!("docker network connect {name} {own}"));
        let request = NetworkConnectRequest {
            container: own.to_owned(),
            ..Default::default()
        };
        engine()?
            .call(async |docker| docker.connect_network(name, request).await)
            .map_err(|error| anyhow!("cannot join network {name}: {}", message(&error)))?;
    }
    Ok(Network {
        name: name.to_owned(),
        _guard: guard,
    })
}

/// Removes an object this run created; best effort: what is gone is no error.
pub(crate) fn remove(resource: &Resource) {
    let Ok(engine) = engine() else { return };
    match resource {
        Resource::Container(name) => {
            announce(&format!("docker rm --force --volumes {name}"));
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            let _ = engine.call(async |docker| docker.remove_container(name, Some(options)).await);
        }
        Resource::Network(name) => {
            if let Some(own) = own_container() {
                announce(&format!("docker network disconnect --force {name} {own}"));
                let request = NetworkDisconnectRequest {
                    container: own.to_owned(),
                    force: Some(true),
                };
                let _ = engine.call(async |docker| docker.disconnect_network(name, request).await);
            }
            announce(&format!("docker network rm {name}"));
            let _ = engine.call(async |docker| docker.remove_network(name).await);
        }
        Resource::Image(reference) => {
            announce(&format!("docker image rm --force {reference}"));
            let options = RemoveImageOptions {
                force: true,
                ..Default::default()
            };
            let _ = engine
                .call(async |docker| docker.remove_image(reference, Some(options), None).await);
        }
        Resource::Undo(_)
        | Resource::ProcessGroup(_)
        | Resource::FileContents { .. }
        | Resource::TempDir(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_container_is_the_one_whose_hostname_is_mounted() {
        let id = "152b313044932e6a5c09d171aeaab2897dda37ccbf808ae7ef47f8e284c73170";
        let inside = format!(
            "89 72 254:0 /var/lib/docker/containers/{id}/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda rw\n\
             90 72 254:0 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/vda rw\n"
        );
        assert_eq!(container_id(&inside).as_deref(), Some(id));
        // The host sees other containers' folders mounted, but not as its /etc/hostname.
        let host =
            format!("700 29 0:55 / /var/lib/docker/containers/{id}/mounts/shm rw - tmpfs shm rw\n");
        assert_eq!(container_id(&host), None);
    }
}
