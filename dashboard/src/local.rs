//! `ptl run --dashboard`: the dashboard of a run in this process. The engine runs with a
//! coordination that is the usual single-agent one plus a copy of every interval delta, and a
//! progress callback that also reaches the dashboard; both feed one task that merges the
//! deltas into the hub and pushes the second's update. The final result replaces the live one.
//!
//! The run can be paused from the page: the dashboard holds the [`PauseHandle`] of a pause
//! channel whose receiver is the engine's (through the coordination, and
//! [`LocalDashboard::pauses`] for `RunOptions::pauses`); the pauses are shaded on the charts.

use crate::control::{ControlFuture, RunControl};
use crate::error::DashboardError;
use crate::hub::{Hub, RunOpen};
use crate::model::{AgentState, AgentView, Mark, MarkKind, RunSource, RunStatus};
use crate::server::{serve_until, DashboardServer, ServerConfig};
use ptl_bytecode::plan::Plan;
use ptl_engine::coordination::{
    pause_channel, BoxFuture, Coordination, Embedded, Pause, PauseHandle, StopHandle,
};
use ptl_engine::error::RuntimeError;
use ptl_engine::record::IntervalDelta;
use ptl_engine::result::generator::Second;
use ptl_engine::result::RunResult;
use ptl_engine::runner::ProgressFn;
use ptl_engine::vm::AgentShare;
use ptl_engine::Progress;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
    /// Stops the server and the feeder (each has a child of it).
    stop: CancellationToken,
    tx: mpsc::UnboundedSender<Feed>,
    feeder: JoinHandle<()>,
    pause: PauseHandle,
    pauses: watch::Receiver<Vec<Pause>>,
    /// The run's start instant, once the engine asked for it (pauses are marked from it).
    start: Arc<OnceLock<Instant>>,
}

struct LocalControl {
    stop: StopHandle,
    pause: PauseHandle,
}

impl RunControl for LocalControl {
    fn stop(&self, reason: String) -> ControlFuture {
        self.stop.stop(reason);
        Box::pin(async { Ok(()) })
    }

    fn can_pause(&self) -> bool {
        true
    }

    fn pause(&self) -> ControlFuture {
        let paused = self.pause.pause();
        Box::pin(async move {
            if paused {
                Ok(())
            } else {
                Err("the run is already paused".to_string())
            }
        })
    }

    fn resume(&self) -> ControlFuture {
        let resumed = self.pause.resume();
        Box::pin(async move {
            if resumed {
                Ok(())
            } else {
                Err("the run is not paused".to_string())
            }
        })
    }
}

/// The engine's coordination for `ptl run`, with a copy of every delta for the dashboard.
struct Tap {
    inner: Embedded,
    tx: mpsc::UnboundedSender<Feed>,
    pauses: watch::Receiver<Vec<Pause>>,
    start: Arc<OnceLock<Instant>>,
}

impl Coordination for Tap {
    fn share(&self) -> AgentShare {
        self.inner.share()
    }

    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        let start = self.start.clone();
        let inner = self.inner.start();
        Box::pin(async move {
            let at = inner.await?;
            let _ = start.set(at);
            Ok(at)
        })
    }

    fn pauses(&self) -> Option<watch::Receiver<Vec<Pause>>> {
        Some(self.pauses.clone())
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
    /// Starts the server (where and how `config` says) for a run of `plan` about to start;
    /// `stop` is what the dashboard's stop button pulls. The pause and resume buttons pull a
    /// pause channel of its own.
    pub async fn start(
        config: ServerConfig,
        plan: Arc<Plan>,
        plan_hash: String,
        stop: StopHandle,
    ) -> Result<LocalDashboard, DashboardError> {
        let hub = Hub::new();
        let (pause, pauses) = pause_channel();
        let start = Arc::new(OnceLock::new());
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
            control: Some(Arc::new(LocalControl {
                stop,
                pause: pause.clone(),
            })),
        });
        let stop = CancellationToken::new();
        let server = serve_until(hub.clone(), config, None, stop.child_token()).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let watched = Paused {
            handle: pause.clone(),
            pauses: pauses.clone(),
            start: start.clone(),
        };
        let feeder = tokio::spawn(feed(
            hub.clone(),
            id.clone(),
            rx,
            watched,
            stop.child_token(),
        ));
        Ok(LocalDashboard {
            hub,
            server,
            id,
            stop,
            tx,
            feeder,
            pause,
            pauses,
            start,
        })
    }

    /// The pauses the dashboard's buttons make, for `RunOptions::pauses` (the coordination
    /// from [`LocalDashboard::coordination`] hands the engine the same).
    pub fn pauses(&self) -> watch::Receiver<Vec<Pause>> {
        self.pauses.clone()
    }

    /// Pauses and resumes the run as the dashboard's buttons do.
    pub fn pause_handle(&self) -> PauseHandle {
        self.pause.clone()
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
            pauses: self.pauses.clone(),
            start: self.start.clone(),
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
        self.stop.cancel();
        let _ = self.feeder.await;
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

/// What the feed reads to show the run paused and shade its pauses.
struct Paused {
    handle: PauseHandle,
    pauses: watch::Receiver<Vec<Pause>>,
    start: Arc<OnceLock<Instant>>,
}

impl Paused {
    /// Paused or running, as the handle says; a run stopping stays so.
    fn sync(&self, hub: &Hub, id: &str) {
        let next = match (hub.status(id), self.handle.is_paused()) {
            (Some(RunStatus::Running), true) => RunStatus::Paused,
            (Some(RunStatus::Paused), false) => RunStatus::Running,
            _ => return,
        };
        hub.set_status(id, next, None);
    }

    fn marks(&self) -> Vec<Mark> {
        let Some(start) = self.start.get().copied() else {
            return Vec::new();
        };
        pause_marks(&self.pauses.borrow(), start)
    }
}

/// The pauses as chart marks, in seconds from the run's start.
pub fn pause_marks(pauses: &[Pause], start: Instant) -> Vec<Mark> {
    let seconds = |at: Instant| at.saturating_duration_since(start).as_secs_f64();
    pauses
        .iter()
        .map(|p| Mark {
            kind: MarkKind::Paused,
            label: "paused".to_string(),
            start_s: seconds(p.at),
            end_s: p.until.map(seconds),
        })
        .collect()
}

async fn feed(
    hub: Arc<Hub>,
    id: String,
    mut rx: mpsc::UnboundedReceiver<Feed>,
    paused: Paused,
    stop: CancellationToken,
) {
    let (mut reports, mut requests) = (0u64, 0u64);
    while let Some(Some(item)) = stop.run_until_cancelled(rx.recv()).await {
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
                            saturation: Some(Second::of(&delta.recorded).saturation()),
                        }],
                    );
                }
            }
            Feed::Progress(progress) => {
                hub.set_elapsed(&id, progress.elapsed);
                paused.sync(&hub, &id);
                hub.set_marks(&id, paused.marks());
                hub.tick(&id);
            }
            Feed::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pauses_are_marked_in_seconds_from_the_start_and_an_open_one_has_no_end() {
        let start = Instant::now();
        let s = |ms: u64| start + Duration::from_millis(ms);
        let pauses = [
            Pause {
                at: s(1500),
                until: Some(s(4000)),
            },
            Pause {
                at: s(6250),
                until: None,
            },
        ];
        let marks = pause_marks(&pauses, start);
        let spans: Vec<(f64, Option<f64>)> = marks.iter().map(|m| (m.start_s, m.end_s)).collect();
        assert_eq!(spans, [(1.5, Some(4.0)), (6.25, None)]);
        assert!(marks.iter().all(|m| m.kind == MarkKind::Paused));
        // A pause from before the start (not something a handle makes) is drawn from 0.
        let early = [Pause {
            at: start,
            until: Some(s(10)),
        }];
        assert_eq!(pause_marks(&early, s(5))[0].start_s, 0.0);
    }

    #[tokio::test]
    async fn the_control_pauses_once_and_resumes_once() {
        let (stop, _signal) = ptl_engine::coordination::stop_channel();
        let (pause, pauses) = pause_channel();
        let control = LocalControl { stop, pause };
        assert!(control.can_pause());
        assert!(control.resume().await.is_err(), "not paused");
        control.pause().await.expect("pauses");
        assert!(control.pause().await.is_err(), "already paused");
        control.resume().await.expect("resumes");
        let windows = pauses.borrow().clone();
        assert_eq!(windows.len(), 1);
        assert!(windows[0].until.is_some());
    }
}
