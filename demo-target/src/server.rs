//! Binding, accepting and shutting down: one HTTP/1.1 keep-alive connection task per client.

use crate::config::DemoTargetConfig;
use crate::error::DemoTargetError;
use crate::routes::{handle, State};
use crate::stats::StatsSnapshot;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

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
    let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), shutdown));
    Ok(DemoTarget { addr, state, task })
}

async fn accept_loop<F>(listener: TcpListener, state: Arc<State>, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(connection(stream, Arc::clone(&state), stop_rx.clone()));
                }
                Err(_) => tokio::time::sleep(ACCEPT_BACKOFF).await,
            },
            // Reap finished connection tasks so the set does not grow with every client.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Receivers only see the change when they still exist; a send error means none do.
    let _ = stop_tx.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        connections.shutdown().await;
    }
}

async fn connection(stream: TcpStream, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    // Small request/response pairs: Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| handle(Arc::clone(&state), request));
    // No header-read timeout: it would also close keep-alive connections left idle during a
    // plan's pauses, racing the client's next request into spurious connection errors.
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        // Connection errors (client reset, malformed request) end only this connection.
        _ = conn.as_mut() => {}
        // The guard `wait_for` returns is not `Send`: drop it inside the branch future.
        _ = async { stop.wait_for(|stopped| *stopped).await.is_ok() } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
