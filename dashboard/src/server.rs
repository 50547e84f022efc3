//! Binding, accepting and shutting down: one HTTP/1.1 connection task per client (over TLS when
//! the config has a [`ServerTls`]: the handshake runs in that task, bounded like a request head)
//! serving the
//! [`routes`] (the page, `/events`, the runs API, control, starting stored plans when given a
//! [`PlanLauncher`], `/metrics`). Looking needs a viewer or operator token unless viewing is
//! open; control and starting runs need the operator token (401 otherwise).
//!
//! One [`CancellationToken`] stops a server: the accept loop, every connection (a
//! [`TaskTracker`] waits for them) and every event stream.

use crate::access::Access;
use crate::error::DashboardError;
use crate::hub::Hub;
use crate::launch::PlanLauncher;
use crate::routes::{self, Ctx};
use crate::sse::Streams;
use crate::tls::{ServerTls, HANDSHAKE_RECORD};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Pause after a failed accept (out of file descriptors, say) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// After the stop, requests in flight get this long to finish before their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// What a plain-HTTP request to the HTTPS port is told, instead of a connection closed without
/// a word.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
connection: close\r\ncontent-length: 52\r\n\r\nThis dashboard speaks HTTPS: use an https:// address.\n";
/// At most this much of a plain-HTTP request is read (and dropped) before its connection closes.
const PLAIN_HTTP_DRAIN: usize = 16 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; loopback unless the operator says otherwise.
    pub addr: SocketAddr,
    pub access: Access,
    pub limits: Limits,
    /// Serve HTTPS with this identity; plain HTTP without.
    pub tls: Option<ServerTls>,
}

impl Default for ServerConfig {
    /// 127.0.0.1 on a port the system picks, no tokens, the default limits, plain HTTP.
    fn default() -> ServerConfig {
        ServerConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            access: Access::default(),
            limits: Limits::default(),
            tls: None,
        }
    }
}

/// How long the server waits on a client. (The body cap is [`routes::MAX_BODY`], the cap on
/// event streams [`crate::sse::MAX_EVENT_STREAMS`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection that has not sent a whole request head this long after it opened (or after
    /// its last answer, when kept alive) is closed: a client sending its head a byte at a time,
    /// or holding connections open without a request, holds none for long. Under TLS the
    /// handshake gets this long too (then the first head its own).
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// A running dashboard server; dropping it stops it as [`DashboardServer::shutdown`] does,
/// without waiting.
pub struct DashboardServer {
    addr: SocketAddr,
    /// Served over TLS.
    secure: bool,
    stop: CancellationToken,
    /// Cuts the connections still open after the grace period.
    cut: CancellationToken,
    tasks: TaskTracker,
    _stop_on_drop: DropGuard,
}

impl DashboardServer {
    /// The address it listens on (the port chosen, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Stops accepting, ends the event streams (after the events already published) and
    /// lets requests in progress finish (for [`SHUTDOWN_GRACE`] at most).
    pub async fn shutdown(self) {
        self.stop.cancel();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            self.cut.cancel();
            self.tasks.wait().await;
        }
    }
}

/// Binds and starts serving on the current tokio runtime.
pub async fn serve(hub: Arc<Hub>, config: ServerConfig) -> Result<DashboardServer, DashboardError> {
    serve_with(hub, config, None).await
}

/// [`serve`], offering the launcher's plans to start (`GET /api/plans`, `POST /api/runs`).
pub async fn serve_with(
    hub: Arc<Hub>,
    config: ServerConfig,
    launcher: Option<Arc<dyn PlanLauncher>>,
) -> Result<DashboardServer, DashboardError> {
    serve_until(hub, config, launcher, CancellationToken::new()).await
}

/// [`serve_with`], stopping also when `stop` is cancelled (a child of the caller's token).
pub async fn serve_until(
    hub: Arc<Hub>,
    config: ServerConfig,
    launcher: Option<Arc<dyn PlanLauncher>>,
    stop: CancellationToken,
) -> Result<DashboardServer, DashboardError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| DashboardError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(DashboardError::LocalAddr)?;
    let secure = config.tls.is_some();
    let ctx = Ctx {
        hub,
        access: Arc::new(config.access),
        launcher,
        streams: Streams::new(stop.clone()),
        secure,
    };
    let server = Server {
        app: routes::app(ctx),
        limits: config.limits,
        tls: config.tls,
        stop: stop.clone(),
        cut: CancellationToken::new(),
        tasks: TaskTracker::new(),
    };
    let running = DashboardServer {
        addr,
        secure,
        stop: stop.clone(),
        cut: server.cut.clone(),
        tasks: server.tasks.clone(),
        _stop_on_drop: stop.drop_guard(),
    };
    server.tasks.clone().spawn(server.accept(listener));
    // Closed at once: `wait` returns when the accept loop and every connection it spawned ended.
    running.tasks.close();
    Ok(running)
}

/// What the accept loop and the connection tasks share.
#[derive(Clone)]
struct Server {
    app: routes::App,
    limits: Limits,
    tls: Option<ServerTls>,
    stop: CancellationToken,
    cut: CancellationToken,
    tasks: TaskTracker,
}

impl Server {
    async fn accept(self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = self.stop.cancelled() => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    self.tasks.spawn(self.clone().connection(stream));
                }
                // One client gave up between connecting and being accepted: nothing to wait for.
                Err(e) if per_connection(&e) => {}
                // Out of descriptors or memory: accepting again at once would spin a core.
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        _ = self.stop.cancelled() => return,
                    }
                }
            }
        }
    }

    async fn connection(self, stream: TcpStream) {
        // Events are small writes the browser should see at once.
        let _ = stream.set_nodelay(true);
        let Some(tls) = self.tls.clone() else {
            return self.serve_http(stream).await;
        };
        // A client stalling in its handshake (or sending nothing) is cut off as one stalling in
        // its request head is; a failed handshake ends this connection only.
        let handshake =
            tokio::time::timeout(self.limits.header_read_timeout, accept_tls(&tls, stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Some(stream)) => stream,
                _ => return,
            },
            _ = self.stop.cancelled() => return,
        };
        self.serve_http(stream).await
    }

    async fn serve_http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let service = service_fn(move |request| app.clone().oneshot(request));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        // Connection errors (a reset, a malformed or too slow request) end this connection only.
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = self.stop.cancelled() => conn.as_mut().graceful_shutdown(),
        }
        tokio::select! {
            _ = conn => {}
            _ = self.cut.cancelled() => {}
        }
    }
}

/// The TLS session of a client whose first byte starts a handshake; a client speaking plain
/// HTTP is answered 400 in plain HTTP. `None` when there is no session to serve.
async fn accept_tls(
    tls: &ServerTls,
    mut stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.ok()? == 0 {
        return None;
    }
    if first[0] != HANDSHAKE_RECORD {
        let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
        let _ = stream.shutdown().await;
        // Reading what the client sent lets it see the answer: closing on unread bytes would
        // reset the connection under it. Bounded by size here and by the caller's timeout.
        let mut rest = Vec::new();
        let _ = (&mut stream)
            .take(PLAIN_HTTP_DRAIN as u64)
            .read_to_end(&mut rest)
            .await;
        return None;
    }
    tls.acceptor().accept(stream).await.ok()
}

/// Accept errors about one connection only (as opposed to the listener or the process).
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
