//! The byte stream under a connection: a plain TCP socket, or a TLS session over one. An enum
//! rather than a trait object, so plain HTTP pays one predictable branch per operation and no
//! virtual call or allocation; the TLS session is boxed (it is large, and opened once per
//! connection) so that plain connections stay small.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

#[derive(Debug)]
pub(super) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The TCP socket (under the TLS session, if any).
    pub(super) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }

    /// Writes all of `buf` (for TLS: encrypted and flushed to the socket).
    pub(super) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => write_all_plain(s, buf).await,
            Stream::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
        }
    }

    /// Reads what is available into `buf`, waiting if nothing is. 0 at end of stream.
    pub(super) async fn read_buf(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            // Through `AsyncRead` rather than `try_read`: a short read tells the runtime the
            // socket is drained, so the next idle check and the next answer's first read cost
            // no system call.
            Stream::Plain(s) => s.read_buf(buf).await,
            Stream::Tls(s) => match s.read_buf(buf).await {
                // A close without TLS close_notify, as many servers do: an end of stream like
                // any other (whether an answer was complete is judged by its framing).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                // TLS 1.3 ends the client's handshake before the server checks it, so a server
                // refusing the client certificate (or the lack of one) says so only here, as an
                // alert: told like a failed handshake.
                Err(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => {
                    super::tls::note_failure(&e);
                    Err(e)
                }
                other => other,
            },
        }
    }

    /// Whether a stream with no answer due has nothing to read and is not closed. For plain
    /// TCP this costs no system call unless the runtime saw the socket turn readable. For TLS
    /// the session is polled once: records that carry no data (a TLS 1.3 session ticket sent
    /// after the handshake) are consumed, and a close or an alert shows as not idle.
    pub(super) async fn is_idle(&mut self) -> bool {
        let mut probe = [0u8; 1];
        match self {
            Stream::Plain(s) => {
                matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(s) => {
                poll_fn(|cx| {
                    let mut buf = ReadBuf::new(&mut probe);
                    Poll::Ready(Pin::new(&mut **s).poll_read(cx, &mut buf).is_pending())
                })
                .await
            }
        }
    }
}

/// Writes all of `buf`, waiting for the socket when its send buffer is full. A direct write
/// first: the usual case is one system call and no waker registration.
async fn write_all_plain(stream: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
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
