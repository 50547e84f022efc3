//! Binding, accepting and shutting down: one HTTP/1.1 connection task per client serving the
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
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Pause after a failed accept (out of file descriptors, say) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// After the stop, requests in flight get this long to finish before their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; loopback unless the operator says otherwise.
    pub addr: SocketAddr,
    pub access: Access,
    pub limits: Limits,
}

impl Default for ServerConfig {
    /// 127.0.0.1 on a port the system picks, no tokens, the default limits.
    fn default() -> ServerConfig {
        ServerConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            access: Access::default(),
            limits: Limits::default(),
        }
    }
}

/// How long the server waits on a client. (The body cap is [`routes::MAX_BODY`], the cap on
/// event streams [`crate::sse::MAX_EVENT_STREAMS`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection that has not sent a whole request head this long after it opened (or after
    /// its last answer, when kept alive) is closed: a client sending its head a byte at a time,
    /// or holding connections open without a request, holds none for long.
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
        format!("http://{}/", self.addr)
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
    let ctx = Ctx {
        hub,
        access: Arc::new(config.access),
        launcher,
        streams: Streams::new(stop.clone()),
    };
    let server = Server {
        app: routes::app(ctx),
        limits: config.limits,
        stop: stop.clone(),
        cut: CancellationToken::new(),
        tasks: TaskTracker::new(),
    };
    let running = DashboardServer {
        addr,
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
        let app = self.app.clone();
        let service = service_fn(move |request| app.clone().oneshot(request));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service);
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

/// Accept errors about one connection only (as opposed to the listener or the process).
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
