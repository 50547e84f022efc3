//! One HTTP/1.1 keep-alive connection, driven inside the task that sends on it: the request
//! bytes go out in one write, the answer is parsed off the bytes as they arrive, and the
//! deadline is checked alongside. No second task, channel or per-request timer is involved,
//! so an exchange costs one write, the reads the answer needs, and one wakeup.
//!
//! A connection the server closed while it sat idle is noticed before the request is written
//! (the socket reports readable with nothing to read), so that request can go on a fresh
//! connection without the target ever having seen it.

use super::body::BodyDecoder;
use super::deadline::Deadline;
use super::error::HttpError;
use super::response::{self, Framing};
use bytes::Bytes;
use http::HeaderMap;
use socket2::SockRef;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::net::TcpStream;

/// Receive buffer size to start with; it grows for larger answers.
const INBOX: usize = 4096;

/// What the caller needs from an answer besides its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    pub headers: bool,
    pub body: bool,
}

/// An answer: `headers` and `body` are only there when asked for.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Option<Box<HeaderMap>>,
    pub body: Bytes,
}

/// What sending on a connection can lead to.
#[derive(Debug)]
pub enum SendOutcome {
    Response(Response),
    /// The connection was found closed before the request was written: it may go on another
    /// connection without the target ever seeing it.
    NotSent,
    Failed(HttpError),
}

#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    inbox: Inbox,
    deadline: Deadline,
    /// False once the connection cannot carry another request.
    reusable: bool,
    fresh: bool,
}

impl Connection {
    /// Opens a connection to `addr` (no timeout here: callers bound it).
    pub async fn open(addr: SocketAddr) -> Result<Connection, HttpError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| HttpError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        // Latency matters more than packet count for a load generator.
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            inbox: Inbox::default(),
            deadline: Deadline::default(),
            reusable: true,
            fresh: true,
        })
    }

    /// Whether the connection can take another request.
    pub fn is_open(&self) -> bool {
        self.reusable
    }

    /// Whether no request was sent on this connection yet.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Sends `request` (in wire form) and reads the answer, all before `deadline`.
    /// `head_request`: the request is a HEAD (its answer has no body).
    pub async fn send(
        &mut self,
        request: &[u8],
        head_request: bool,
        want: Want,
        deadline: tokio::time::Instant,
    ) -> SendOutcome {
        if !self.still_open() {
            self.reusable = false;
            return SendOutcome::NotSent;
        }
        self.deadline.arm(deadline);
        self.fresh = false;
        let Connection {
            stream,
            inbox,
            deadline,
            reusable,
            ..
        } = self;
        // Unknown state until the answer is complete.
        *reusable = false;
        let mut exchange = pin!(round_trip(stream, inbox, request, head_request, want));
        let result = poll_fn(|cx| {
            if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            deadline.poll_expired(cx).map(|()| Err(HttpError::Timeout))
        })
        .await;
        match result {
            Ok((response, keep_alive)) => {
                *reusable = keep_alive;
                SendOutcome::Response(response)
            }
            Err(e) => SendOutcome::Failed(e),
        }
    }

    /// Writes `request` before `deadline` without waiting for any answer. The connection must
    /// be closed afterwards.
    pub async fn send_unanswered(&mut self, request: &[u8], deadline: tokio::time::Instant) {
        if !self.still_open() {
            return;
        }
        self.reusable = false;
        self.fresh = false;
        let _ = tokio::time::timeout_at(deadline, write_all(&self.stream, request)).await;
    }

    /// Closes with a FIN.
    pub fn close(self) {}

    /// Closes with a TCP RST (`SO_LINGER 0`).
    pub fn reset(self) {
        // Best effort: if it fails the close is an ordinary FIN, which is still a close.
        let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// Whether an idle connection is still usable: a socket that has something to read while
    /// no answer is due was closed or reset by the server (or it sent something unasked).
    /// Costs no system call unless the runtime saw the socket turn readable.
    fn still_open(&mut self) -> bool {
        if !self.reusable || !self.inbox.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// Writes all of `buf`, waiting for the socket when its send buffer is full. A direct write
/// first: the usual case is one system call and no waker registration.
async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match stream.try_write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            // Boxed: a full send buffer is rare, and the readiness future is large.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Box::pin(stream.writable()).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes the request and reads one complete answer. Returns it and whether the connection
/// may carry another request.
async fn round_trip(
    stream: &mut TcpStream,
    inbox: &mut Inbox,
    request: &[u8],
    head_request: bool,
    want: Want,
) -> Result<(Response, bool), HttpError> {
    write_all(stream, request).await.map_err(HttpError::Io)?;
    let head = loop {
        if !inbox.is_empty() {
            if let Some(h) = response::parse(inbox.pending(), head_request, want.headers)? {
                inbox.consume(h.len);
                if h.is_interim() {
                    continue;
                }
                break h;
            }
        }
        if inbox.fill(stream).await? == 0 {
            return Err(HttpError::Closed);
        }
    };
    let mut keep_alive = head.keep_alive;
    let mut body = Vec::new();
    if head.framing != Framing::Empty {
        let mut decoder = BodyDecoder::new(head.framing);
        loop {
            let sink = if want.body { Some(&mut body) } else { None };
            let n = decoder.decode(inbox.pending(), sink)?;
            inbox.consume(n);
            if decoder.is_done() {
                break;
            }
            if inbox.fill(stream).await? == 0 {
                decoder.finish_at_eof()?;
                keep_alive = false;
                break;
            }
        }
    }
    // Bytes beyond this answer were never asked for: the connection is out of step.
    if !inbox.is_empty() {
        keep_alive = false;
    }
    Ok((
        Response {
            status: head.status,
            headers: head.headers,
            body: Bytes::from(body),
        },
        keep_alive,
    ))
}

/// Received bytes not consumed yet: `buf[start..]`.
#[derive(Debug, Default)]
struct Inbox {
    buf: Vec<u8>,
    start: usize,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Reads what the socket has (waiting for it if nothing). 0 at end of stream.
    async fn fill(&mut self, stream: &mut TcpStream) -> Result<usize, HttpError> {
        if self.buf.capacity() - self.buf.len() < INBOX / 4 {
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.reserve(INBOX.max(self.buf.len()));
        }
        // Through `AsyncRead` rather than `try_read`: a short read tells the runtime the
        // socket is drained, so the next idle check and the next answer's first read cost
        // no system call.
        tokio::io::AsyncReadExt::read_buf(stream, &mut self.buf)
            .await
            .map_err(HttpError::Io)
    }
}

#[cfg(test)]
mod tests;
