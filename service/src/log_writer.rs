//! The one way log lines reach stdout: any thread appends whole lines to a
//! shared buffer; one writer thread takes everything that has queued up and
//! writes it with one `write`.
//!
//! Under load that is one system call for dozens of lines instead of one per
//! request (measured: about 7 % more requests per second on 2 cores, and
//! 20 % in a container, where every write crosses a pipe to the log
//! driver); when idle, each line is written as soon as it is appended.
//!
//! Waking a thread costs a system call and a context switch, far more than
//! a request line's formatting, and in a container every `write` is a trip
//! through a pipe to Docker's log driver: so the writer is woken only when
//! it sleeps, and after each batch it waits [`GATHER`] for more lines before
//! it goes to sleep. Measured on the image (wrk, 16 connections,
//! `GET /health`, 2 cores, json-file log driver, one run each): waking the
//! writer for every line it had found none for, 37.5k requests/s; gathering
//! for 200 µs, 53–64k; for 1 ms, 73–75k; with request lines off, 89–91k.
//! On the host each wake-up still cost the writer some 10 µs of CPU (the
//! timer, the switch: 0.11 µs of the writer's CPU per request at 90k
//! requests/s with 1 ms, read from /proc/PID/task/*/stat over a wrk run);
//! gathering for 5 ms makes that 0.02 µs.
//!
//! Measured too, and not kept: a buffer per thread, collected by the
//! writer, so that the workers share no lock. No difference within the
//! runs' noise: the shared lock is held for a copy and is rarely contended.
//!
//! Hand-written rather than tracing-appender's non-blocking writer: that one
//! sends every line as a `Vec` of its own through a channel (an allocation
//! and a copy per line) and wakes its writer for it; appending to one reused
//! buffer under a lock costs a fraction of that, on a path every request
//! takes.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Bytes that may wait for the writer; a thread that would queue more waits
/// instead (nothing is dropped), as it would on a slow stdout.
const QUEUE_LIMIT: usize = 256 * 1024;

/// How long the writer waits for more lines after a batch, awake (no thread
/// has to wake it), before it sleeps until the next line. Under load lines
/// arrive every few microseconds; no one waits for a log line 5 ms.
/// When idle a line is written at once: the writer is asleep, and woken.
const GATHER: Duration = Duration::from_millis(5);

#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    /// Lines arrived, or the queue closed.
    arrived: Condvar,
    /// The writer took the pending lines: there is room again.
    taken: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    closed: bool,
    /// The writer sleeps on `arrived`: the next line must wake it.
    writer_asleep: bool,
    /// Threads waiting on `taken` for room.
    waiting_for_room: usize,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves the bytes consistent enough
        // to write: never lose the other threads' lines over it.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where log lines go: a cheap handle on the shared queue.
#[derive(Clone)]
pub struct LogWriter(Arc<Queue>);

/// Keeps the writer thread running; dropping it writes out every queued line
/// and stops the thread. Hold it until the service has stopped.
#[must_use = "dropping the guard stops the log writer: hold it until the end"]
pub struct WriterGuard {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread.
pub fn start() -> (LogWriter, WriterGuard) {
    let queue = Arc::new(Queue::default());
    let writer_queue = Arc::clone(&queue);
    let thread = thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || write_until_closed(&writer_queue))
        .expect("the log writer thread starts");
    (
        LogWriter(Arc::clone(&queue)),
        WriterGuard {
            queue,
            thread: Some(thread),
        },
    )
}

impl LogWriter {
    /// Queues `lines` (whole lines, ending in `\n`) for stdout.
    pub fn append(&self, lines: &[u8]) {
        let queue = &*self.0;
        let mut pending = queue.lock();
        while pending.bytes.len() >= QUEUE_LIMIT && !pending.closed {
            pending.waiting_for_room += 1;
            pending = queue
                .taken
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
            pending.waiting_for_room -= 1;
        }
        if pending.closed {
            // After the guard: nobody writes the queue any more.
            drop(pending);
            write_out(lines);
            return;
        }
        pending.bytes.extend_from_slice(lines);
        let wakes_writer = std::mem::take(&mut pending.writer_asleep);
        drop(pending);
        if wakes_writer {
            queue.arrived.notify_one();
        }
    }
}

fn write_until_closed(queue: &Queue) {
    let mut batch = Vec::new();
    loop {
        let mut pending = queue.lock();
        if pending.bytes.is_empty() && !pending.closed {
            // Lines do not wake it here (`writer_asleep` is false); the
            // guard does, so that the service exits without waiting it out.
            pending = queue
                .arrived
                .wait_timeout_while(pending, GATHER, |pending| !pending.closed)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        while pending.bytes.is_empty() && !pending.closed {
            pending.writer_asleep = true;
            pending = queue
                .arrived
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.bytes.is_empty() {
            return; // closed, and everything written
        }
        std::mem::swap(&mut pending.bytes, &mut batch);
        let room_awaited = pending.waiting_for_room > 0;
        drop(pending);
        if room_awaited {
            queue.taken.notify_all();
        }
        write_out(&batch);
        batch.clear();
    }
}

fn write_out(bytes: &[u8]) {
    // Nowhere to report a failed write of the log itself (a closed stdout):
    // the service goes on serving, as it would with a full disk.
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.arrived.notify_one();
        self.queue.taken.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// tracing-subscriber writes each event with one `write_all` of the whole
/// formatted line: queue it as it is.
impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
