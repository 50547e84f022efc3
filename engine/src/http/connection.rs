//! One HTTP/1.1 keep-alive connection (plain or over TLS), driven inside the task that sends
//! on it: the request
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
use super::stream::Stream;
use super::tls::TlsTarget;
use bytes::Bytes;
use http::HeaderMap;
use socket2::SockRef;
use std::future::{poll_fn, Future};
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
    /// Bytes of the body as received (with any chunked framing), read or not.
    pub body_bytes: u64,
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
    stream: Stream,
    inbox: Inbox,
    deadline: Deadline,
    /// False once the connection cannot carry another request.
    reusable: bool,
    fresh: bool,
}

impl Connection {
    /// Opens a connection to `addr` (no timeout here: callers bound it).
    pub async fn open(addr: SocketAddr) -> Result<Connection, HttpError> {
        Ok(Connection::on(Stream::Plain(connect(addr).await?)))
    }

    /// Opens a connection to `addr` and a TLS session over it. Callers bound the whole with
    /// their connect timeout, which ends at `deadline`: a handshake still going then fails as
    /// TLS, so a server that accepts connections but never finishes handshakes is told apart
    /// from one that cannot be reached.
    pub async fn open_tls(
        addr: SocketAddr,
        tls: &TlsTarget,
        deadline: tokio::time::Instant,
    ) -> Result<Connection, HttpError> {
        let tcp = connect(addr).await?;
        let failed = |source| {
            let e = HttpError::Tls {
                addr: addr.to_string(),
                source,
            };
            super::tls::note_failure(&e);
            e
        };
        let handshake = tls.connector().connect(tls.name(), tcp);
        let session = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => {
                return Err(failed(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no handshake within the connect timeout",
                )))
            }
        };
        Ok(Connection::on(Stream::Tls(Box::new(session))))
    }

    fn on(stream: Stream) -> Connection {
        Connection {
            stream,
            inbox: Inbox::default(),
            deadline: Deadline::default(),
            reusable: true,
            fresh: true,
        }
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
        if !self.still_open().await {
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
        if !self.still_open().await {
            return;
        }
        self.reusable = false;
        self.fresh = false;
        let _ = tokio::time::timeout_at(deadline, self.stream.write_all(request)).await;
    }

    /// Closes with a FIN.
    pub fn close(self) {}

    /// Closes with a TCP RST (`SO_LINGER 0`), under the TLS session if there is one (no
    /// close_notify is sent).
    pub fn reset(self) {
        // Best effort: if it fails the close is an ordinary FIN, which is still a close.
        let _ = SockRef::from(self.stream.tcp()).set_linger(Some(Duration::ZERO));
    }

    /// Whether an idle connection is still usable: a socket that has something to read while
    /// no answer is due was closed or reset by the server (or it sent something unasked).
    /// See [`Stream::is_idle`] for what it costs.
    async fn still_open(&mut self) -> bool {
        if !self.reusable || !self.inbox.is_empty() {
            return false;
        }
        self.stream.is_idle().await
    }
}

pub(super) async fn connect(addr: SocketAddr) -> Result<TcpStream, HttpError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HttpError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    // Latency matters more than packet count for a load generator.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Writes the request and reads one complete answer. Returns it and whether the connection
/// may carry another request.
async fn round_trip(
    stream: &mut Stream,
    inbox: &mut Inbox,
    request: &[u8],
    head_request: bool,
    want: Want,
) -> Result<(Response, bool), HttpError> {
    stream.write_all(request).await.map_err(HttpError::Io)?;
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
    let mut body_bytes = 0u64;
    if head.framing != Framing::Empty {
        let mut decoder = BodyDecoder::new(head.framing);
        loop {
            let sink = if want.body { Some(&mut body) } else { None };
            let n = decoder.decode(inbox.pending(), sink)?;
            inbox.consume(n);
            body_bytes += n as u64;
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
            body_bytes,
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
    async fn fill(&mut self, stream: &mut Stream) -> Result<usize, HttpError> {
        if self.buf.capacity() - self.buf.len() < INBOX / 4 {
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.reserve(INBOX.max(self.buf.len()));
        }
        stream.read_buf(&mut self.buf).await.map_err(HttpError::Io)
    }
}

#[cfg(test)]
mod tests;
