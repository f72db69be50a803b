//! The one way log lines reach stdout: each thread appends whole lines to a
//! buffer of its own; one writer thread takes what every buffer holds and
//! writes it, a `write` per buffer.
//!
//! Hand-written, not tracing-appender's non-blocking writer, because that
//! one served 0.69x the requests of this one in the image (40 paired rounds
//! of `wrk -t1 -c16 -d1s` on `GET /health`, 95 % interval 0.63–0.75x;
//! 1.03x on the host with stdout to /dev/null): it sends every line through
//! a channel as a `Vec` of its own and wakes its writer for it, and in a
//! container every `write` crosses a pipe to Docker's log driver.
//!
//! Logs are telemetry, serving is the job: no thread ever waits on stdout.
//! A thread whose buffer is full (the sink has stalled: a log driver that
//! cannot reach its collector, a full disk) drops its new lines and counts
//! them; once the sink takes lines again, one line says how many were
//! dropped. The writer writes through a handle of its own, so a write
//! blocked on a stalled pipe holds no lock anyone else needs, and at exit
//! it gets [`FLUSH_DEADLINE`] to write out what is queued.
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

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::Duration;

/// Bytes that may wait for the writer in one thread's buffer; lines beyond
/// it are dropped and counted. Some 1,700 request lines: 20 ms of a worker
/// at full load, far more than a healthy sink ever lets pile up.
const QUEUE_LIMIT: usize = 256 * 1024;

/// How long the guard lets the writer write out what is queued, at exit;
/// a writer still blocked on a stalled sink then is left behind.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(1);

/// How long the writer waits for more lines after a batch, awake (no thread
/// has to wake it), before it sleeps until the next line. Under load lines
/// arrive every few microseconds; no one waits for a log line 5 ms.
/// When idle a line is written at once: the writer is asleep, and woken.
const GATHER: Duration = Duration::from_millis(5);

/// Locks `mutex` even if a thread panicked while holding it: what it holds
/// stays usable (bytes consistent enough to write, a list that a push
/// leaves whole), and the other threads' lines and figures must not be lost
/// over it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Lines dropped since the writer last took this buffer: it was full.
    dropped: u64,
    /// The writer has stopped: lines are dropped.
    closed: bool,
}

thread_local! {
    /// This thread's buffer in each queue it has written to (in the service,
    /// one), and the queue it belongs to.
    static MY_BUFFERS: RefCell<Vec<(Weak<Queue>, Arc<Buffer>)>> = const { RefCell::new(Vec::new()) };
}

/// Where log lines go: a cheap handle on the shared queue.
#[derive(Clone)]
pub struct LogWriter(Arc<Queue>);

/// Keeps the writer thread running; dropping it writes out what is queued,
/// for at most [`FLUSH_DEADLINE`], and stops the thread. Hold it until the
/// service has stopped.
#[must_use = "dropping the guard stops the log writer: hold it until the end"]
pub struct WriterGuard {
    queue: Arc<Queue>,
    /// Disconnected when the writer thread has ended.
    writer_ended: Receiver<()>,
}

/// Starts the writer thread, on a handle of stdout of its own: std's
/// `Stdout` has a process-wide lock, which a write blocked on a stalled sink
/// would hold, and anything else printing would then wait for it.
pub fn start() -> (LogWriter, WriterGuard) {
    let queue = Arc::new(Queue::default());
    let writer_queue = Arc::clone(&queue);
    let (ended, writer_ended) = mpsc::channel::<()>();
    let stdout = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .expect("stdout can be duplicated");
    thread::Builder::new()
        .name("log-writer".to_owned())
        .spawn(move || {
            let _ended = ended;
            write_until_closed(&writer_queue, stdout);
        })
        .expect("the log writer thread starts");
    (
        LogWriter(Arc::clone(&queue)),
        WriterGuard {
            queue,
            writer_ended,
        },
    )
}

impl LogWriter {
    /// Queues `lines` (whole lines, ending in `\n`) for stdout; never waits.
    /// When this thread's buffer is full (stdout does not drain), the lines
    /// are dropped and counted, and the writer says how many once it can
    /// write again. Once the guard has stopped the writer, lines are dropped.
    pub fn append(&self, lines: &[u8]) {
        let queued = MY_BUFFERS.with_borrow_mut(|mine| {
            let Some(buffer) = self.my_buffer(mine) else {
                return false;
            };
            let mut pending = lock(&buffer.pending);
            if pending.closed {
                return false;
            }
            if pending.bytes.len() + lines.len() > QUEUE_LIMIT {
                pending.dropped += line_count(lines);
                return false;
            }
            pending.bytes.extend_from_slice(lines);
            true
        });
        if !queued {
            return;
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

fn write_until_closed(queue: &Queue, mut stdout: File) {
    // One batch per buffer, swapped with its bytes: no copy, and no
    // allocation once the batches have grown.
    let mut batches: Vec<Vec<u8>> = Vec::new();
    loop {
        let closed = lock(&queue.control).closed;
        let Taken { lines, dropped } = take_all(queue, &mut batches, closed);
        for batch in batches.iter_mut().filter(|batch| !batch.is_empty()) {
            // Nowhere to report a failed write of the log itself (a closed
            // stdout): the service goes on serving, as with a full disk.
            let _ = stdout.write_all(batch);
            batch.clear();
        }
        if closed {
            return; // everything written; later lines are dropped
        }
        if dropped > 0 {
            // The sink took this pass's lines: it drains again. The line goes
            // through the subscriber, in the configured format, and is
            // written on the next pass.
            tracing::warn!(
                dropped,
                "log lines dropped: stdout did not take them in time"
            );
        }
        let took = lines || dropped > 0;
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

/// What one pass of the writer took from the buffers.
struct Taken {
    /// Some lines to write.
    lines: bool,
    /// Lines dropped since the last pass.
    dropped: u64,
}

/// Swaps every buffer's lines into `batches`. When `closing`, the buffers
/// are closed too: their threads' lines are dropped from now on.
fn take_all(queue: &Queue, batches: &mut Vec<Vec<u8>>, closing: bool) -> Taken {
    let mut buffers = lock(&queue.buffers);
    buffers.closed |= closing;
    if batches.len() < buffers.all.len() {
        batches.resize_with(buffers.all.len(), Vec::new);
    }
    let mut taken = Taken {
        lines: false,
        dropped: 0,
    };
    for (buffer, batch) in buffers.all.iter().zip(batches.iter_mut()) {
        let mut pending = lock(&buffer.pending);
        pending.closed |= closing;
        taken.lines |= !pending.bytes.is_empty();
        taken.dropped += std::mem::take(&mut pending.dropped);
        std::mem::swap(&mut pending.bytes, batch);
    }
    // The buffers of threads that have ended, once empty: only this list
    // holds them, so no line can arrive between the look and the drop (a
    // line that came after the swap above is taken on the next pass).
    buffers
        .all
        .retain(|buffer| Arc::strong_count(buffer) > 1 || !lock(&buffer.pending).bytes.is_empty());
    taken
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

/// The lines in `bytes`, each ending in `\n`.
fn line_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&byte| byte == b'\n').count() as u64
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        lock(&self.queue.control).closed = true;
        self.queue.arrived.notify_one();
        // A writer blocked on a stalled sink would never end: past the
        // deadline it is left behind, and ends with the process.
        let _ = self.writer_ended.recv_timeout(FLUSH_DEADLINE);
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
