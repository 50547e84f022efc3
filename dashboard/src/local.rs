//! `ptl run --dashboard`: the dashboard of a run in this process. The engine runs with a
//! coordination that is the usual single-agent one plus a copy of every interval delta, and a
//! progress callback that also reaches the dashboard; both feed one task that merges the
//! deltas into the hub and pushes the second's update. The final result replaces the live one.

use crate::access::Access;
use crate::control::{ControlFuture, RunControl};
use crate::error::DashboardError;
use crate::hub::{Hub, RunOpen};
use crate::model::{AgentState, AgentView, RunSource, RunStatus};
use crate::server::{serve, DashboardServer, ServerConfig};
use ptl_bytecode::plan::Plan;
use ptl_runtime::coordination::{BoxFuture, Coordination, Embedded, StopHandle};
use ptl_runtime::engine::ProgressFn;
use ptl_runtime::error::RuntimeError;
use ptl_runtime::record::IntervalDelta;
use ptl_runtime::results::RunResult;
use ptl_runtime::vm::AgentShare;
use ptl_runtime::Progress;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

enum Feed {
    Delta(IntervalDelta),
    Progress(Progress),
    /// Answered once everything sent before it is in the hub.
    Flush(oneshot::Sender<()>),
}

/// The dashboard of one local run, serving while the run goes on.
pub struct LocalDashboard {
    hub: Arc<Hub>,
    server: DashboardServer,
    id: String,
    tx: mpsc::UnboundedSender<Feed>,
    feeder: JoinHandle<()>,
}

struct LocalControl(StopHandle);

impl RunControl for LocalControl {
    fn stop(&self, reason: String) -> ControlFuture {
        self.0.stop(reason);
        Box::pin(async { Ok(()) })
    }
}

/// The engine's coordination for `ptl run`, with a copy of every delta for the dashboard.
struct Tap {
    inner: Embedded,
    tx: mpsc::UnboundedSender<Feed>,
}

impl Coordination for Tap {
    fn share(&self) -> AgentShare {
        self.inner.share()
    }

    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        self.inner.start()
    }

    fn stopped(&self) -> BoxFuture<'_, String> {
        self.inner.stopped()
    }

    fn report(&self, delta: &IntervalDelta) {
        // The dashboard gone (its task ended) must never disturb the run.
        let _ = self.tx.send(Feed::Delta(delta.clone()));
    }
}

impl LocalDashboard {
    /// Starts the server for a run of `plan` about to start; `stop` is what the dashboard's
    /// stop button pulls.
    pub async fn start(
        addr: SocketAddr,
        access: Access,
        plan: Arc<Plan>,
        plan_hash: String,
        stop: StopHandle,
    ) -> Result<LocalDashboard, DashboardError> {
        let hub = Hub::new();
        let started = SystemTime::now();
        let id = format!(
            "local-{}",
            started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        );
        hub.open_run(RunOpen {
            id: id.clone(),
            plan,
            plan_hash,
            started_at: started,
            source: RunSource::Local,
            status: RunStatus::Running,
            control: Some(Arc::new(LocalControl(stop))),
        });
        let server = serve(hub.clone(), ServerConfig { addr, access }).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let feeder = tokio::spawn(feed(hub.clone(), id.clone(), rx));
        Ok(LocalDashboard {
            hub,
            server,
            id,
            tx,
            feeder,
        })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn run_id(&self) -> &str {
        &self.id
    }

    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// The coordination to run the engine with (`RunOptions::coordination`).
    pub fn coordination(&self) -> Arc<dyn Coordination> {
        Arc::new(Tap {
            inner: Embedded::default(),
            tx: self.tx.clone(),
        })
    }

    /// Wraps the caller's progress callback so that every snapshot also reaches the dashboard.
    pub fn progress(&self, mut inner: Option<ProgressFn>) -> ProgressFn {
        let tx = self.tx.clone();
        Box::new(move |progress: &Progress| {
            let _ = tx.send(Feed::Progress(progress.clone()));
            if let Some(f) = inner.as_mut() {
                f(progress);
            }
        })
    }

    /// The run ended: its final result goes to every browser, then the server stops.
    pub async fn finish(self, result: &RunResult) {
        self.record_final(result).await;
        self.shutdown().await;
    }

    /// The run could not run: browsers are told why, then the server stops.
    pub async fn fail(self, reason: &str) {
        self.settle().await;
        self.hub.add_failed(&self.id, "", RunSource::Local, reason);
        self.shutdown().await;
    }

    /// Takes in everything the engine sent, then the final result, which replaces the live
    /// one; the server goes on serving it until [`LocalDashboard::shutdown`].
    pub async fn record_final(&self, result: &RunResult) {
        self.settle().await;
        self.hub.finish(&self.id, result.clone());
    }

    /// Stops serving (event streams end after what was already published).
    pub async fn shutdown(self) {
        self.feeder.abort();
        self.server.shutdown().await;
    }

    /// Lets the feeder take in everything the engine sent before the end.
    async fn settle(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Feed::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn feed(hub: Arc<Hub>, id: String, mut rx: mpsc::UnboundedReceiver<Feed>) {
    let (mut reports, mut requests) = (0u64, 0u64);
    while let Some(item) = rx.recv().await {
        match item {
            Feed::Delta(delta) => {
                if hub.add_delta(&id, &delta).is_ok() {
                    reports += 1;
                    requests += delta
                        .recorded
                        .request
                        .iter()
                        .map(|r| r.completed)
                        .sum::<u64>();
                    hub.set_agents(
                        &id,
                        vec![AgentView {
                            name: "local".to_string(),
                            share: 1.0,
                            state: AgentState::Running,
                            last_report_ms: SystemTime::now()
                                .duration_since(UNIX_EPOCH)
                                .ok()
                                .and_then(|d| i64::try_from(d.as_millis()).ok()),
                            deltas: reports,
                            requests,
                        }],
                    );
                }
            }
            Feed::Progress(progress) => {
                hub.set_elapsed(&id, progress.elapsed);
                hub.tick(&id);
            }
            Feed::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
