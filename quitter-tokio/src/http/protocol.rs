//! Which protocol a connection speaks, seen in its first bytes.
//!
//! hyper-util's `auto` connection reads the first bytes to choose HTTP/1
//! or HTTP/2 but does not say which it chose, and its `graceful_shutdown`
//! does different things: a GOAWAY on HTTP/2 (wanted while draining), but
//! on HTTP/1 it closes an idle connection (not wanted while draining), and
//! before the choice it drops the connection. So the stream is wrapped in
//! [`Sniffed`], which compares the bytes read with the HTTP/2 connection
//! preface on the way, and [`Protocol::is_http2`] tells the connection's
//! driver.
//!
//! Invariant: `is_http2()` turns true during the read that completes the
//! preface, so right after the poll of the connection in which the `auto`
//! builder chose HTTP/2 (it does so in the same poll), and never for a
//! stream whose first bytes differ from the preface (HTTP/1). Only the
//! first bytes are looked at: once decided, a read is passed through.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What an HTTP/2 client sends first (RFC 9113, 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Told apart: the preface was seen whole, or the bytes differed.
const DECIDED: usize = usize::MAX;

/// A TCP stream that watches its first bytes for the HTTP/2 preface.
#[derive(Debug)]
pub(super) struct Sniffed {
    stream: TcpStream,
    /// How many bytes of the preface were read so far, or [`DECIDED`].
    matched: usize,
    http2: Arc<AtomicBool>,
}

/// The driver's view of what [`Sniffed`] saw.
#[derive(Debug)]
pub(super) struct Protocol {
    http2: Arc<AtomicBool>,
}

impl Sniffed {
    pub(super) fn new(stream: TcpStream) -> (Sniffed, Protocol) {
        let http2 = Arc::new(AtomicBool::new(false));
        let protocol = Protocol {
            http2: http2.clone(),
        };
        let sniffed = Sniffed {
            stream,
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
    pub(super) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }
}

impl AsyncRead for Sniffed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if this.matched != DECIDED && matches!(polled, Poll::Ready(Ok(()))) {
            this.look_at(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sniff(chunks: &[&[u8]]) -> bool {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let (mut sniffed, protocol) = Sniffed::new(accepted.unwrap().0);
        let mut client = client.unwrap();
        for chunk in chunks {
            tokio::io::AsyncWriteExt::write_all(&mut client, chunk)
                .await
                .unwrap();
            let mut buf = vec![0; chunk.len()];
            tokio::io::AsyncReadExt::read_exact(&mut sniffed, &mut buf)
                .await
                .unwrap();
        }
        protocol.is_http2()
    }

    #[tokio::test]
    async fn tells_http2_from_http1() {
        assert!(sniff(&[PREFACE]).await);
        assert!(sniff(&[&PREFACE[..3], &PREFACE[3..10], &PREFACE[10..], b"rest"]).await);
        assert!(!sniff(&[&PREFACE[..23]]).await, "not yet");
        assert!(!sniff(&[b"GET / HTTP/1.1\r\n\r\n"]).await);
        assert!(!sniff(&[b"PRI * HTTP/1.1\r\n", b"\r\nSM\r\n\r\n"]).await);
    }
}
