//! `ptl coordinator --http`: the dashboard follows the cluster's runs through
//! [`ptl_cluster::observe::Observer`]. Once a second it takes each run's snapshot (state,
//! assignment, pauses, agents done and alive), merges the agents' interval deltas since its
//! cursor, and takes the final result when the coordinator writes it. The observer reads what the
//! coordinator writes and merges, on a session of its own, so the dashboard needs no hook into
//! the coordinator and any coordinator process can serve it, leader or not.
//!
//! Everything it shows is rebuilt from ZooKeeper, so a dashboard restarted (or served by the
//! coordinator that took over after a failover) shows the same series again.

use crate::control::{ControlFuture, RunControl};
use crate::error::DashboardError;
use crate::hub::{degraded_marks, pause_marks, Hub, RunOpen};
use crate::launch::PlanLauncher;
use crate::model::{AgentState, AgentView, RunSource, RunStatus};
use crate::server::{serve_with, DashboardServer, ServerConfig};
use ptl_cluster::coordinator::scale_hook::{shortfall_rps, wanted_agents};
use ptl_cluster::coordinator::strain::{Measured, Strain};
use ptl_cluster::observe::{
    now_ms, AgentId, ClusterError, DeltaCursor, Observer, PauseChange, RunId, RunPhase,
    RunSnapshot, ZkConfig,
};
use ptl_engine::result::generator::Second;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The dashboard of a cluster: the server and the feed that follows ZooKeeper.
pub struct ClusterDashboard {
    server: DashboardServer,
    /// Stops the feed; the server has its own token.
    stop: CancellationToken,
    feed: JoinHandle<Result<(), DashboardError>>,
}

impl ClusterDashboard {
    /// Connects to the cluster, then starts serving and following on the current runtime.
    pub async fn start(
        server: ServerConfig,
        feed: ClusterFeedConfig,
    ) -> Result<ClusterDashboard, DashboardError> {
        Self::start_with(server, feed, None).await
    }

    /// [`ClusterDashboard::start`], with the plans the page may start.
    pub async fn start_with(
        server: ServerConfig,
        feed: ClusterFeedConfig,
        launcher: Option<Arc<dyn PlanLauncher>>,
    ) -> Result<ClusterDashboard, DashboardError> {
        let observer = Observer::connect(&feed.zk).await?;
        let hub = Hub::new();
        let server = serve_with(hub.clone(), server, launcher).await?;
        // A wildcard address is no address a browser can go to.
        let served = (!server.addr().ip().is_unspecified())
            .then(|| server.url().trim_end_matches('/').to_string());
        let feed = ClusterFeedConfig {
            public_url: feed.public_url.clone().or(served),
            ..feed
        };
        let stop = CancellationToken::new();
        let feed = tokio::spawn(follow_with(hub, observer, feed, stop.clone()));
        Ok(ClusterDashboard { server, stop, feed })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// Stops following and serving.
    pub async fn shutdown(self) -> Result<(), DashboardError> {
        self.stop.cancel();
        let followed = self.feed.await;
        self.server.shutdown().await;
        followed.unwrap_or(Ok(()))
    }
}

#[derive(Debug, Clone)]
pub struct ClusterFeedConfig {
    pub zk: ZkConfig,
    /// How often runs are looked at.
    pub poll: Duration,
    /// Finished runs shown when the dashboard starts (the newest ones).
    pub history: usize,
    /// The address browsers reach this dashboard at, listed in ZooKeeper for the other
    /// dashboards' pages to fail over to; [`ClusterDashboard`] defaults it to the address it
    /// serves on. `None` for a feed without a server.
    pub public_url: Option<String>,
}

impl ClusterFeedConfig {
    pub fn new(zk: ZkConfig) -> ClusterFeedConfig {
        ClusterFeedConfig {
            zk,
            poll: Duration::from_secs(1),
            history: 10,
            public_url: None,
        }
    }
}

/// Stops, pauses and resumes a cluster run the way `ptl stop`, `ptl pause` and `ptl resume` do.
struct ObservedControl {
    observer: Observer,
    id: RunId,
}

impl RunControl for ObservedControl {
    fn stop(&self, reason: String) -> ControlFuture {
        let (observer, id) = (self.observer.clone(), self.id.clone());
        Box::pin(async move {
            observer
                .stop(&id, &reason)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn can_pause(&self) -> bool {
        true
    }

    /// As `ptl pause`: every agent holds from the same instant, shortly ahead.
    fn pause(&self) -> ControlFuture {
        let (observer, id) = (self.observer.clone(), self.id.clone());
        Box::pin(async move {
            match observer.pause(&id).await {
                Ok(PauseChange::Paused(_)) => Ok(()),
                Ok(_) => Err("the run is already paused".to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn resume(&self) -> ControlFuture {
        let (observer, id) = (self.observer.clone(), self.id.clone());
        Box::pin(async move {
            match observer.resume(&id).await {
                Ok(PauseChange::Resumed(_)) => Ok(()),
                Ok(_) => Err("the run is not paused".to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// What the page shows of one agent, tallied from the deltas merged.
#[derive(Default)]
struct AgentSeen {
    share: f64,
    deltas: u64,
    requests: u64,
    /// Of its latest delta.
    saturation: Option<f64>,
    strain: Strain,
    last_report_ms: Option<i64>,
}

struct Followed {
    plan_name: String,
    /// The plan's highest planned rate, which the agents' declared capacities are held to.
    peak_rate: f64,
    /// Where this dashboard is in the run's deltas.
    cursor: DeltaCursor,
    agents: BTreeMap<AgentId, AgentSeen>,
}

/// Follows the cluster's runs into `hub` until `shutdown` is cancelled. Connection problems are
/// retried; a run that cannot be read is reported as failed on the page.
pub async fn follow(
    hub: Arc<Hub>,
    config: ClusterFeedConfig,
    shutdown: CancellationToken,
) -> Result<(), DashboardError> {
    let observer = Observer::connect(&config.zk).await?;
    follow_with(hub, observer, config, shutdown).await
}

async fn follow_with(
    hub: Arc<Hub>,
    observer: Observer,
    config: ClusterFeedConfig,
    shutdown: CancellationToken,
) -> Result<(), DashboardError> {
    let mut followed: HashMap<RunId, Followed> = HashMap::new();
    let mut settled: HashSet<RunId> = HashSet::new();
    // Older finished runs than the newest `history` are left out from the start.
    let ids = observer.runs().await?;
    let skip = ids.len().saturating_sub(config.history.max(1));
    for id in ids.into_iter().take(skip) {
        if let Ok(true) = observer.is_finished(&id).await {
            settled.insert(id);
        }
    }
    loop {
        if let Some(own) = &config.public_url {
            list_peers(&observer, &hub, own).await;
        }
        // A ZooKeeper hiccup is skipped this round and retried on the next.
        if let Ok(ids) = observer.runs().await {
            for id in ids {
                if settled.contains(&id) {
                    continue;
                }
                match look_at(&observer, &hub, &id, &mut followed).await {
                    Ok(true) => {
                        settled.insert(id.clone());
                        followed.remove(&id);
                    }
                    Ok(false) => {}
                    Err(e) if !e.is_transient() && !hub.knows(&id.0) => {
                        hub.add_failed(&id.0, "", RunSource::Cluster, &e.to_string());
                        settled.insert(id);
                    }
                    Err(_) => {}
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// Keeps `own` listed among the cluster's dashboards (again after a lost session took its
/// node) and tells the page the others.
async fn list_peers(observer: &Observer, hub: &Hub, own: &str) {
    let Ok(urls) = observer.dashboards().await else {
        return;
    };
    if !urls.iter().any(|u| u == own) {
        let _ = observer.announce_dashboard(own).await;
    }
    hub.set_peers(urls.into_iter().filter(|u| u != own).collect());
}

fn status_of(run: &RunSnapshot) -> RunStatus {
    match run.state.phase {
        RunPhase::Pending => RunStatus::Pending,
        RunPhase::Running if run.is_paused() => RunStatus::Paused,
        RunPhase::Running => RunStatus::Running,
        RunPhase::Stopping => RunStatus::Stopping,
        RunPhase::Done => RunStatus::Done,
        RunPhase::Failed => RunStatus::Failed,
    }
}

fn failure(run: &RunSnapshot) -> &str {
    run.state.reason.as_deref().unwrap_or("failed")
}

/// One look at one run; true once it is settled (done or failed, result taken).
async fn look_at(
    observer: &Observer,
    hub: &Arc<Hub>,
    id: &RunId,
    followed: &mut HashMap<RunId, Followed>,
) -> Result<bool, ClusterError> {
    // A run being created: look again next time.
    let Some(run) = observer.run(id).await? else {
        return Ok(false);
    };
    if !followed.contains_key(id) {
        if run.state.phase == RunPhase::Failed {
            hub.add_failed(
                &id.0,
                &run.spec.plan_name,
                RunSource::Cluster,
                failure(&run),
            );
            return Ok(true);
        }
        let plan = observer.plan(&run.spec.plan_hash).await?;
        let peak_rate = plan.peak_rate().unwrap_or(0.0);
        let start_at_ms = run.start_at_ms().unwrap_or(run.observed_at_ms);
        hub.open_run(RunOpen {
            id: id.0.clone(),
            plan,
            plan_hash: run.spec.plan_hash.to_string(),
            started_at: UNIX_EPOCH + Duration::from_millis(start_at_ms.max(0) as u64),
            source: RunSource::Cluster,
            status: status_of(&run),
            control: Some(Arc::new(ObservedControl {
                observer: observer.clone(),
                id: id.clone(),
            })),
        });
        followed.insert(
            id.clone(),
            Followed {
                plan_name: run.spec.plan_name.clone(),
                peak_rate,
                cursor: DeltaCursor::new(id.clone()),
                agents: BTreeMap::new(),
            },
        );
    }
    let Some(seen) = followed.get_mut(id) else {
        return Ok(false);
    };
    if run.state.phase == RunPhase::Failed {
        hub.add_failed(&id.0, &seen.plan_name, RunSource::Cluster, failure(&run));
        return Ok(true);
    }
    if let Some(a) = &run.assignment {
        for agent in seen.agents.values_mut() {
            agent.share = 0.0;
        }
        for share in &a.shares {
            seen.agents.entry(share.agent.clone()).or_default().share = share.rate_fraction;
        }
    }
    // Read after the snapshot: once it says done, every delta is written.
    let read = observer.deltas(&mut seen.cursor).await?;
    if let Some(restart) = read.restart {
        // This dashboard fell behind the deltas the coordinator deletes once merged: start
        // again from its folded seconds.
        hub.clear_deltas(&id.0);
        for span in &restart.spans {
            // Of another plan's shape: passed over, as such deltas are below.
            let _ = hub.add_span(&id.0, &span.delta, span.seconds);
        }
        for agent in seen.agents.values_mut() {
            (agent.deltas, agent.requests) = (0, 0);
        }
        for (agent, folded) in restart.agents {
            let seen = seen.agents.entry(agent).or_default();
            (seen.deltas, seen.requests) = (folded.deltas, folded.requests);
        }
    }
    for new in read.deltas {
        if hub.add_delta(&id.0, &new.delta).is_ok() {
            let agent = seen.agents.entry(new.agent.clone()).or_default();
            agent.deltas += 1;
            agent.requests += new.requests();
            let second = Second::of(&new.delta.recorded);
            agent.saturation = Some(second.saturation());
            agent.strain.add(&second, &new.delta.recorded);
            agent.last_report_ms = Some(now_ms());
        }
    }
    for agent in seen.cursor.agents() {
        seen.agents.entry(agent.clone()).or_default();
    }
    if let Some(a) = &run.assignment {
        // As the coordinator sizes it: declared capacities short of the peak, plus what agents
        // measured saturated fell short of.
        let strained = Measured::of(
            seen.agents
                .values()
                .filter(|agent| agent.share > 0.0)
                .map(|agent| &agent.strain),
        );
        let peak = Some(seen.peak_rate).filter(|p| *p > 0.0);
        let wanted = wanted_agents(a, peak, &strained).unwrap_or(a.shares.len());
        let short = shortfall_rps(a, seen.peak_rate, &strained);
        hub.set_shortfall(&id.0, short, wanted);
    }

    if let Some(elapsed) = run.elapsed() {
        hub.set_elapsed(&id.0, elapsed);
    }
    hub.set_agents(&id.0, agent_views(seen, &run));
    let mut marks = degraded_marks(&run.degraded());
    marks.extend(pause_marks(&run.pauses_from_start()));
    hub.set_marks(&id.0, marks);
    if let Some(result) = run.result {
        hub.tick(&id.0);
        hub.finish(&id.0, result);
        return Ok(true);
    }
    hub.set_status(&id.0, status_of(&run), run.state.reason.clone());
    hub.tick(&id.0);
    Ok(false)
}

fn agent_views(seen: &Followed, run: &RunSnapshot) -> Vec<AgentView> {
    let lost: HashSet<&str> = run
        .state
        .degraded
        .iter()
        .map(|w| w.agent.as_str())
        .collect();
    seen.agents
        .iter()
        .map(|(agent, tally)| AgentView {
            name: agent.0.clone(),
            share: tally.share,
            state: if run.done.contains(agent) {
                AgentState::Done
            } else if lost.contains(agent.0.as_str()) || !run.alive.contains(agent) {
                AgentState::Lost
            } else if tally.deltas > 0 {
                AgentState::Running
            } else {
                AgentState::Waiting
            },
            last_report_ms: tally.last_report_ms,
            deltas: tally.deltas,
            requests: tally.requests,
            saturation: tally.saturation,
        })
        .collect()
}
