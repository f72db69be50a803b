//! Graceful shutdown on SIGTERM and SIGINT.
//!
//! In a container the service is PID 1, which the kernel gives no default
//! signal behaviour: without these handlers `docker stop` would wait out its
//! 10 s timeout and then kill the process.
//!
//! actix-server's own graceful stop re-checks its open connections only once
//! a second, so an idle server would take up to a second to exit. Here every
//! connection is counted as it opens and closes, and the run ends the moment
//! the last one closes; actix's drain timeout still bounds the wait.

use std::io;
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use futures_util::StreamExt;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use socket2::SockRef;
use tokio::sync::Notify;

/// How long open connections get to leave by themselves (after an answer
/// with `Connection: close`) before actix's graceful stop closes idle ones.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Where the service is in its life: serving, or draining after a signal.
#[derive(Clone, Default)]
pub struct Lifecycle(Arc<State>);

#[derive(Default)]
struct State {
    draining: AtomicBool,
    open_connections: AtomicUsize,
    all_closed: Notify,
}

/// Held for as long as one client connection is open.
pub struct ConnectionGuard(Lifecycle);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let state = &self.0.0;
        if state.open_connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            state.all_closed.notify_waiters();
        }
    }
}

impl Lifecycle {
    /// True from the first signal on: `/ready` answers 503.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// Marks the start of shutdown: `/ready` answers 503 from now on.
    pub fn begin_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// Counts a new connection until the returned guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.0.open_connections.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self.clone())
    }

    /// Resolves once no connection is open.
    async fn all_connections_closed(&self) {
        loop {
            // Created before the check, so a close in between is not missed.
            let closed = self.0.all_closed.notified();
            if self.0.open_connections.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// Middleware: once draining, every answer carries `Connection: close`, so
/// a client on a keep-alive connection leaves after it instead of sending a
/// next request that the closing connection would drop unanswered.
pub async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(req).await?;
    let draining = response
        .request()
        .app_data::<Lifecycle>()
        .is_some_and(Lifecycle::is_draining);
    if draining {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}

/// Catches SIGTERM and SIGINT from now on; they are acted upon once
/// [`handle_signals`] runs. Register before the port is bound, so that no
/// client can see the service before it can be stopped gracefully.
pub fn catch_signals() -> io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT])
}

/// What the drain acts on.
pub struct Draining {
    pub server: ServerHandle,
    pub lifecycle: Lifecycle,
    /// A handle on the listening socket: shut down to refuse new connections.
    pub listener: TcpListener,
    pub shutdown_timeout: Duration,
}

/// Acts on the caught signals; the returned future resolves when the drain
/// is over.
///
/// The first signal prints `Shutting down...` (as the Flask original does),
/// makes `/ready` answer 503 and every answer carry `Connection: close`,
/// and shuts the listening socket, so new connections are refused at once
/// (a merely paused listener would queue them in the kernel, to be reset at
/// exit). Open connections leave after their next answer; once they have,
/// or after a short grace for idle keep-alive ones, actix's graceful stop
/// closes what is idle and gives requests in flight the drain timeout.
/// Stopping actix at once instead would close connections between two
/// requests and drop the request arriving at that moment. A second signal
/// during the drain ends the process at once with status 128 + its number.
pub fn handle_signals(mut signals: Signals, draining: Draining) -> impl Future<Output = ()> {
    let Draining {
        server,
        lifecycle,
        listener,
        shutdown_timeout,
    } = draining;
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel();
    actix_web::rt::spawn(async move {
        let Some(first) = signals.next().await else {
            return;
        };
        println!("Shutting down...");
        lifecycle.begin_draining();
        tracing::info!(
            signal = first,
            "shutdown started: draining open connections"
        );
        actix_web::rt::spawn(async move {
            if let Some(second) = signals.next().await {
                tracing::warn!(
                    signal = second,
                    "second signal during the drain: exiting now"
                );
                std::process::exit(128 + second);
            }
        });
        // Stop accepting first, so the accept loop never sees the socket fail.
        server.pause().await;
        if let Err(error) = SockRef::from(&listener).shutdown(Shutdown::Both) {
            tracing::warn!(%error, "cannot shut the listening socket down");
        }
        let grace = CLOSE_GRACE.min(shutdown_timeout);
        let _ = actix_web::rt::time::timeout(grace, lifecycle.all_connections_closed()).await;
        // `stop` sends its command at once; actix force-closes what is left
        // when the drain timeout runs out.
        drop(server.stop(true));
        lifecycle.all_connections_closed().await;
        let _ = drained_tx.send(());
    });
    async move {
        // An error means the signal task is gone: then only the server ends the run.
        if drained_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
