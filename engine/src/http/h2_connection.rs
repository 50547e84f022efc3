//! One HTTP/2 connection (the `h2` crate, hyper's own HTTP/2 implementation): opened with
//! prior knowledge (h2c) over plain TCP, or over TLS when ALPN agreed on `h2`. Its frames are
//! driven by a task of its own; requests go on it as streams through clones of its
//! `SendRequest` handle, as many at once as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows
//! (h2 queues the rest until a stream ends).

use super::connection::{connect, Response, Want};
use super::error::HttpError;
use super::tls::{note_failure, TlsTarget};
use bytes::{Bytes, BytesMut};
use h2::client::SendRequest;
use std::net::SocketAddr;

/// What to do with a stream once the request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Send {
    /// Read the whole answer.
    Normal,
    /// Cancel the stream without reading (h2 sends RST_STREAM with CANCEL).
    Abort,
    /// Reset the stream (RST_STREAM with INTERNAL_ERROR). HTTP/2 resets a stream, never the
    /// TCP connection, which goes on carrying the other streams.
    Reset,
}

/// Opens a connection to `addr` and the HTTP/2 session over it; for `tls`, the handshake must
/// agree on `h2` by ALPN. The caller bounds the whole with its connect timeout.
pub async fn open(
    addr: SocketAddr,
    tls: Option<&TlsTarget>,
) -> Result<SendRequest<Bytes>, HttpError> {
    let tcp = connect(addr).await?;
    match tls {
        None => handshake(tcp).await,
        Some(tls) => {
            let failed = |source| {
                let e = HttpError::Tls {
                    addr: addr.to_string(),
                    source,
                };
                note_failure(&e);
                e
            };
            let session = tls
                .connector()
                .connect(tls.name(), tcp)
                .await
                .map_err(failed)?;
            if session.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err(failed(std::io::Error::other(
                    "the server did not agree to HTTP/2 (ALPN h2); it may speak HTTP/1.1 only",
                )));
            }
            handshake(session).await
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Bytes>, HttpError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::Builder::new()
        // Large windows: a load generator reads every answer at once, so flow control should
        // never be what holds a response back.
        .initial_window_size(4 << 20)
        .initial_connection_window_size(16 << 20)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(HttpError::Http2)?;
    // The connection's frames are read and written by this task until it ends; its end (the
    // server closed, GOAWAY) shows in the next stream's error.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(send)
}

/// A stream that failed, and whether the server is known not to have processed its request,
/// so that sending it again on another connection cannot make the server see it twice.
#[derive(Debug)]
pub struct H2Failed {
    pub error: h2::Error,
    pub unprocessed: bool,
}

impl H2Failed {
    fn before_sending(error: h2::Error) -> H2Failed {
        H2Failed {
            error,
            unprocessed: true,
        }
    }

    fn after_sending(error: h2::Error) -> H2Failed {
        // RFC 9113 §6.8: a graceful GOAWAY (NO_ERROR) errors only the streams above its last
        // stream id, which the server did not process; §8.7: nor did it process a stream it
        // refused. Servers close connections this way routinely (nginx after
        // `keepalive_requests`, 1,000 streams by default). A GOAWAY with an error code fails
        // processed and unprocessed streams alike, so those stay errors.
        let unprocessed = error.is_remote()
            && ((error.is_go_away() && error.reason() == Some(h2::Reason::NO_ERROR))
                || (error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM)));
        H2Failed { error, unprocessed }
    }

    /// Whether the connection itself is gone or going (not just this stream): the next stream
    /// needs another.
    pub fn connection_lost(&self) -> bool {
        !self.error.is_reset() || self.error.is_go_away()
    }
}

/// Sends `request` with `body` as a new stream and, for [`H2Send::Normal`], reads the answer
/// (its headers and body only when `want` asks). `None` for an abort or reset. The caller
/// bounds it with the answer's deadline.
pub async fn round_trip(
    send: SendRequest<Bytes>,
    request: http::Request<()>,
    body: Bytes,
    how: H2Send,
    want: Want,
) -> Result<Option<Response>, H2Failed> {
    let mut send = send.ready().await.map_err(H2Failed::before_sending)?;
    let (answer, mut stream) = send
        .send_request(request, body.is_empty())
        .map_err(H2Failed::before_sending)?;
    if !body.is_empty() {
        // h2 buffers what the flow-control window does not take yet.
        stream
            .send_data(body, true)
            .map_err(H2Failed::after_sending)?;
    }
    match how {
        H2Send::Normal => {}
        // Dropping every handle of an open stream makes h2 cancel it.
        H2Send::Abort => return Ok(None),
        H2Send::Reset => {
            stream.send_reset(h2::Reason::INTERNAL_ERROR);
            return Ok(None);
        }
    }
    let answer = answer.await.map_err(H2Failed::after_sending)?;
    let (parts, mut recv) = answer.into_parts();
    let mut collected = BytesMut::new();
    let mut body_bytes = 0u64;
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(H2Failed::after_sending)?;
        body_bytes += chunk.len() as u64;
        let _ = recv.flow_control().release_capacity(chunk.len());
        if want.body {
            collected.extend_from_slice(&chunk);
        }
    }
    Ok(Some(Response {
        status: parts.status.as_u16(),
        headers: want.headers.then(|| Box::new(parts.headers)),
        body: collected.freeze(),
        body_bytes,
    }))
}
