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
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[source] hyper::Error),
    #[error("no complete answer within the timeout")]
    Timeout,
    #[error("{0}")]
    Exchange(#[source] hyper::Error),
}

impl HttpError {
    /// The class this failure is counted under.
    pub fn class(&self) -> ErrorClass {
        match self {
            HttpError::Resolve { .. } | HttpError::Connect { .. } | HttpError::ConnectTimeout => {
                ErrorClass::Connect
            }
            HttpError::Handshake(_) => ErrorClass::Connect,
            HttpError::Timeout => ErrorClass::Timeout,
            HttpError::Exchange(e) => classify(e),
        }
    }
}

/// A hyper failure after the request was handed to a connection.
fn classify(e: &hyper::Error) -> ErrorClass {
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return ErrorClass::Reset;
    }
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => ErrorClass::Reset,
                io::ErrorKind::TimedOut => ErrorClass::Timeout,
                _ => ErrorClass::Io,
            };
        }
        source = s.source();
    }
    ErrorClass::Io
}
