//! Typed settings, read once at start from the environment.
//!
//! Everything the service does is decided by these variables, so the same
//! image behaves differently on the next start without a rebuild. Bad values
//! are reported as one line naming the variable and the value it got.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use tracing_subscriber::filter::Targets;

/// The variables as envy reads them. Numbers are parsed by envy, whose error
/// already names the variable and the value ("... while parsing value '70000'
/// provided by PORT"); strings that need checking are parsed in
/// [`Settings::from_raw`] so their errors are just as specific.
#[derive(Deserialize)]
struct RawSettings {
    #[serde(default = "default_port")]
    port: u16,
    metrics_port: Option<String>,
    host: Option<String>,
    rocket_size: Option<String>,
    lab_login: Option<String>,
    lab_token: Option<String>,
    secret: Option<String>,
    #[serde(default = "default_shutdown_timeout")]
    shutdown_timeout: u64,
    workers: Option<usize>,
    log_format: Option<String>,
    rust_log: Option<String>,
}

fn default_port() -> u16 {
    8000
}

/// The metrics port when `METRICS_PORT` is unset: the service's 8000 plus 1000.
const DEFAULT_METRICS_PORT: u16 = 9000;

fn default_shutdown_timeout() -> u64 {
    5
}

/// The service's whole configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST`: address to bind (default `0.0.0.0`, every interface).
    pub host: IpAddr,
    /// `PORT`: TCP port (default 8000; 0 picks a free one, used by tests).
    pub port: u16,
    /// `METRICS_PORT`: TCP port of `/metrics` (default 9000; 0 picks a free
    /// one; `off`: no metrics at all).
    pub metrics_port: Option<u16>,
    /// `ROCKET_SIZE`: shown by `GET /` (default `Small`).
    pub rocket_size: String,
    /// `LAB_LOGIN`: the student's login (default `unknown`).
    pub lab_login: String,
    /// `LAB_TOKEN`: the student's token (default `unknown`).
    pub lab_token: String,
    /// `SECRET`: the HMAC key of `/proof`; `None` makes `/proof` answer 400.
    pub secret: Option<Secret>,
    /// `SHUTDOWN_TIMEOUT`: seconds that requests in flight get to finish
    /// after SIGTERM (default 5, below Docker's 10 s kill timeout).
    pub shutdown_timeout: Duration,
    /// `WORKERS`: HTTP worker threads (default: the CPUs this process may
    /// use, which respects a container's CPU limit).
    pub workers: NonZeroUsize,
    /// `LOG_FORMAT`: `json` (default, for log collectors) or `pretty`.
    pub log_format: LogFormat,
    /// `RUST_LOG`: which log lines to keep, as `level` or
    /// `target=level,...` (default `info`).
    pub log_filter: Targets,
}

/// A value that must never be printed: its `Debug` says `<redacted>`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err(()),
        }
    }
}

/// A configuration error: one line, naming the variable and its value.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(variable: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError(format!("{variable}='{value}': expected {expected}"))
}

impl Settings {
    /// Reads the settings from this process's environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }))
    }

    /// Reads the settings from `NAME=value` pairs. An empty value counts as
    /// unset, so `LAB_LOGIN=` in a compose file means "use the default".
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars = vars.into_iter().filter(|(_, value)| !value.is_empty());
        let raw: RawSettings = envy::from_iter(vars).map_err(|e| ConfigError(e.to_string()))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawSettings) -> Result<Self, ConfigError> {
        let host = match raw.host {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(host) => host
                .parse()
                .map_err(|_| invalid("HOST", &host, "an IP address such as 0.0.0.0 or ::"))?,
        };
        let metrics_port = match raw.metrics_port.as_deref() {
            None => Some(DEFAULT_METRICS_PORT),
            Some("off") => None,
            Some(port) => Some(port.parse().map_err(|_| {
                invalid(
                    "METRICS_PORT",
                    port,
                    "a port number from 0 to 65535, or off",
                )
            })?),
        };
        let workers = match raw.workers {
            None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            Some(n) => NonZeroUsize::new(n)
                .ok_or_else(|| invalid("WORKERS", "0", "a whole number of at least 1"))?,
        };
        let log_format = match raw.log_format {
            None => LogFormat::Json,
            Some(format) => format
                .parse()
                .map_err(|()| invalid("LOG_FORMAT", &format, "json or pretty"))?,
        };
        let log_filter = match raw.rust_log {
            None => Targets::new().with_default(tracing::Level::INFO),
            Some(filter) => filter.parse().map_err(|_| {
                invalid(
                    "RUST_LOG",
                    &filter,
                    "a level or target=level list, such as info,actix_server=warn",
                )
            })?,
        };
        let unknown = || "unknown".to_owned();
        Ok(Self {
            host,
            port: raw.port,
            metrics_port,
            rocket_size: raw.rocket_size.unwrap_or_else(|| "Small".to_owned()),
            lab_login: raw.lab_login.unwrap_or_else(unknown),
            lab_token: raw.lab_token.unwrap_or_else(unknown),
            secret: raw.secret.map(Secret),
            shutdown_timeout: Duration::from_secs(raw.shutdown_timeout),
            workers,
            log_format,
            log_filter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn error(vars: &[(&str, &str)]) -> String {
        settings(vars).unwrap_err().to_string()
    }

    #[test]
    fn defaults_match_the_flask_original() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.port, 8000);
        assert_eq!(s.metrics_port, Some(9000));
        assert_eq!(s.host.to_string(), "0.0.0.0");
        assert_eq!(s.rocket_size, "Small");
        assert_eq!(s.lab_login, "unknown");
        assert_eq!(s.lab_token, "unknown");
        assert!(s.secret.is_none());
        assert_eq!(s.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = settings(&[("LAB_LOGIN", ""), ("SECRET", ""), ("PORT", "")]).unwrap();
        assert_eq!(s.lab_login, "unknown");
        assert!(s.secret.is_none());
        assert_eq!(s.port, 8000);
    }

    #[test]
    fn values_are_read() {
        let s = settings(&[
            ("PORT", "9000"),
            ("METRICS_PORT", "9100"),
            ("HOST", "::1"),
            ("ROCKET_SIZE", "Big"),
            ("SECRET", "s3"),
            ("SHUTDOWN_TIMEOUT", "2"),
            ("WORKERS", "3"),
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "warn,service=debug"),
        ])
        .unwrap();
        assert_eq!((s.port, s.host.to_string()), (9000, "::1".to_owned()));
        assert_eq!(s.metrics_port, Some(9100));
        assert_eq!(
            settings(&[("METRICS_PORT", "off")]).unwrap().metrics_port,
            None
        );
        assert_eq!(s.rocket_size, "Big");
        assert_eq!(s.secret.unwrap().expose(), "s3");
        assert_eq!(s.shutdown_timeout, Duration::from_secs(2));
        assert_eq!(s.workers.get(), 3);
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn bad_values_name_the_variable_and_value() {
        for (vars, needles) in [
            (&[("PORT", "abc")][..], ["PORT", "'abc'"]),
            (&[("PORT", "70000")], ["PORT", "'70000'"]),
            (&[("METRICS_PORT", "70000")], ["METRICS_PORT", "'70000'"]),
            (&[("METRICS_PORT", "no")], ["METRICS_PORT", "'no'"]),
            (&[("SHUTDOWN_TIMEOUT", "-1")], ["SHUTDOWN_TIMEOUT", "'-1'"]),
            (
                &[("SHUTDOWN_TIMEOUT", "soon")],
                ["SHUTDOWN_TIMEOUT", "'soon'"],
            ),
            (&[("WORKERS", "0")], ["WORKERS", "'0'"]),
            (&[("LOG_FORMAT", "xml")], ["LOG_FORMAT", "'xml'"]),
            (&[("HOST", "example")], ["HOST", "'example'"]),
            (&[("RUST_LOG", "=loud=")], ["RUST_LOG", "'=loud='"]),
        ] {
            let message = error(vars);
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
            assert!(!message.contains('\n'), "{message:?} is not one line");
        }
    }

    #[test]
    fn secret_is_redacted_in_debug_output() {
        let s = settings(&[("SECRET", "hunter2")]).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("<redacted>"));
    }
}
