//! The TCP stream under every connection, with two small hooks the failure injection needs and
//! that cost one relaxed load per write otherwise: a watch that reports when a request has been
//! written and flushed (to abort right after sending), and a reset-on-close flag that closes
//! with `SO_LINGER 0` so the kernel sends a TCP RST instead of a FIN.

use socket2::SockRef;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

const IDLE: u8 = 0;
/// Armed: waiting for the next request's bytes.
const ARMED: u8 = 1;
/// Bytes were written since arming.
const WRITTEN: u8 = 2;
/// A flush followed the write: the request is on the wire.
const FLUSHED: u8 = 3;

/// State shared between a connection's owner and the stream inside hyper's driver task.
#[derive(Debug, Default)]
pub struct StreamHooks {
    watch: AtomicU8,
    sent: Notify,
    reset_on_close: AtomicBool,
}

impl StreamHooks {
    /// Starts watching for the next request to be written. Call before handing it to hyper.
    pub fn arm(&self) {
        self.watch.store(ARMED, Ordering::Release);
    }

    /// Resolves once the armed request has been written and flushed.
    pub async fn sent(&self) {
        loop {
            let notified = self.sent.notified();
            if self.watch.load(Ordering::Acquire) == FLUSHED {
                self.watch.store(IDLE, Ordering::Release);
                return;
            }
            notified.await;
        }
    }

    /// The stream will close with a TCP RST when it is dropped.
    pub fn reset_on_close(&self) {
        self.reset_on_close.store(true, Ordering::Release);
    }
}

/// A `TcpStream` with [`StreamHooks`].
#[derive(Debug)]
pub struct HookedStream {
    inner: TcpStream,
    hooks: Arc<StreamHooks>,
}

impl HookedStream {
    pub fn new(inner: TcpStream, hooks: Arc<StreamHooks>) -> HookedStream {
        HookedStream { inner, hooks }
    }

    fn wrote(&self, n: usize) {
        if n > 0 && self.hooks.watch.load(Ordering::Relaxed) == ARMED {
            self.hooks.watch.store(WRITTEN, Ordering::Release);
        }
    }
}

impl Drop for HookedStream {
    fn drop(&mut self) {
        if self.hooks.reset_on_close.load(Ordering::Acquire) {
            // Best effort: if it fails the close is an ordinary FIN, which is still a close.
            let _ = SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for HookedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for HookedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.wrote(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        if r.is_ready() && self.hooks.watch.load(Ordering::Relaxed) == WRITTEN {
            self.hooks.watch.store(FLUSHED, Ordering::Release);
            self.hooks.sent.notify_waiters();
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
