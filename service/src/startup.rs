//! Builds the application from typed settings and runs it until stopped.

use std::io;
use std::net::TcpListener;
use std::pin::pin;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::web::{self, ServiceConfig};
use actix_web::{App, HttpServer};
use futures_util::future::{Either, select};

use crate::configuration::Settings;
use crate::routes::{self, AppState};
use signal_hook_tokio::Signals;

use crate::shutdown::{self, Draining, Lifecycle, Stopped};
use crate::telemetry;

/// A bound, ready-to-run HTTP server.
pub struct Application {
    server: Server,
    port: u16,
    signals: Signals,
    draining: Draining,
}

impl Application {
    /// Binds the listening socket and prepares the workers. Must be called
    /// inside an actix (tokio) runtime; nothing is served until
    /// [`Application::run_until_stopped`].
    pub fn build(settings: &Settings) -> io::Result<Self> {
        Self::build_with(settings, |_| {})
    }

    /// [`Application::build`], with `extra_routes` mounted beside the
    /// service's own (the shutdown tests add a slow route this way).
    pub fn build_with(
        settings: &Settings,
        extra_routes: impl Fn(&mut ServiceConfig) + Clone + Send + 'static,
    ) -> io::Result<Self> {
        let signals = shutdown::catch_signals()?;
        let lifecycle = Lifecycle::default();
        let state = web::Data::new(AppState::new(settings, Instant::now(), lifecycle.clone()));
        let listener = TcpListener::bind((settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let listener_handle = listener.try_clone()?;
        let connections = lifecycle.clone();
        let app_lifecycle = lifecycle.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_lifecycle.clone())
                // Every answer's last steps, as one middleware of the
                // plainest kind: `wrap_fn` boxes nothing, where `from_fn`
                // boxes a future and calls through a `dyn` service (two
                // `from_fn` layers cost some 500 instructions a request more,
                // counted with callgrind: see request_line.rs).
                .wrap_fn(|request, app| {
                    let started = Instant::now();
                    let answered = app.call(request);
                    async move {
                        let mut response = answered.await?;
                        shutdown::close_if_draining(&mut response);
                        telemetry::log_request(&response, started);
                        Ok(response)
                    }
                })
                .configure(extra_routes.clone())
                .configure(|config| routes::configure(config, state.clone()))
        })
        .on_connect(move |_, extensions| {
            extensions.insert(connections.in_progress());
        })
        .workers(settings.workers.get())
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        // Signals are handled in shutdown.rs, which also drains sooner and
        // without dropping requests on keep-alive connections.
        .disable_signals()
        .listen(listener)?
        .run();
        let draining = Draining {
            server: server.handle(),
            lifecycle,
            listener: listener_handle,
            shutdown_timeout: settings.shutdown_timeout,
        };
        Ok(Self {
            server,
            port,
            signals,
            draining,
        })
    }

    /// The port actually bound (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until a SIGTERM or SIGINT has been handled and the drain is
    /// over (every connection closed, or the drain timeout run out) or a
    /// second signal cut it short; says which.
    pub async fn run_until_stopped(self) -> io::Result<Stopped> {
        let stopped = shutdown::handle_signals(self.signals, self.draining);
        match select(self.server, pin!(stopped)).await {
            Either::Left((served, _)) => served.map(|()| Stopped::Drained),
            Either::Right((stopped, _)) => Ok(stopped),
        }
    }
}
