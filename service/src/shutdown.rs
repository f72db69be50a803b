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
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix_web::dev::ServerHandle;
use futures_util::StreamExt;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio::sync::Notify;

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

/// Catches SIGTERM and SIGINT from now on; they are acted upon once
/// [`handle_signals`] runs. Register before the port is bound, so that no
/// client can see the service before it can be stopped gracefully.
pub fn catch_signals() -> io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT])
}

/// Acts on the caught signals; the returned future resolves when the drain
/// is over.
///
/// The first signal prints `Shutting down...` (as the Flask original does),
/// makes `/ready` answer 503 and stops the server gracefully: no new
/// connections, idle keep-alive ones closed, requests in flight answered
/// within the drain timeout. A second signal during the drain
/// ends the process at once with status 128 + its number.
pub fn handle_signals(
    mut signals: Signals,
    server: ServerHandle,
    lifecycle: Lifecycle,
) -> impl Future<Output = ()> {
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
        // `stop` sends its command at once; actix closes the listener and
        // force-closes what is left when the drain timeout runs out.
        drop(server.stop(true));
        actix_web::rt::spawn(async move {
            if let Some(second) = signals.next().await {
                tracing::warn!(
                    signal = second,
                    "second signal during the drain: exiting now"
                );
                std::process::exit(128 + second);
            }
        });
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
