//! What the tooling reads of the engine's inspections, once, here: the
//! API's typed models (bollard's, every field optional) made plain, a
//! missing field read as its default.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::{
    ContainerConfig, ContainerInspectResponse, ContainerState, HealthConfig, HealthcheckResult,
    HostConfig, ImageConfig as ApiImageConfig, ImageInspect, NetworkSettings,
};

/// `docker image inspect IMAGE`.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub id: String,
    /// Bytes (Docker's MB are 10^6 of them).
    pub size: u64,
    pub repo_tags: Vec<String>,
    pub config: ImageConfig,
    pub root_fs: RootFs,
}

#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub user: String,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// `8000/tcp`, sorted.
    pub exposed_ports: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, Default)]
pub struct RootFs {
    pub layers: Vec<String>,
}

/// The image's HEALTHCHECK (durations in nanoseconds; 0 for Docker's default).
#[derive(Debug, Clone, Default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u64,
}

impl From<ImageInspect> for Image {
    fn from(image: ImageInspect) -> Self {
        Image {
            id: image.id.unwrap_or_default(),
            size: image
                .size
                .and_then(|size| u64::try_from(size).ok())
                .unwrap_or_default(),
            repo_tags: image.repo_tags.unwrap_or_default(),
            config: image.config.map(ImageConfig::from).unwrap_or_default(),
            root_fs: RootFs {
                layers: image.root_fs.and_then(|fs| fs.layers).unwrap_or_default(),
            },
        }
    }
}

/// The fields an image's and a container's configuration share.
fn config(
    user: Option<String>,
    env: Option<Vec<String>>,
    labels: Option<std::collections::HashMap<String, String>>,
    exposed_ports: Option<Vec<String>>,
    healthcheck: Option<HealthConfig>,
) -> ImageConfig {
    let mut exposed_ports = exposed_ports.unwrap_or_default();
    exposed_ports.sort();
    ImageConfig {
        user: user.unwrap_or_default(),
        env: env.unwrap_or_default(),
        labels: labels.unwrap_or_default().into_iter().collect(),
        exposed_ports,
        healthcheck: healthcheck.map(Healthcheck::from),
    }
}

impl From<ApiImageConfig> for ImageConfig {
    fn from(c: ApiImageConfig) -> Self {
        config(c.user, c.env, c.labels, c.exposed_ports, c.healthcheck)
    }
}

impl From<ContainerConfig> for ImageConfig {
    fn from(c: ContainerConfig) -> Self {
        config(c.user, c.env, c.labels, c.exposed_ports, c.healthcheck)
    }
}

impl From<HealthConfig> for Healthcheck {
    fn from(check: HealthConfig) -> Self {
        let nanos = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or_default();
        Healthcheck {
            test: check.test.unwrap_or_default(),
            interval: nanos(check.interval),
            timeout: nanos(check.timeout),
            start_period: nanos(check.start_period),
            retries: nanos(check.retries),
        }
    }
}

impl Image {
    /// The HEALTHCHECK, unless there is none or it is `HEALTHCHECK NONE`.
    pub fn healthcheck(&self) -> Option<&Healthcheck> {
        self.config
            .healthcheck
            .as_ref()
            .filter(|check| check.test.first().is_some_and(|kind| kind != "NONE"))
    }

    /// `org.lab.login` and the like; `None` when the label is missing.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.config.labels.get(name).map(String::as_str)
    }
}

impl Healthcheck {
    /// The probe's command, without its kind (`CMD`, `CMD-SHELL`).
    pub fn command(&self) -> String {
        self.test.get(1..).unwrap_or_default().join(" ")
    }

    /// Interval, timeout, start period and retries, with Docker's defaults
    /// for what the image leaves unset (0): 30 s, 30 s, none, 3.
    fn settings(&self) -> (Duration, Duration, Duration, u32) {
        let or = |nanos, default| match nanos {
            0 => Duration::from_secs(default),
            nanos => Duration::from_nanos(nanos),
        };
        let retries = u32::try_from(self.retries).ok().filter(|&r| r > 0);
        (
            or(self.interval, 30),
            or(self.timeout, 30),
            or(self.start_period, 0),
            retries.unwrap_or(3),
        )
    }

    /// The longest the engine takes to call it healthy or unhealthy: its
    /// start period, then `retries + 1` probes.
    pub fn schedule(&self) -> Duration {
        let (interval, timeout, start_period, retries) = self.settings();
        start_period + (interval + timeout) * (retries + 1)
    }

    /// `CMD /service healthcheck (interval 2s, timeout 30s, start period 0s, retries 3)`.
    pub fn describe(&self) -> String {
        let (interval, timeout, start_period, retries) = self.settings();
        format!(
            "{} (interval {}s, timeout {}s, start period {}s, retries {retries})",
            self.test.join(" "),
            interval.as_secs_f64(),
            timeout.as_secs_f64(),
            start_period.as_secs_f64(),
        )
    }
}

/// `docker container inspect CONTAINER`: the parts the tooling reads.
#[derive(Debug, Clone, Default)]
pub struct Container {
    pub state: State,
    pub host_config: HostConfig,
    pub network_settings: NetworkSettings,
    pub config: ImageConfig,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub running: bool,
    /// The host PID of its first process; 0 once it has stopped.
    pub pid: i64,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// RFC 3339, with nanoseconds.
    pub started_at: String,
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// The last probes (the engine keeps five).
    pub log: Vec<Probe>,
}

#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub exit_code: i64,
    pub output: String,
    /// RFC 3339, with nanoseconds.
    pub end: String,
}

impl From<ContainerInspectResponse> for Container {
    fn from(container: ContainerInspectResponse) -> Self {
        Container {
            state: container.state.map(State::from).unwrap_or_default(),
            host_config: container.host_config.unwrap_or_default(),
            network_settings: container.network_settings.unwrap_or_default(),
            config: container.config.map(ImageConfig::from).unwrap_or_default(),
        }
    }
}

impl From<ContainerState> for State {
    fn from(state: ContainerState) -> Self {
        let probe = |probe: HealthcheckResult| Probe {
            exit_code: probe.exit_code.unwrap_or(-1),
            output: probe.output.unwrap_or_default(),
            end: probe.end.map(|end| end.to_string()).unwrap_or_default(),
        };
        State {
            running: state.running.unwrap_or_default(),
            pid: state.pid.unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or_default(),
            oom_killed: state.oom_killed.unwrap_or_default(),
            started_at: state.started_at.unwrap_or_default(),
            health: state.health.map(|health| Health {
                status: health.status.map(|s| s.to_string()).unwrap_or_default(),
                log: health
                    .log
                    .unwrap_or_default()
                    .into_iter()
                    .map(probe)
                    .collect(),
            }),
        }
    }
}

impl State {
    pub fn health_status(&self) -> Option<&str> {
        self.health.as_ref().map(|health| health.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_read_as_empty_and_none_means_no_healthcheck() {
        let image = Image::from(ImageInspect {
            id: Some("sha256:1".into()),
            root_fs: Some(bollard::models::ImageInspectRootFs {
                typ: "layers".into(),
                layers: Some(vec!["a".into()]),
            }),
            config: Some(ApiImageConfig {
                healthcheck: Some(HealthConfig {
                    test: Some(vec!["NONE".into()]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert!(image.repo_tags.is_empty() && image.config.labels.is_empty());
        assert!(image.healthcheck().is_none());
        assert_eq!(image.root_fs.layers.len(), 1);
    }

    #[test]
    fn the_schedule_falls_back_to_dockers_defaults() {
        let check = Healthcheck {
            test: vec!["CMD".into(), "/service".into(), "healthcheck".into()],
            interval: 2_000_000_000,
            ..Healthcheck::default()
        };
        // 4 probes of 2 s interval and 30 s timeout.
        assert_eq!(check.schedule(), Duration::from_secs(128));
        assert_eq!(check.command(), "/service healthcheck");
        assert_eq!(
            check.describe(),
            "CMD /service healthcheck (interval 2s, timeout 30s, start period 0s, retries 3)"
        );
    }
}
