//! One HTTP exchange on a leased pool slot: connect if the slot has no open connection, send,
//! read the answer within the timeout. Also the two injected
//! variants that send and then close without reading (abort, reset).

use super::timeline::after;
use crate::http::{Body, HttpError, Lease, SendOutcome};
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::Request;
use std::time::{Duration, Instant};

/// How to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// Send and read the whole answer.
    Normal,
    /// Send, then close the connection (FIN) without reading.
    Abort,
    /// Send, then reset the connection (RST) without reading.
    Reset,
}

pub enum Answer {
    Response {
        status: u16,
        headers: HeaderMap,
        /// Empty when the body was not needed (it was read and discarded).
        body: Bytes,
    },
    /// Sent on purpose without reading the answer.
    Unanswered,
    Failed(HttpError),
}

pub struct Exchanged {
    pub answer: Answer,
    /// When the request was handed to an open connection (`None` if none could be had).
    pub sent: Option<Instant>,
    pub done: Instant,
}

fn failed(e: HttpError, sent: Option<Instant>) -> Exchanged {
    Exchanged {
        answer: Answer::Failed(e),
        sent,
        done: Instant::now(),
    }
}

/// Performs one exchange. Never panics and never waits longer than the connect timeout plus
/// `timeout`.
pub async fn perform(
    mut lease: Lease,
    req: Request<Body>,
    how: Send,
    timeout: Duration,
    read_body: bool,
) -> Exchanged {
    if let Err(e) = lease.connection().await {
        return failed(e, None);
    }
    let sent = Instant::now();
    match how {
        Send::Normal => {}
        Send::Abort | Send::Reset => {
            if let Ok(conn) = lease.connection().await {
                let _ = tokio::time::timeout(timeout, conn.send_unanswered(req)).await;
            }
            if let Some(conn) = lease.take() {
                if how == Send::Reset {
                    conn.reset();
                } else {
                    conn.close();
                }
            }
            return Exchanged {
                answer: Answer::Unanswered,
                sent: Some(sent),
                done: Instant::now(),
            };
        }
    }
    let deadline = tokio::time::Instant::from_std(after(sent, timeout));
    let outcome = tokio::time::timeout_at(deadline, exchange(&mut lease, req, read_body)).await;
    let answer = match outcome {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            lease.discard();
            Answer::Failed(e)
        }
        Err(_) => {
            // The abandoned request leaves the connection in an unknown state.
            lease.discard();
            Answer::Failed(HttpError::Timeout)
        }
    };
    Exchanged {
        answer,
        sent: Some(sent),
        done: Instant::now(),
    }
}

async fn exchange(
    lease: &mut Lease,
    req: Request<Body>,
    read_body: bool,
) -> Result<Answer, HttpError> {
    let mut req = req;
    let mut fresh = false;
    let response = loop {
        let conn = if fresh {
            lease.reconnect().await?
        } else {
            lease.connection().await?
        };
        match conn.send(req).await {
            SendOutcome::Response(r) => break r,
            // A kept-alive connection the server had closed: the request never left, so it
            // goes once more on a new connection and nobody counts an error.
            SendOutcome::NotSent(r) if !fresh => {
                req = r;
                fresh = true;
            }
            SendOutcome::NotSent(_) => {
                return Err(HttpError::Connect {
                    addr: "target".into(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "closed before sending",
                    ),
                })
            }
            SendOutcome::Failed(e) => return Err(e),
        }
    };
    let (parts, mut body) = response.into_parts();
    let bytes = if read_body {
        body.collect()
            .await
            .map_err(HttpError::Exchange)?
            .to_bytes()
    } else {
        while let Some(frame) = body.frame().await {
            frame.map_err(HttpError::Exchange)?;
        }
        Bytes::new()
    };
    Ok(Answer::Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: bytes,
    })
}
