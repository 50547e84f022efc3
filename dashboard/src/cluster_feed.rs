//! `ptl coordinator --http`: the dashboard follows the cluster's runs in ZooKeeper. Once a
//! second it reads each run's state, assignment and done markers, merges the agents' interval
//! deltas it has not merged yet (the same nodes the coordinator merges, read independently, so
//! the dashboard needs no hook into the coordinator and any coordinator process can serve it,
//! leader or not), and takes the final result when the coordinator writes it.
//!
//! Everything it shows is rebuilt from ZooKeeper, so a dashboard restarted (or served by the
//! coordinator that took over after a failover) shows the same series again.

use crate::control::{ControlFuture, RunControl};
use crate::error::DashboardError;
use crate::hub::{Hub, RunOpen};
use crate::launch::PlanLauncher;
use crate::model::{AgentState, AgentView, Mark, MarkKind, RunSource, RunStatus};
use crate::server::{serve_with, DashboardServer, ServerConfig};
use ptl_cluster::ids::{AgentId, RunId};
use ptl_cluster::run::assignment::Assignment;
use ptl_cluster::run::pauses::{self, PauseChange, PauseWindow};
use ptl_cluster::run::{self, RunPhase, RunState};
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::{agent::registry, coordinator::dashboards, plan_store, zk::clock, zk::layout};
use ptl_engine::record::decode_delta;
use ptl_engine::result::RunResult;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zookeeper_client::Client;

/// The dashboard of a cluster: the server and the feed that follows ZooKeeper.
pub struct ClusterDashboard {
    server: DashboardServer,
    stop: oneshot::Sender<()>,
    feed: JoinHandle<Result<(), DashboardError>>,
}

impl ClusterDashboard {
    /// Connects to ZooKeeper, then starts serving and following on the current runtime.
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
        let client = zk::connect(&feed.zk).await?;
        let hub = Hub::new();
        let server = serve_with(hub.clone(), server, launcher).await?;
        // A wildcard address is no address a browser can go to.
        let served = (!server.addr().ip().is_unspecified())
            .then(|| server.url().trim_end_matches('/').to_string());
        let feed = ClusterFeedConfig {
            public_url: feed.public_url.clone().or(served),
            ..feed
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let feed = tokio::spawn(follow_with(hub, client, feed, async {
            let _ = stopped.await;
        }));
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
        let _ = self.stop.send(());
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

/// Stops a cluster run the way `ptl stop` does.
struct ZkControl {
    client: Client,
    id: RunId,
}

impl RunControl for ZkControl {
    fn stop(&self, reason: String) -> ControlFuture {
        let (client, id) = (self.client.clone(), self.id.clone());
        Box::pin(async move {
            run::stop(&client, &id, &reason)
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
        let (client, id) = (self.client.clone(), self.id.clone());
        Box::pin(async move {
            match pauses::pause(&client, &id).await {
                Ok(PauseChange::Paused(_)) => Ok(()),
                Ok(_) => Err("the run is already paused".to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn resume(&self) -> ControlFuture {
        let (client, id) = (self.client.clone(), self.id.clone());
        Box::pin(async move {
            match pauses::resume(&client, &id).await {
                Ok(PauseChange::Resumed(_)) => Ok(()),
                Ok(_) => Err("the run is not paused".to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

#[derive(Default)]
struct AgentSeen {
    share: f64,
    deltas: u64,
    requests: u64,
    last_report_ms: Option<i64>,
    /// Delta nodes merged.
    merged: HashSet<String>,
}

struct Followed {
    plan_name: String,
    start_at_ms: Option<i64>,
    agents: BTreeMap<AgentId, AgentSeen>,
}

/// Follows the cluster's runs into `hub` until `shutdown` resolves. Connection problems are
/// retried; a run that cannot be read is reported as failed on the page.
pub async fn follow(
    hub: Arc<Hub>,
    config: ClusterFeedConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DashboardError> {
    let client = zk::connect(&config.zk).await?;
    follow_with(hub, client, config, shutdown).await
}

async fn follow_with(
    hub: Arc<Hub>,
    client: Client,
    config: ClusterFeedConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DashboardError> {
    let mut followed: HashMap<RunId, Followed> = HashMap::new();
    let mut settled: HashSet<RunId> = HashSet::new();
    // Older finished runs than the newest `history` are left out from the start.
    let ids = run::list(&client).await?;
    let skip = ids.len().saturating_sub(config.history.max(1));
    for id in ids.into_iter().take(skip) {
        if let Ok(state) = run::state(&client, &id).await {
            if state.phase.is_finished() {
                settled.insert(id);
            }
        }
    }
    tokio::pin!(shutdown);
    loop {
        if let Some(own) = &config.public_url {
            list_peers(&client, &hub, own).await;
        }
        // A ZooKeeper hiccup is skipped this round and retried on the next.
        if let Ok(ids) = run::list(&client).await {
            for id in ids {
                if settled.contains(&id) {
                    continue;
                }
                match look_at(&client, &hub, &id, &mut followed).await {
                    Ok(true) => {
                        settled.insert(id.clone());
                        followed.remove(&id);
                    }
                    Ok(false) => {}
                    Err(e) if !hub.knows(&id.0) => {
                        hub.add_failed(&id.0, "", RunSource::Cluster, &e.to_string());
                        settled.insert(id);
                    }
                    Err(_) => {}
                }
            }
        }
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

/// Keeps `own` listed among the cluster's dashboards (again after a lost session took its
/// node) and tells the page the others.
async fn list_peers(client: &Client, hub: &Hub, own: &str) {
    let Ok(urls) = dashboards::urls(client).await else {
        return;
    };
    if !urls.iter().any(|u| u == own) {
        let _ = dashboards::announce(client, own).await;
    }
    hub.set_peers(urls.into_iter().filter(|u| u != own).collect());
}

fn status_of(phase: RunPhase) -> RunStatus {
    match phase {
        RunPhase::Pending => RunStatus::Pending,
        RunPhase::Running => RunStatus::Running,
        RunPhase::Stopping => RunStatus::Stopping,
        RunPhase::Done => RunStatus::Done,
        RunPhase::Failed => RunStatus::Failed,
    }
}

/// One look at one run; true once it is settled (done or failed, result taken).
async fn look_at(
    client: &Client,
    hub: &Arc<Hub>,
    id: &RunId,
    followed: &mut HashMap<RunId, Followed>,
) -> Result<bool, DashboardError> {
    // A run being created has its spec before its state: look again next time.
    let Ok(state) = run::state(client, id).await else {
        return Ok(false);
    };
    let assignment: Option<Assignment> =
        zk::get_json(client, &layout::run_assignment(id), "assignment")
            .await?
            .map(|(a, _)| a);
    if !followed.contains_key(id) {
        let spec = run::spec(client, id).await?;
        if state.phase == RunPhase::Failed {
            let reason = state.reason.as_deref().unwrap_or("failed");
            hub.add_failed(&id.0, &spec.plan_name, RunSource::Cluster, reason);
            return Ok(true);
        }
        let bytes = plan_store::load(client, &spec.plan_hash).await?;
        let plan = ptl_bytecode::decode(&bytes).map_err(|e| DashboardError::Plan {
            run: id.0.clone(),
            reason: e.to_string(),
        })?;
        let start_at_ms = assignment.as_ref().map(|a| a.start_at_ms);
        hub.open_run(RunOpen {
            id: id.0.clone(),
            plan: Arc::new(plan),
            plan_hash: spec.plan_hash.to_string(),
            started_at: UNIX_EPOCH
                + Duration::from_millis(start_at_ms.unwrap_or_else(clock::now_ms).max(0) as u64),
            source: RunSource::Cluster,
            status: status_of(state.phase),
            control: Some(Arc::new(ZkControl {
                client: client.clone(),
                id: id.clone(),
            })),
        });
        followed.insert(
            id.clone(),
            Followed {
                plan_name: spec.plan_name,
                start_at_ms,
                agents: BTreeMap::new(),
            },
        );
    }
    let Some(run) = followed.get_mut(id) else {
        return Ok(false);
    };
    if state.phase == RunPhase::Failed {
        let reason = state.reason.as_deref().unwrap_or("failed");
        hub.add_failed(&id.0, &run.plan_name, RunSource::Cluster, reason);
        return Ok(true);
    }
    if let Some(a) = &assignment {
        run.start_at_ms = Some(a.start_at_ms);
        for seen in run.agents.values_mut() {
            seen.share = 0.0;
        }
        for share in &a.shares {
            run.agents.entry(share.agent.clone()).or_default().share = share.rate_fraction;
        }
    }
    merge_new_deltas(client, hub, id, run).await?;

    let now = clock::now_ms();
    if let Some(start) = run.start_at_ms {
        hub.set_elapsed(&id.0, Duration::from_millis((now - start).max(0) as u64));
    }
    let done: HashSet<String> = zk::children(client, &layout::run_done(id))
        .await?
        .into_iter()
        .collect();
    let alive: HashSet<AgentId> = registry::list(client)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    hub.set_agents(&id.0, agent_views(run, &done, &alive, &state));
    let pause_windows = pauses::windows(client, id).await?;
    let mut marks = degraded_marks(&state, run.start_at_ms);
    marks.extend(pause_marks(&pause_windows, run.start_at_ms));
    hub.set_marks(&id.0, marks);
    if state.phase == RunPhase::Done {
        let result: Option<RunResult> = zk::get_json(client, &layout::run_result(id), "run result")
            .await?
            .map(|(r, _)| r);
        if let Some(result) = result {
            hub.tick(&id.0);
            hub.finish(&id.0, result);
            return Ok(true);
        }
    }
    let status = match status_of(state.phase) {
        RunStatus::Running if pauses::is_paused(&pause_windows) => RunStatus::Paused,
        status => status,
    };
    hub.set_status(&id.0, status, state.reason.clone());
    hub.tick(&id.0);
    Ok(false)
}

async fn merge_new_deltas(
    client: &Client,
    hub: &Arc<Hub>,
    id: &RunId,
    run: &mut Followed,
) -> Result<(), DashboardError> {
    let agents: Vec<AgentId> = zk::children(client, &layout::run_reports(id))
        .await?
        .into_iter()
        .map(AgentId)
        .collect();
    for agent in agents {
        let seen = run.agents.entry(agent.clone()).or_default();
        let dir = layout::agent_reports(id, &agent);
        for name in zk::children(client, &dir).await? {
            if seen.merged.contains(&name) {
                continue;
            }
            let path = format!("{dir}/{name}");
            let Ok((bytes, _)) = client.get_data(&path).await else {
                continue;
            };
            // A damaged delta is the coordinator's to report; the page skips it.
            if let Ok(delta) = decode_delta(&bytes) {
                if hub.add_delta(&id.0, &delta).is_ok() {
                    seen.deltas += 1;
                    seen.requests += delta
                        .recorded
                        .request
                        .iter()
                        .map(|r| r.completed)
                        .sum::<u64>();
                    seen.last_report_ms = Some(clock::now_ms());
                }
            }
            seen.merged.insert(name);
        }
    }
    Ok(())
}

fn agent_views(
    run: &Followed,
    done: &HashSet<String>,
    alive: &HashSet<AgentId>,
    state: &RunState,
) -> Vec<AgentView> {
    let lost: HashSet<&str> = state.degraded.iter().map(|w| w.agent.as_str()).collect();
    run.agents
        .iter()
        .map(|(agent, seen)| AgentView {
            name: agent.0.clone(),
            share: seen.share,
            state: if done.contains(&agent.0) {
                AgentState::Done
            } else if lost.contains(agent.0.as_str()) || !alive.contains(agent) {
                AgentState::Lost
            } else if seen.deltas > 0 {
                AgentState::Running
            } else {
                AgentState::Waiting
            },
            last_report_ms: seen.last_report_ms,
            deltas: seen.deltas,
            requests: seen.requests,
        })
        .collect()
}

fn degraded_marks(state: &RunState, start_at_ms: Option<i64>) -> Vec<Mark> {
    let Some(start) = start_at_ms else {
        return Vec::new();
    };
    let seconds = |ms: i64| (ms - start) as f64 / 1000.0;
    state
        .degraded
        .iter()
        .map(|w| Mark {
            kind: MarkKind::Degraded,
            label: format!("{} lost (epoch {})", w.agent, w.epoch),
            start_s: seconds(w.from_ms),
            end_s: w.until_ms.map(seconds),
        })
        .collect()
}

/// The run's pauses as chart marks, in seconds from its start.
fn pause_marks(windows: &[PauseWindow], start_at_ms: Option<i64>) -> Vec<Mark> {
    let Some(start) = start_at_ms else {
        return Vec::new();
    };
    let seconds = |ms: i64| (ms - start) as f64 / 1000.0;
    windows
        .iter()
        .map(|w| Mark {
            kind: MarkKind::Paused,
            label: "paused".to_string(),
            start_s: seconds(w.at_ms),
            end_s: w.until_ms.map(seconds),
        })
        .collect()
}
