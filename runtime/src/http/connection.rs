//! One HTTP/1.1 keep-alive connection: a TCP stream (no Nagle) driven by hyper's
//! `client::conn::http1` in its own task on the current runtime, and the sender half the engine
//! sends requests through.

use super::error::HttpError;
use super::stream::{HookedStream, StreamHooks};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub type Body = Full<Bytes>;

/// What sending on a connection can lead to.
pub enum SendOutcome {
    Response(Response<Incoming>),
    /// The connection was closed before the request was written: the request comes back
    /// untouched and may be sent on another connection without the target ever seeing it.
    NotSent(Request<Body>),
    Failed(HttpError),
}

#[derive(Debug)]
pub struct Connection {
    sender: SendRequest<Body>,
    hooks: Arc<StreamHooks>,
    driver: JoinHandle<()>,
}

impl Connection {
    /// Opens a connection to `addr` (no timeout here: callers bound it).
    pub async fn open(addr: SocketAddr) -> Result<Connection, HttpError> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|source| HttpError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        // Latency matters more than packet count for a load generator.
        let _ = tcp.set_nodelay(true);
        let hooks = Arc::new(StreamHooks::default());
        let io = TokioIo::new(HookedStream::new(tcp, hooks.clone()));
        let (sender, conn) = http1::Builder::new()
            .handshake::<_, Body>(io)
            .await
            .map_err(HttpError::Handshake)?;
        let driver = tokio::spawn(async move {
            // The connection's end (close, reset, protocol error) shows up on the sender side;
            // nothing to do with it here.
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            hooks,
            driver,
        })
    }

    /// Whether the connection can take another request.
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed() && !self.driver.is_finished()
    }

    pub fn hooks(&self) -> &StreamHooks {
        &self.hooks
    }

    /// Sends a request and waits for the response head.
    pub async fn send(&mut self, req: Request<Body>) -> SendOutcome {
        if let Err(e) = self.sender.ready().await {
            if e.is_closed() || e.is_canceled() {
                return SendOutcome::NotSent(req);
            }
            return SendOutcome::Failed(HttpError::Exchange(e));
        }
        match self.sender.try_send_request(req).await {
            Ok(resp) => SendOutcome::Response(resp),
            Err(mut e) => match e.take_message() {
                Some(req) => SendOutcome::NotSent(req),
                None => SendOutcome::Failed(HttpError::Exchange(e.into_error())),
            },
        }
    }

    /// Starts sending `req` and returns once its bytes are on the wire (or the connection
    /// failed), without waiting for any answer. The connection must be closed afterwards.
    pub async fn send_unanswered(&mut self, req: Request<Body>) {
        if self.sender.ready().await.is_err() {
            return;
        }
        self.hooks.arm();
        let response = self.sender.send_request(req);
        tokio::pin!(response);
        tokio::select! {
            _ = self.hooks.sent() => {}
            // Failed or (unusually fast) answered before the write was observed: either way
            // the request left.
            _ = &mut response => {}
        }
    }

    /// Closes with a FIN.
    pub fn close(self) {
        self.driver.abort();
    }

    /// Closes with a TCP RST (`SO_LINGER 0`).
    pub fn reset(self) {
        self.hooks.reset_on_close();
        self.driver.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
