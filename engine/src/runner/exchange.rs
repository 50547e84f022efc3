//! One HTTP exchange on a leased pool slot: connect if the slot has no open connection, send,
//! read the answer within the timeout. Also the two injected variants that send and then close
//! without reading (abort, reset). For an HTTP/2 pool the exchange is a stream instead
//! ([`perform_h2`]): abort cancels the stream, reset sends RST_STREAM, neither closes the
//! connection.

use super::timeline::after;
use crate::http::h2_connection::H2Send;
use crate::http::{HttpError, Lease, SendOutcome, Want};
use bytes::Bytes;
use http::HeaderMap;
use std::time::{Duration, Instant};

/// How a request is sent: read the answer, or (injected faults) close or reset right after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
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
        /// Only when asked for.
        headers: Option<Box<HeaderMap>>,
        /// Empty unless asked for (it was read and discarded).
        body: Bytes,
        /// Bytes of the body as received, read or not.
        body_bytes: u64,
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

/// Performs one exchange of the request written in the lease's buffer (`head_request`: it is
/// a HEAD). Never panics and never waits longer than the connect timeout plus `timeout`.
pub async fn perform(
    mut lease: Lease,
    head_request: bool,
    how: SendMode,
    timeout: Duration,
    want: Want,
) -> Exchanged {
    if lease.is_h2() {
        // Boxed: the HTTP/1.1 future stays as it was.
        return Box::pin(perform_h2(lease, how, timeout, want)).await;
    }
    if let Err(e) = lease.connection().await {
        return failed(e, None);
    }
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(after(sent, timeout));
    match how {
        SendMode::Normal => {}
        // Boxed: injected faults are the exception, and their timeout would otherwise widen
        // every request's future.
        SendMode::Abort | SendMode::Reset => {
            return Box::pin(unanswered(lease, how, sent, deadline)).await
        }
    }
    let answer = match exchange(&mut lease, head_request, want, deadline).await {
        Ok(r) => Answer::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            body_bytes: r.body_bytes,
        },
        Err(e) => {
            // A failed or abandoned exchange leaves the connection in an unknown state.
            lease.discard();
            Answer::Failed(e)
        }
    };
    Exchanged {
        answer,
        sent: Some(sent),
        done: Instant::now(),
    }
}

/// [`perform`] for HTTP/2: the request goes as a stream on one of the pool's connections; the
/// send time is when the stream is handed to that connection. A timeout drops the stream,
/// which h2 cancels.
async fn perform_h2(lease: Lease, how: SendMode, timeout: Duration, want: Want) -> Exchanged {
    let (at, sender) = match lease.h2_sender(None).await {
        Ok(s) => s,
        Err(e) => return failed(e, None),
    };
    let sent = Instant::now();
    let deadline = tokio::time::Instant::from_std(after(sent, timeout));
    let how = match how {
        SendMode::Normal => H2Send::Normal,
        SendMode::Abort => H2Send::Abort,
        SendMode::Reset => H2Send::Reset,
    };
    let answer = match tokio::time::timeout_at(deadline, lease.h2_send(at, sender, how, want)).await
    {
        Ok(Ok(Some(r))) => Answer::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
            body_bytes: r.body_bytes,
        },
        Ok(Ok(None)) => Answer::Unanswered,
        Ok(Err(e)) => Answer::Failed(e),
        Err(_) => Answer::Failed(HttpError::Timeout),
    };
    Exchanged {
        answer,
        sent: Some(sent),
        done: Instant::now(),
    }
}

async fn unanswered(
    mut lease: Lease,
    how: SendMode,
    sent: Instant,
    deadline: tokio::time::Instant,
) -> Exchanged {
    lease.send_unanswered(deadline).await;
    if let Some(conn) = lease.take() {
        if how == SendMode::Reset {
            conn.reset();
        } else {
            conn.close();
        }
    }
    Exchanged {
        answer: Answer::Unanswered,
        sent: Some(sent),
        done: Instant::now(),
    }
}

async fn exchange(
    lease: &mut Lease,
    head: bool,
    want: Want,
    deadline: tokio::time::Instant,
) -> Result<crate::http::Response, HttpError> {
    let mut retry = false;
    loop {
        let conn = if retry {
            // The retry's connect counts against the answer's deadline too (boxed, as rare).
            match Box::pin(tokio::time::timeout_at(deadline, lease.connection())).await {
                Ok(c) => c?,
                Err(_) => return Err(HttpError::Timeout),
            }
        } else {
            lease.connection().await?
        };
        let fresh = conn.is_fresh();
        match lease.send(head, want, deadline).await {
            SendOutcome::Response(r) => return Ok(r),
            // A kept-alive connection the server had closed: the request never left, so it
            // goes on another connection and nobody counts an error.
            SendOutcome::NotSent if !fresh => {
                lease.discard();
                retry = true;
            }
            SendOutcome::NotSent => {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Endpoint, Pool};
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers one request per connection and then closes it, without saying
    /// so in the answer (as a server whose keep-alive timeout ran out would).
    async fn one_answer_per_connection() -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (conns, reqs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, r) = (conns.clone(), reqs.clone());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                }
            }
        });
        (port, conns, reqs)
    }

    async fn get(pool: &Rc<Pool>) -> Exchanged {
        let mut lease = pool.try_lease().expect("a free slot");
        lease
            .request_buf()
            .extend_from_slice(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
        perform(
            lease,
            false,
            SendMode::Normal,
            Duration::from_secs(5),
            Want::default(),
        )
        .await
    }

    #[tokio::test]
    async fn a_request_finding_its_kept_alive_connection_closed_goes_on_a_new_one() {
        let (port, conns, reqs) = one_answer_per_connection().await;
        let pool = Pool::new(Endpoint::new("127.0.0.1", port), 1, Duration::from_secs(5));
        for round in 0..3 {
            let done = get(&pool).await;
            assert!(
                matches!(done.answer, Answer::Response { status: 200, .. }),
                "round {round}"
            );
            assert!(done.sent.is_some());
            // Lets the runtime see the server's close before the next request.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            reqs.load(Ordering::SeqCst),
            3,
            "each request reached it once"
        );
        assert_eq!(
            conns.load(Ordering::SeqCst),
            3,
            "one connection per request"
        );
    }
}
