//! Builds the application from typed settings and runs it until stopped.

use std::io;
use std::net::TcpListener;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::HttpService;
use actix_http::error::DispatchError;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, map_config};
use actix_web::App;
use actix_web::dev::{AppConfig, Server, fn_service};
use actix_web::rt::net::TcpStream;
use actix_web::web::{self, ServiceConfig};
use futures_util::future::{Either, ready, select};

use crate::backpressure::Backpressure;
use crate::configuration::Settings;
use crate::metrics;
use crate::middleware;
use crate::request_metrics::RequestMetrics;
use crate::routes::{self, AppState};
use signal_hook_tokio::Signals;

use crate::shutdown::{self, Draining, Lifecycle, Stopped};

/// How long a connection the service closes waits for the client to close
/// its side: actix-web's `HttpServer` default.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A bound, ready-to-run HTTP server.
pub struct Application {
    server: Server,
    port: u16,
    metrics_port: Option<u16>,
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
        let local_address = listener.local_addr()?;
        let (registry, request_metrics) = metrics::register();
        let request_metrics = settings.metrics_port.map(|_| request_metrics);
        let app = move || {
            // Each worker its own handles (and figures: request_metrics.rs),
            // which a request clones without an atomic.
            let request_metrics = request_metrics.as_ref().map(RequestMetrics::for_worker);
            let lifecycle = Rc::new(app_lifecycle.clone());
            App::new()
                // The plainest middleware: `wrap_fn` boxes nothing, where
                // `from_fn` boxes a future and calls through a `dyn` service
                // (two `from_fn` layers cost some 500 instructions a request
                // more, counted with callgrind: see request_line.rs).
                .wrap_fn(move |request, app| {
                    middleware::answer(app, request, &lifecycle, request_metrics.as_ref())
                })
                .configure(extra_routes.clone())
                .configure(|config| routes::configure(config, state.clone()))
        };
        let mut builder = actix_server::Server::build()
            .workers(settings.workers.get())
            .shutdown_timeout(settings.shutdown_timeout.as_secs())
            // Signals are handled in shutdown.rs, which also drains sooner and
            // without dropping requests on keep-alive connections.
            .disable_signals()
            // What actix-web's `HttpServer::listen` builds, but for a stream of
            // our own: see backpressure.rs.
            .listen("http", listener, move || {
                let connections = connections.clone();
                let idle_close = connections.clone();
                let http = HttpService::build()
                    // Idle keep-alive connections close when the drain stops
                    // actix, instead of holding it until its timeout.
                    .graceful_shutdown_signal(move || idle_close.idle_close())
                    // actix-web's default, which this builder's lacks.
                    .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                    .local_addr(local_address)
                    .on_connect_ext(move |_, extensions| {
                        extensions.insert(connections.in_progress());
                    })
                    .h1(map_config(
                        app().into_factory().map_err(|error| error.error_response()),
                        // Its address and host are only read by URL generation and
                        // as a fallback for requests without a `Host` header.
                        move |()| AppConfig::default(),
                    ));
                fn_service(|stream: TcpStream| {
                    let peer = stream.peer_addr().ok();
                    ready(Ok::<_, DispatchError>((Backpressure::new(stream), peer)))
                })
                .and_then(http)
            })?;
        // /metrics on a port of its own: see the README's "Metrics".
        let metrics_port = match settings.metrics_port {
            None => None,
            Some(port) => {
                let listener = TcpListener::bind((settings.host, port))?;
                let port = listener.local_addr()?.port();
                let registry = Arc::new(registry);
                builder = builder.listen("metrics", listener, move || {
                    let registry = Arc::clone(&registry);
                    let app = App::new()
                        .configure(move |config| metrics::configure_endpoint(config, registry));
                    HttpService::build()
                        .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
                        .h1(map_config(
                            app.into_factory().map_err(|error| error.error_response()),
                            move |()| AppConfig::default(),
                        ))
                        .tcp()
                })?;
                Some(port)
            }
        };
        let server = builder.run();
        let draining = Draining {
            server: server.handle(),
            lifecycle,
            listener: listener_handle,
            shutdown_timeout: settings.shutdown_timeout,
        };
        Ok(Self {
            server,
            port,
            metrics_port,
            signals,
            draining,
        })
    }

    /// The port actually bound (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, if any (`METRICS_PORT=off`: none).
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
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
