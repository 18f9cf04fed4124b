//! Which protocol a connection speaks, seen in its first bytes.
//!
//! hyper-util's `auto` connection reads the first bytes to choose HTTP/1
//! or HTTP/2 but does not say which it chose, and its `graceful_shutdown`
//! does different things: a GOAWAY on HTTP/2 (wanted while draining), but
//! on HTTP/1 it closes an idle connection (not wanted while draining), and
//! before the choice it drops the connection. So the I/O is wrapped in
//! [`Sniffed`], which compares the bytes read with the HTTP/2 connection
//! preface on the way, and [`Protocol::is_http2`] tells the connection's
//! driver.
//!
//! Invariants:
//! - `is_http2()` turns true during the read that completes the preface,
//!   so right after the poll of the connection in which the `auto` builder
//!   chose HTTP/2 (it does so in the same poll), and never for a stream
//!   whose first bytes differ from the preface (HTTP/1);
//! - only the first bytes are looked at: until decided, a read goes
//!   through a small buffer of ours (copied on, at most [`SCRATCH`] bytes
//!   a read, no `unsafe`); once decided, reads and writes pass through.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

/// What an HTTP/2 client sends first (RFC 9113, 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Told apart: the preface was seen whole, or the bytes differed.
const DECIDED: usize = usize::MAX;

/// The most a read takes while undecided: a whole small request head (so
/// an HTTP/1 request costs no extra read), on the stack, once.
const SCRATCH: usize = 2048;

/// A connection's I/O that watches its first bytes for the HTTP/2 preface.
#[derive(Debug)]
pub struct Sniffed<T> {
    io: T,
    /// How many bytes of the preface were read so far, or [`DECIDED`].
    matched: usize,
    http2: Arc<AtomicBool>,
}

/// The driver's view of what [`Sniffed`] saw.
#[derive(Debug)]
pub struct Protocol {
    http2: Arc<AtomicBool>,
}

impl<T> Sniffed<T> {
    /// Wraps `io`; the [`Protocol`] tells what its first bytes were.
    pub fn new(io: T) -> (Sniffed<T>, Protocol) {
        let http2 = Arc::new(AtomicBool::new(false));
        let protocol = Protocol {
            http2: http2.clone(),
        };
        let sniffed = Sniffed {
            io,
            matched: 0,
            http2,
        };
        (sniffed, protocol)
    }

    fn look_at(&mut self, read: &[u8]) {
        let expected = &PREFACE[self.matched..];
        let len = read.len().min(expected.len());
        if read.is_empty() || read[..len] != expected[..len] {
            self.matched = DECIDED; // HTTP/1 (or the end of the stream)
        } else if self.matched + len == PREFACE.len() {
            self.matched = DECIDED;
            // Written and read by the connection's own task (the driver
            // reads it between polls of the connection): no ordering
            // needed beyond the runtime's when it moves the task.
            self.http2.store(true, Ordering::Relaxed);
        } else {
            self.matched += len;
        }
    }
}

impl Protocol {
    /// Has the connection started HTTP/2 (read the whole preface)?
    #[inline]
    pub fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }
}

impl<T: Read + Unpin> Read for Sniffed<T> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.matched == DECIDED {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        this.poll_read_undecided(cx, buf)
    }
}

impl<T: Read + Unpin> Sniffed<T> {
    /// A read while the protocol is not known yet: through our buffer, to
    /// look at it. Out of line, so that the pass-through read above stays
    /// small (it is on every request's path; this, a connection's first
    /// read or two).
    #[inline(never)]
    fn poll_read_undecided(
        &mut self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH];
        let room = buf.remaining().min(SCRATCH);
        let mut ours = ReadBuf::uninit(&mut scratch[..room]);
        ready!(Pin::new(&mut self.io).poll_read(cx, ours.unfilled()))?;
        let read = ours.filled();
        self.look_at(read);
        buf.put_slice(read);
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> Write for Sniffed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In-memory I/O that hands out `chunks`, one a read.
    struct Chunks(Vec<&'static [u8]>);

    impl Read for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            mut buf: ReadBufCursor<'_>,
        ) -> Poll<io::Result<()>> {
            if !self.0.is_empty() {
                let chunk = self.0.remove(0);
                buf.put_slice(chunk);
            }
            Poll::Ready(Ok(()))
        }
    }

    /// Reads every chunk through [`Sniffed`]: what it saw, and that the
    /// bytes came through unchanged.
    fn sniff(chunks: &[&'static [u8]]) -> bool {
        let (mut sniffed, protocol) = Sniffed::new(Chunks(chunks.to_vec()));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for chunk in chunks {
            let mut storage = [MaybeUninit::<u8>::uninit(); 64];
            let mut buf = ReadBuf::uninit(&mut storage);
            let polled = Pin::new(&mut sniffed).poll_read(&mut cx, buf.unfilled());
            assert!(matches!(polled, Poll::Ready(Ok(()))));
            assert_eq!(buf.filled(), *chunk);
        }
        protocol.is_http2()
    }

    #[test]
    fn tells_http2_from_http1() {
        assert!(sniff(&[PREFACE]));
        assert!(sniff(&[
            &PREFACE[..3],
            &PREFACE[3..10],
            &PREFACE[10..],
            b"rest"
        ]));
        assert!(!sniff(&[&PREFACE[..23]]), "not yet");
        assert!(!sniff(&[b"GET / HTTP/1.1\r\n\r\n"]));
        assert!(!sniff(&[b"PRI * HTTP/1.1\r\n", b"\r\nSM\r\n\r\n"]));
    }
}
