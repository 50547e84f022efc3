//! Binding, accepting and shutting down: one HTTP/1.1 keep-alive connection task per client,
//! each serving the axum handler of [`routes`](crate::routes). The caller's shutdown future
//! cancels one token that stops the accept loop and every connection (a [`TaskTracker`] waits
//! for them).

use crate::config::DemoTargetConfig;
use crate::error::DemoTargetError;
use crate::routes::{handle, State};
use crate::stats::StatsSnapshot;
use axum::handler::Handler as _;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Service, ServiceExt};

/// After shutdown, in-flight requests get this long to finish before their connections are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// A running demo target.
pub struct DemoTarget {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl DemoTarget {
    /// The bound address (with the real port when the configured one was 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, ready for a plan's `target`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters `GET /stats` would answer now.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Waits until the server has stopped (after the shutdown future completed and the grace
    /// period for in-flight requests).
    pub async fn wait(self) -> Result<(), DemoTargetError> {
        self.task.await?;
        Ok(())
    }
}

/// Binds 127.0.0.1:`config.port`, then serves in a spawned task until `shutdown` completes.
///
/// Returns once the socket is bound, so the address is usable at once. Must be called within a
/// tokio runtime with the time driver enabled.
pub async fn serve<F>(config: DemoTargetConfig, shutdown: F) -> Result<DemoTarget, DemoTargetError>
where
    F: Future<Output = ()> + Send + 'static,
{
    config.validate()?;
    let wanted = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|source| DemoTargetError::Bind {
            addr: wanted,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| DemoTargetError::Bind {
            addr: wanted,
            source,
        })?;
    let state = Arc::new(State::new(config));
    let server = Server {
        app: handle.with_state(Arc::clone(&state)),
        stop: CancellationToken::new(),
        cut: CancellationToken::new(),
        connections: TaskTracker::new(),
    };
    let task = tokio::spawn(server.run(listener, shutdown));
    Ok(DemoTarget { addr, state, task })
}

/// What the accept loop and the connection tasks share.
#[derive(Clone)]
struct Server<A> {
    app: A,
    /// Stops accepting and asks every connection to close after its request in flight.
    stop: CancellationToken,
    /// Cuts the connections still open after the grace period.
    cut: CancellationToken,
    connections: TaskTracker,
}

impl<A> Server<A>
where
    A: Service<hyper::Request<Incoming>, Response = Response, Error = Infallible>,
    A: Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
{
    async fn run<F: Future<Output = ()>>(self, listener: TcpListener, shutdown: F) {
        tokio::select! {
            _ = shutdown => {}
            _ = self.clone().accept(listener) => {}
        }
        self.stop.cancel();
        self.connections.close();
        let drained = self.connections.wait();
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            self.cut.cancel();
            self.connections.wait().await;
        }
    }

    /// Accepts until dropped (the listener goes with it).
    async fn accept(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _peer)) => {
                    self.connections.spawn(self.clone().connection(stream));
                }
                // One client gave up between connecting and being accepted: nothing to wait for.
                Err(e) if per_connection(&e) => {}
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            }
        }
    }

    async fn connection(self, stream: TcpStream) {
        // Small request/response pairs: Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let app = self.app;
        let service = service_fn(move |request| app.clone().oneshot(request));
        // No header-read timeout: hyper's also closes keep-alive connections left idle (it runs
        // while waiting for the next request's head), which a plan's pauses do, racing the
        // client's next request into spurious connection errors. The target serves loopback
        // load tests only; the dashboard, which faces browsers, has one.
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        // Connection errors (client reset, malformed request) end only this connection.
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
