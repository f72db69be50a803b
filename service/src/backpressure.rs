//! A connection that stops reading requests while its answers are not being
//! read.
//!
//! actix-http's HTTP/1 dispatcher reads a connection as long as the socket
//! has bytes, decodes every whole request in its read buffer and writes each
//! answer into a write buffer with no limit of its own: its only bound is on
//! streamed bodies. A client that pipelines requests and never reads the
//! answers therefore grows that buffer without end (measured: 20 such
//! connections took the process to 263 MB in 10 s; the bare actix-web server
//! does the same). hyper caps its write buffer; actix-http has no setting
//! for it.
//!
//! The fix sits at the socket, under the dispatcher, because that is the one
//! place where both directions can be seen without patching actix-http:
//! - once a write finds the socket's send buffer full (`Pending`), reads
//!   answer `Pending` too, until a write goes through again. The requests
//!   then wait in the kernel, and TCP's own flow control stops the sender;
//! - one dispatcher turn reads at most [`READ_AHEAD`] bytes, then yields
//!   (waking itself), so that it answers what it has, and finds out whether
//!   the client reads, before it reads more. Without it one turn could
//!   decode up to actix's 128 KiB read buffer of pipelined requests at once.
//!
//! So a connection holds at most the answers to [`READ_AHEAD`] bytes of
//! requests that nobody reads. A request or body larger than that is read
//! over several turns, as it would be over a slow network.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read in one turn of the dispatcher before it yields. Some 100
/// pipelined `GET /health` requests (answers of about 10 KiB), and more
/// than any ordinary request head: those are read in one turn, as before.
pub const READ_AHEAD: usize = 4 * 1024;

/// A stream whose reads pause while its writes are blocked.
pub struct Backpressure<S> {
    io: S,
    /// The last write found the send buffer full: the client is not reading.
    write_blocked: bool,
    /// Bytes read in this turn: since the socket last had nothing more, or
    /// the dispatcher last yielded.
    read_this_turn: usize,
    /// The dispatcher, waiting for a read refused while writes were blocked.
    parked_reader: Option<Waker>,
}

impl<S> Backpressure<S> {
    pub fn new(io: S) -> Self {
        Self {
            io,
            write_blocked: false,
            read_this_turn: 0,
            parked_reader: None,
        }
    }

    /// Records how a write went: blocked, or through (then a read refused
    /// meanwhile may go on).
    fn wrote<T>(&mut self, written: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match &written {
            Poll::Pending => self.write_blocked = true,
            Poll::Ready(_) if self.write_blocked => {
                self.write_blocked = false;
                if let Some(reader) = self.parked_reader.take() {
                    reader.wake();
                }
            }
            Poll::Ready(_) => {}
        }
        written
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Backpressure<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write_blocked {
            this.parked_reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if this.read_this_turn >= READ_AHEAD {
            // Yield: the dispatcher answers what it has read, then reads on.
            this.read_this_turn = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let room = (READ_AHEAD - this.read_this_turn).min(buf.remaining());
        let mut limited = buf.take(room);
        let start = limited.filled().as_ptr();
        let read = Pin::new(&mut this.io).poll_read(cx, &mut limited);
        let filled = limited.filled().len();
        if read.is_pending() {
            // The turn's reading is over: the next one starts afresh.
            this.read_this_turn = 0;
        }
        if let Poll::Ready(Ok(())) = read {
            // As tokio's own `Take` does: the reader filled the start of
            // `buf`'s unfilled part, unless it swapped the buffer.
            assert_eq!(
                start,
                limited.filled().as_ptr(),
                "the reader swapped its buffer"
            );
            // SAFETY: those `filled` bytes are initialised, by the reader.
            unsafe { buf.assume_init(filled) };
            buf.advance(filled);
            this.read_this_turn += filled;
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Backpressure<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(written)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
