//! `service`: serve HTTP; `service healthcheck`: probe a running one.
//!
//! Arguments are matched by hand: one optional word does not justify an
//! argument-parsing crate in a binary meant to stay a few megabytes.

use std::process::ExitCode;

use service::configuration::Settings;
use service::healthcheck;
use service::startup::Application;
use service::telemetry;

/// The binary's own name, in its messages.
const NAME: &str = env!("CARGO_BIN_NAME");

const USAGE: &str = concat!(
    "usage: ",
    env!("CARGO_BIN_NAME"),
    " [healthcheck]
  (no argument)  serve HTTP, configured by environment variables (see README)
  healthcheck    GET /health on this container's service; exit 0 if healthy, 1 if not"
);

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match args.iter().map(|a| a.to_str()).collect::<Vec<_>>()[..] {
        [] => serve(),
        [Some("healthcheck")] => probe(),
        [Some("-h" | "--help")] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        [Some("-V" | "--version")] => {
            println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "{NAME}: unexpected arguments {args:?}; {}",
                USAGE.lines().next().unwrap_or_default()
            );
            ExitCode::from(2)
        }
    }
}

fn settings() -> Result<Settings, ExitCode> {
    Settings::from_env().map_err(|error| {
        eprintln!("{NAME}: {error}");
        ExitCode::from(2)
    })
}

fn serve() -> ExitCode {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Held to the end of serve(): dropping it writes out the queued log lines.
    let _log_guard = telemetry::init(&settings);
    let served = actix_web::rt::System::new().block_on(async {
        let application = Application::build(&settings)?;
        telemetry::log_settings(&settings, application.port(), application.metrics_port());
        application.run_until_stopped().await
    });
    match served {
        Ok(stopped) => {
            tracing::info!(?stopped, "stopped");
            stopped.exit_code()
        }
        Err(error) => {
            eprintln!(
                "{NAME}: cannot serve on {}:{}: {error}",
                settings.host, settings.port
            );
            ExitCode::FAILURE
        }
    }
}

fn probe() -> ExitCode {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(_) => return ExitCode::FAILURE,
    };
    match healthcheck::check(
        healthcheck::probe_address(settings.host, settings.port),
        healthcheck::TIMEOUT,
    ) {
        Ok(summary) => {
            println!("healthy: {summary}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
    }
}
