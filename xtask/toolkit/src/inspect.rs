//! `docker inspect` as types: the fields the tooling reads, once, here.
//! A missing field reads as its default; so does the `null` the engine
//! writes for an empty list or map (`or_default`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn or_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `docker image inspect IMAGE`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Image {
    pub id: String,
    /// Bytes (Docker's MB are 10^6 of them).
    pub size: u64,
    #[serde(deserialize_with = "or_default")]
    pub repo_tags: Vec<String>,
    pub config: ImageConfig,
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(deserialize_with = "or_default")]
    pub user: String,
    #[serde(deserialize_with = "or_default")]
    pub env: Vec<String>,
    #[serde(deserialize_with = "or_default")]
    pub labels: BTreeMap<String, String>,
    /// `"8000/tcp": {}`, sorted.
    #[serde(deserialize_with = "or_default")]
    pub exposed_ports: BTreeMap<String, Value>,
    pub healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(deserialize_with = "or_default")]
    pub layers: Vec<String>,
}

/// The image's HEALTHCHECK (durations in nanoseconds; 0 for Docker's default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Healthcheck {
    #[serde(deserialize_with = "or_default")]
    pub test: Vec<String>,
    pub interval: u64,
    pub timeout: u64,
    pub start_period: u64,
    pub retries: u64,
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Container {
    pub state: State,
    pub host_config: Value,
    pub network_settings: Value,
    pub config: ImageConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct State {
    pub running: bool,
    /// The host PID of its first process; 0 once it has stopped.
    pub pid: i64,
    pub exit_code: i64,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// RFC 3339, with nanoseconds.
    pub started_at: String,
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// The last probes (the engine keeps five).
    #[serde(deserialize_with = "or_default")]
    pub log: Vec<Probe>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Probe {
    pub exit_code: i64,
    pub output: String,
    /// RFC 3339, with nanoseconds.
    pub end: String,
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
    fn nulls_read_as_empty_and_none_means_no_healthcheck() {
        let image: Image = serde_json::from_str(
            r#"{"Id":"sha256:1","Size":2400000,"RepoTags":null,"RootFS":{"Layers":["a"]},
                "Config":{"User":"","Env":null,"Labels":null,"ExposedPorts":null,
                          "Healthcheck":{"Test":["NONE"]}}}"#,
        )
        .unwrap();
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
