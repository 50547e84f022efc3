//! Transport failures of one exchange, and the error class each one is counted under.

use crate::record::ErrorClass;
use std::io;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (certificate, protocol, alert, or the connection ended).
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The DNS answer holds no address the target allow-list allows: nothing is connected.
    #[error("{0}")]
    Refused(crate::target_policy::Refusal),
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("no complete answer within the timeout")]
    Timeout,
    /// The server closed the connection before its answer was complete (or before any).
    #[error("connection closed before the answer was complete")]
    Closed,
    /// Reading or writing the connection failed.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The server's answer is not valid HTTP/1.x.
    #[error("invalid response: {0}")]
    Protocol(ProtocolError),
    /// An HTTP/2 stream or connection failed: reset by the server, GOAWAY, the connection
    /// lost, or a protocol error.
    #[error("HTTP/2: {0}")]
    Http2(#[source] h2::Error),
    /// The request could not be made into an HTTP/2 request (a client-side failure).
    #[error("HTTP/2 request: {0}")]
    H2Request(#[source] super::h2_request::H2RequestError),
}

/// What was wrong with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProtocolError {
    #[error("malformed response head")]
    Head,
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("more than {0} response headers")]
    TooManyHeaders(usize),
    #[error("invalid or conflicting content-length")]
    ContentLength,
    #[error("transfer-encoding in an HTTP/1.0 response")]
    TransferEncoding,
    #[error("malformed chunked body")]
    Chunk,
}

impl HttpError {
    /// The class this failure is counted under.
    pub fn class(&self) -> ErrorClass {
        match self {
            HttpError::Resolve { .. }
            | HttpError::Refused(_)
            | HttpError::Connect { .. }
            | HttpError::ConnectTimeout => ErrorClass::Connect,
            HttpError::Tls { .. } => ErrorClass::Tls,
            HttpError::Timeout => ErrorClass::Timeout,
            HttpError::Closed => ErrorClass::Reset,
            HttpError::Io(e) => io_class(e),
            HttpError::Protocol(_) => ErrorClass::Io,
            HttpError::Http2(e) => h2_class(e),
            HttpError::H2Request(_) => ErrorClass::Io,
        }
    }
}

/// A stream the server reset is `reset`; a GOAWAY or a lost connection is `io` (or what its
/// I/O error says); anything else (a protocol error) is `io`.
fn h2_class(e: &h2::Error) -> ErrorClass {
    if e.is_reset() && e.is_remote() && !e.is_go_away() {
        return ErrorClass::Reset;
    }
    match e.get_io() {
        Some(io) => match io_class(io) {
            ErrorClass::Reset => ErrorClass::Io,
            other => other,
        },
        None => ErrorClass::Io,
    }
}

fn io_class(e: &io::Error) -> ErrorClass {
    // A TLS session's failure (a bad record, an alert from the server) carries rustls' error.
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return ErrorClass::Tls;
    }
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ErrorClass::Reset,
        io::ErrorKind::TimedOut => ErrorClass::Timeout,
        _ => ErrorClass::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_failure() {
        let io = |k| HttpError::Io(io::Error::from(k));
        assert_eq!(
            io(io::ErrorKind::ConnectionReset).class(),
            ErrorClass::Reset
        );
        assert_eq!(io(io::ErrorKind::BrokenPipe).class(), ErrorClass::Reset);
        assert_eq!(io(io::ErrorKind::TimedOut).class(), ErrorClass::Timeout);
        assert_eq!(io(io::ErrorKind::Other).class(), ErrorClass::Io);
        assert_eq!(HttpError::Closed.class(), ErrorClass::Reset);
        assert_eq!(HttpError::Timeout.class(), ErrorClass::Timeout);
        assert_eq!(HttpError::ConnectTimeout.class(), ErrorClass::Connect);
        assert_eq!(
            HttpError::Protocol(ProtocolError::Chunk).class(),
            ErrorClass::Io
        );
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::BadRecordMac);
        assert_eq!(
            HttpError::Io(io::Error::new(io::ErrorKind::InvalidData, alert)).class(),
            ErrorClass::Tls
        );
        let handshake = HttpError::Tls {
            addr: "127.0.0.1:443".into(),
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        };
        assert_eq!(handshake.class(), ErrorClass::Tls);
        let reset = h2::Error::from(h2::Reason::REFUSED_STREAM);
        assert_eq!(
            HttpError::Http2(reset).class(),
            ErrorClass::Io,
            "a local reason"
        );
    }
}
