//! Graceful shutdown on SIGTERM and SIGINT.
//!
//! In a container the service is PID 1, which the kernel gives no default
//! signal behaviour: without these handlers `docker stop` would wait out its
//! 10 s timeout and then kill the process.
//!
//! actix-server's own graceful stop re-checks its open connections only once
//! a second, so an idle server would take up to a second to exit. Here every
//! connection is counted as it opens and closes, and the run ends the moment
//! the count falls to zero; actix's drain timeout still bounds the wait.
//! (A request's log line is queued before its answer is handed back, so no
//! line can still be pending once its connection has closed.)

use std::future::Future;
use std::io;
use std::net::{Shutdown, TcpListener};
use std::pin::{Pin, pin};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use actix_web::dev::{ServerHandle, ServiceResponse};
use actix_web::http::ConnectionType;
use futures_util::StreamExt;
use futures_util::future::{Either, select};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use socket2::SockRef;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;

use crate::telemetry;

/// How long open connections get to leave by themselves (after an answer
/// with `Connection: close`) before actix's graceful stop closes idle ones.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// How long past `SHUTDOWN_TIMEOUT` the drain waits for actix's own forced
/// close, which a worker blocked in a handler never carries out.
const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// Where the service is in its life: serving, or draining after a signal.
#[derive(Clone, Default)]
pub struct Lifecycle(Arc<State>);

#[derive(Default)]
struct State {
    draining: AtomicBool,
    in_progress: AtomicUsize,
    all_done: Notify,
    /// Set, then notified, when idle connections are to close.
    closing_idle: AtomicBool,
    close_idle: Arc<Notify>,
}

/// Held while an open client connection keeps the drain waiting.
pub struct InProgress(Lifecycle);

impl Drop for InProgress {
    fn drop(&mut self) {
        let state = &self.0.0;
        if state.in_progress.fetch_sub(1, Ordering::AcqRel) == 1 {
            state.all_done.notify_waiters();
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

    /// Counts one more thing under way until the returned guard is dropped.
    pub fn in_progress(&self) -> InProgress {
        self.0.in_progress.fetch_add(1, Ordering::AcqRel);
        InProgress(self.clone())
    }

    /// A connection's signal to close once idle: actix-http's
    /// `graceful_shutdown_signal`, given by [`drain`] as it stops actix
    /// (without one, actix's graceful stop waits on idle keep-alive
    /// connections as on busy ones).
    pub fn idle_close(&self) -> IdleClose {
        IdleClose {
            // Made now, so that it is notified even if it is first polled
            // after the notification.
            notified: Box::pin(Arc::clone(&self.0.close_idle).notified_owned()),
            lifecycle: self.clone(),
            waker: None,
        }
    }

    /// Tells every connection's [`IdleClose`] to close it once idle.
    fn close_idle_connections(&self) {
        self.0.closing_idle.store(true, Ordering::Release);
        self.0.close_idle.notify_waiters();
    }

    /// Resolves once nothing is under way: no connection open.
    async fn all_done(&self) {
        loop {
            // Created before the check, so a drop in between is not missed.
            let done = self.0.all_done.notified();
            if self.0.in_progress.load(Ordering::Acquire) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// Resolves when idle connections are to close. actix-http polls it on
/// every turn of a connection's dispatcher, several a request: a flag
/// answers those, and the notification is asked only to wake the
/// connection (actix-server's own signal, a tokio `watch` asked on every
/// poll, cost 190 instructions a request: callgrind, `GET /health`).
pub struct IdleClose {
    notified: Pin<Box<OwnedNotified>>,
    lifecycle: Lifecycle,
    /// The waker the notification was last given.
    waker: Option<Waker>,
}

impl Future for IdleClose {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.lifecycle.0.closing_idle.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if this
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        this.waker = Some(cx.waker().clone());
        this.notified.as_mut().poll(cx)
    }
}

/// Once draining, every answer carries `Connection: close`, so a client on
/// a keep-alive connection leaves after it instead of sending a next
/// request that the closing connection would drop unanswered.
pub fn close_if_draining<B>(response: &mut ServiceResponse<B>, lifecycle: &Lifecycle) {
    if lifecycle.is_draining() {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
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

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Drained after the first signal: every connection closed, or the
    /// drain timeout ran out.
    Drained,
    /// Cut short by a second signal during the drain (its number).
    Forced(i32),
}

impl Stopped {
    /// The process's exit status: 0 after a drain; 128 + the signal's number
    /// when forced, as a shell reports a process ended by that signal.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Stopped::Drained => ExitCode::SUCCESS,
            Stopped::Forced(signal) => {
                ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX))
            }
        }
    }
}

/// Acts on the caught signals; resolves when the drain is over or a second
/// signal cut it short.
///
/// The first signal prints `Shutting down...` (as the Flask original does)
/// and starts the drain (`drain`, below). A second signal during the drain
/// ends the run at once: the caller returns, leaving requests in flight
/// unanswered, but the queued log lines are still written (no
/// `process::exit` here).
pub async fn handle_signals(mut signals: Signals, draining: Draining) -> Stopped {
    let Some(first) = signals.next().await else {
        // The signal stream is gone: only the server can end the run.
        return std::future::pending().await;
    };
    telemetry::print_line("Shutting down...");
    tracing::info!(
        signal = first,
        "shutdown started: draining open connections"
    );
    match select(pin!(drain(draining)), signals.next()).await {
        Either::Left(((), _)) => Stopped::Drained,
        Either::Right((Some(second), _)) => {
            tracing::warn!(
                signal = second,
                "second signal during the drain: exiting now"
            );
            Stopped::Forced(second)
        }
        Either::Right((None, drain)) => {
            drain.await;
            Stopped::Drained
        }
    }
}

/// Refuses new connections and waits for the open ones to close.
///
/// The listening socket is shut, so new connections are refused at once (a
/// merely paused listener would queue them in the kernel, to be reset at
/// exit). Then `/ready` turns to 503 and answers carry `Connection: close`:
/// open connections leave after their next answer; once they have,
/// or after a short grace for idle keep-alive ones, actix's graceful stop
/// closes what is idle and gives requests in flight the drain timeout.
/// Stopping actix at once instead would close connections between two
/// requests and drop the request arriving at that moment.
async fn drain(draining: Draining) {
    let Draining {
        server,
        lifecycle,
        listener,
        shutdown_timeout,
    } = draining;
    let deadline = Instant::now() + shutdown_timeout + DRAIN_MARGIN;
    // Stop accepting first, so the accept loop never sees the socket fail.
    server.pause().await;
    if let Err(error) = SockRef::from(&listener).shutdown(Shutdown::Both) {
        tracing::warn!(%error, "cannot shut the listening socket down");
    }
    // Only now: a client told to close its connection reconnects at once,
    // and must find the port refusing rather than a queue reset at exit.
    lifecycle.begin_draining();
    let grace = CLOSE_GRACE.min(shutdown_timeout);
    let _ = actix_web::rt::time::timeout(grace, lifecycle.all_done()).await;
    lifecycle.close_idle_connections();
    // `stop` sends its command at once; actix force-closes what is left
    // when the drain timeout runs out.
    drop(server.stop(true));
    let left = deadline.saturating_duration_since(Instant::now());
    if actix_web::rt::time::timeout(left, lifecycle.all_done())
        .await
        .is_err()
    {
        tracing::warn!(
            open_connections = lifecycle.0.in_progress.load(Ordering::Acquire),
            "drain deadline passed: exiting with connections still open"
        );
    }
}
