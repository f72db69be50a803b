//! The one way log lines reach stdout: each thread appends whole lines to a
//! buffer of its own; one writer thread takes what every buffer holds and
//! writes it, a `write` per buffer.
//!
//! Under load that is one system call for dozens of lines instead of one per
//! request (measured: about 7 % more requests per second on 2 cores, and
//! 20 % in a container, where every write crosses a pipe to the log
//! driver); when idle, each line is written as soon as it is appended.
//!
//! A buffer per thread, not one shared queue: with one queue, every line
//! took a lock whose cache line the other worker had just written, and was
//! copied next to the other worker's last line (the same cache line again).
//! Measured on 2 cores (wrk -t1 -c16, `GET /health`, 12 rounds of 2 s each,
//! CPU time of the server from /proc per request): one shared queue,
//! 11.27 µs per request against the bare actix-web server's 10.57, and 0.35
//! voluntary context switches per request against 0.29; with the request
//! lines off, 10.53 and 0.29. A worker now locks only its own buffer, which
//! the writer touches once per batch: user time 2.47 µs per request against
//! the shared queue's 2.86 in one run (the bare server's, 1.95); requests/s
//! against the bare server, the median of 100 rounds of 1 s runs in random
//! order, 0.960x against 0.943x (this change and one clock read fewer, see
//! `request_line::wall_time`). The price: lines of different threads
//! reach stdout a batch at a time, so within a few milliseconds they may
//! not be in the order of their timestamps (each thread's are).
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
//! Hand-written rather than tracing-appender's non-blocking writer: that one
//! sends every line as a `Vec` of its own through a channel (an allocation
//! and a copy per line) and wakes its writer for it; appending to the
//! thread's own reused buffer costs a fraction of that, on a path every
//! request takes.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Bytes that may wait for the writer in one thread's buffer; a thread that
/// would queue more waits instead (nothing is dropped), as it would on a
/// slow stdout.
const QUEUE_LIMIT: usize = 256 * 1024;

/// How long the writer waits for more lines after a batch, awake (no thread
/// has to wake it), before it sleeps until the next line. Under load lines
/// arrive every few microseconds; no one waits for a log line 5 ms.
/// When idle a line is written at once: the writer is asleep, and woken.
const GATHER: Duration = Duration::from_millis(5);

/// Locks `mutex` even if a thread panicked while holding it: the bytes are
/// consistent enough to write, and the other threads' lines must not be lost
/// over it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
struct Queue {
    /// Every thread's buffer, added on the thread's first line.
    buffers: Mutex<Buffers>,
    /// Set when the writer goes to sleep, cleared by the line that wakes it.
    /// Read on every line: it changes only when the writer sleeps, so its
    /// cache line stays shared by all cores.
    writer_asleep: AtomicBool,
    /// The writer's sleep, and the guard's order to stop.
    control: Mutex<Control>,
    /// Lines arrived for a sleeping writer, or the queue closed.
    arrived: Condvar,
}

#[derive(Default)]
struct Buffers {
    all: Vec<Arc<Buffer>>,
    /// The writer has written its last batch: no buffer is added any more.
    closed: bool,
}

#[derive(Default)]
struct Control {
    closed: bool,
}

/// One thread's lines, waiting for the writer. Aligned to two cache lines
/// (a pair is fetched together) so that no two threads' buffers share one.
#[derive(Default)]
#[repr(align(128))]
struct Buffer {
    pending: Mutex<Pending>,
    /// The writer took this buffer's lines: there is room again.
    taken: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The writer took its last lines from here: write straight to stdout.
    closed: bool,
    /// The thread waits on `taken` for room.
    waiting_for_room: bool,
}

thread_local! {
    /// This thread's buffer in each queue it has written to (in the service,
    /// one), and the queue it belongs to.
    static MY_BUFFERS: RefCell<Vec<(Weak<Queue>, Arc<Buffer>)>> = const { RefCell::new(Vec::new()) };
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
        let queued = MY_BUFFERS.with_borrow_mut(|mine| {
            let Some(buffer) = self.my_buffer(mine) else {
                return false;
            };
            let mut pending = lock(&buffer.pending);
            while pending.bytes.len() >= QUEUE_LIMIT && !pending.closed {
                pending.waiting_for_room = true;
                pending = buffer
                    .taken
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if !pending.closed {
                pending.bytes.extend_from_slice(lines);
            }
            !pending.closed
        });
        if !queued {
            // After the guard: nobody writes the queue any more.
            return write_out(lines);
        }
        // After the line is in the buffer: a writer going to sleep sets the
        // flag before it looks at the buffers one last time, so either it
        // sees this line or this thread sees the flag (both SeqCst).
        let queue = &*self.0;
        if queue.writer_asleep.load(Ordering::SeqCst)
            && queue.writer_asleep.swap(false, Ordering::SeqCst)
        {
            // Taking the lock waits until the writer really sleeps.
            drop(lock(&queue.control));
            queue.arrived.notify_one();
        }
    }

    /// This thread's buffer in the queue (`mine`: the thread's buffers),
    /// added on its first line; `None` once the queue has closed.
    fn my_buffer<'a>(&self, mine: &'a mut Vec<(Weak<Queue>, Arc<Buffer>)>) -> Option<&'a Buffer> {
        let queue = Arc::as_ptr(&self.0);
        if let Some(at) = mine.iter().position(|(q, _)| q.as_ptr() == queue) {
            return Some(&mine[at].1);
        }
        mine.retain(|(q, _)| q.strong_count() > 0);
        let mut buffers = lock(&self.0.buffers);
        if buffers.closed {
            return None;
        }
        let buffer = Arc::new(Buffer::default());
        buffers.all.push(Arc::clone(&buffer));
        mine.push((Arc::downgrade(&self.0), buffer));
        mine.last().map(|(_, buffer)| &**buffer)
    }
}

fn write_until_closed(queue: &Queue) {
    // One batch per buffer, swapped with its bytes: no copy, and no
    // allocation once the batches have grown.
    let mut batches: Vec<Vec<u8>> = Vec::new();
    loop {
        let closed = lock(&queue.control).closed;
        let took = take_all(queue, &mut batches, closed);
        for batch in batches.iter_mut().filter(|batch| !batch.is_empty()) {
            write_out(batch);
            batch.clear();
        }
        if closed {
            return; // everything written; later lines go straight to stdout
        }
        if took {
            // Lines do not wake it here (`writer_asleep` is false); the
            // guard does, so that the service exits without waiting it out.
            let control = lock(&queue.control);
            drop(
                queue
                    .arrived
                    .wait_timeout_while(control, GATHER, |control| !control.closed),
            );
        } else {
            sleep_until_lines(queue);
        }
    }
}

/// Swaps every buffer's lines into `batches`; true if there were any. When
/// `closing`, the buffers are closed too: their threads write straight to
/// stdout from now on.
fn take_all(queue: &Queue, batches: &mut Vec<Vec<u8>>, closing: bool) -> bool {
    let mut buffers = lock(&queue.buffers);
    buffers.closed |= closing;
    if batches.len() < buffers.all.len() {
        batches.resize_with(buffers.all.len(), Vec::new);
    }
    let mut took = false;
    for (buffer, batch) in buffers.all.iter().zip(batches.iter_mut()) {
        let mut pending = lock(&buffer.pending);
        pending.closed |= closing;
        took |= !pending.bytes.is_empty();
        std::mem::swap(&mut pending.bytes, batch);
        let room_awaited = std::mem::take(&mut pending.waiting_for_room);
        drop(pending);
        if room_awaited {
            buffer.taken.notify_all();
        }
    }
    // The buffers of threads that have ended, once empty: only this list
    // holds them, so no line can arrive between the look and the drop (a
    // line that came after the swap above is taken on the next pass).
    buffers
        .all
        .retain(|buffer| Arc::strong_count(buffer) > 1 || !lock(&buffer.pending).bytes.is_empty());
    took
}

/// Sleeps until a line arrives or the queue closes.
fn sleep_until_lines(queue: &Queue) {
    let mut control = lock(&queue.control);
    queue.writer_asleep.store(true, Ordering::SeqCst);
    // A line appended before the flag was set did not wake the writer.
    let any_pending = lock(&queue.buffers)
        .all
        .iter()
        .any(|buffer| !lock(&buffer.pending).bytes.is_empty());
    while !any_pending && queue.writer_asleep.load(Ordering::SeqCst) && !control.closed {
        control = queue
            .arrived
            .wait(control)
            .unwrap_or_else(PoisonError::into_inner);
    }
    queue.writer_asleep.store(false, Ordering::SeqCst);
}

fn write_out(bytes: &[u8]) {
    // Nowhere to report a failed write of the log itself (a closed stdout):
    // the service goes on serving, as it would with a full disk.
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        lock(&self.queue.control).closed = true;
        self.queue.arrived.notify_one();
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
