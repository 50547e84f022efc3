//! `ptl agent`: register, wait for runs that include this agent, start at the assigned instant
//! with the assigned share, stream interval deltas, and say when done.

pub mod coordination;
pub mod engine;
pub mod registry;
pub mod share_changes;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_engine::coordination::{BoxFuture, Coordination};
use ptl_engine::error::RuntimeError;
use ptl_engine::vm::AgentShare;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zookeeper_client::Client;

use crate::agent::coordination::{Placement, ZkCoordination};
use crate::agent::share_changes::EpochApplied;
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::plan_store;
use crate::run::assignment::Assignment;
use crate::run::{self, RunPhase};
use crate::zk::clock::{self, ClockOffset};
use crate::zk::layout;
use crate::zk::{self, ZkConfig};
use registry::AgentInfo;

/// What runs the load: the runtime's engine in production, anything that drives a
/// [`Coordination`] in tests. Returns when the agent's part of the run is over.
pub trait Engine: Send + Sync {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), RuntimeError>>;
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub zk: ZkConfig,
    pub name: String,
    pub host: String,
    pub capacity: Option<f64>,
    pub labels: BTreeMap<String, String>,
    /// How often the agent looks for new runs when no watch fired (a safety net).
    pub poll: Duration,
}

impl AgentConfig {
    pub fn new(zk: ZkConfig, name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            zk,
            name: name.into(),
            host: "localhost".into(),
            capacity: None,
            labels: BTreeMap::new(),
            poll: Duration::from_secs(1),
        }
    }
}

/// The data of `/runs/<id>/done/<agent>`: the agent's own account of its part of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneMarker {
    /// Delta nodes written.
    pub deltas: u64,
    /// Their data bytes.
    #[serde(default)]
    pub delta_bytes: u64,
    /// Requests completed in those deltas.
    #[serde(default)]
    pub requests: u64,
    /// When its start timer fired, ZooKeeper clock, Unix ms (none if it never started).
    #[serde(default)]
    pub started_at_ms: Option<i64>,
    /// When its engine returned, ZooKeeper clock, Unix ms: how long its last (partial) window
    /// was, and when its part of the run ended.
    #[serde(default)]
    pub ended_at_ms: Option<i64>,
    /// New epochs (rebalances) the agent applied during the run, and when.
    #[serde(default)]
    pub epochs: Vec<EpochApplied>,
    /// The engine's error, if it failed.
    pub error: Option<String>,
}

/// A registered agent. Dropping it (or [`Agent::shutdown`]) ends its session: its node vanishes.
pub struct Agent {
    client: Client,
    id: AgentId,
    offset: ClockOffset,
}

impl Agent {
    pub async fn register(config: &AgentConfig) -> Result<Agent, ClusterError> {
        let client = zk::connect(&config.zk).await?;
        let offset = clock::measure(&client, &config.name, 5).await?;
        let info = AgentInfo {
            name: config.name.clone(),
            host: config.host.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            bytecode_version: ptl_bytecode::FORMAT_VERSION,
            capacity: config.capacity,
            labels: config.labels.clone(),
            clock_offset_ms: Some(offset.offset_ms),
        };
        let id = registry::register(&client, &info).await?;
        Ok(Agent { client, id, offset })
    }

    pub fn id(&self) -> &AgentId {
        &self.id
    }

    /// Serves runs until `shutdown` is cancelled.
    pub async fn serve(
        &self,
        engine: Arc<dyn Engine>,
        poll: Duration,
        shutdown: CancellationToken,
    ) -> Result<(), ClusterError> {
        let mut handled: HashSet<RunId> = HashSet::new();
        loop {
            for id in run::list(&self.client).await? {
                if handled.contains(&id) {
                    continue;
                }
                let Ok(state) = run::state(&self.client, &id).await else {
                    continue;
                };
                if state.phase.is_finished() {
                    handled.insert(id);
                    continue;
                }
                let assignment = zk::get_json::<Assignment>(
                    &self.client,
                    &layout::run_assignment(&id),
                    "assignment",
                )
                .await?;
                // The coordinator writes the assignment, then marks the run running.
                let Some((assignment, _)) = assignment else {
                    continue;
                };
                if state.phase != RunPhase::Running {
                    continue;
                }
                // Not in it (yet): the coordinator may give us a share of it later, when an
                // agent of it is lost.
                if assignment.share_of(&self.id).is_none() {
                    continue;
                }
                handled.insert(id.clone());
                if let Err(error) = self.run_one(&id, &assignment, engine.clone()).await {
                    // The coordinator sees no `done` from us and treats us as lost.
                    eprintln!("agent {}: run {id} failed: {error}", self.id);
                }
            }
            let (_, _, watcher) = self
                .client
                .get_and_watch_children(layout::RUNS)
                .await
                .map_err(|e| ClusterError::zk("watch", layout::RUNS, e))?;
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = watcher.changed() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    async fn run_one(
        &self,
        id: &RunId,
        assignment: &Assignment,
        engine: Arc<dyn Engine>,
    ) -> Result<(), ClusterError> {
        let share = assignment
            .share_of(&self.id)
            .ok_or_else(|| ClusterError::Engine("not in the assignment".into()))?;
        let spec = run::spec(&self.client, id).await?;
        let bytecode = plan_store::load(&self.client, &spec.plan_hash).await?;
        let plan =
            ptl_bytecode::decode(&bytecode).map_err(|e| ClusterError::Bytecode(e.to_string()))?;
        let start_at_ms = assignment.start_at_ms + share.start_offset_ms as i64;
        // A joiner walks the plan from the run's start with no share until its own begins.
        let joined = share.joined_at_ms.map(|at| (at, share.rate_fraction));
        let agent_share = AgentShare {
            index: share.index,
            count: share.count,
            rate_fraction: if joined.is_some() {
                0.0
            } else {
                share.rate_fraction
            },
        };
        let placement = Placement {
            run: id.clone(),
            agent: self.id.clone(),
            start_at_ms,
            offset: self.offset,
            share: agent_share,
            epoch: assignment.epoch,
            joined,
        };
        let (coordination, writer) = ZkCoordination::new(self.client.clone(), placement);
        let outcome = engine.run(plan, agent_share, coordination.clone()).await;
        let ended_at_ms = clock::now_ms() - self.offset.offset_ms;
        let marker = DoneMarker {
            deltas: 0,
            delta_bytes: 0,
            requests: coordination.reported_requests(),
            started_at_ms: coordination.started_at_ms(),
            ended_at_ms: Some(ended_at_ms),
            epochs: coordination.epochs_applied(),
            error: outcome.as_ref().err().map(ToString::to_string),
        };
        // The engine has returned; dropping our handle lets the writer drain and finish.
        drop(coordination);
        let written = writer.finish().await?;
        let marker = DoneMarker {
            deltas: written.deltas,
            delta_bytes: written.bytes,
            ..marker
        };
        let done = layout::agent_done(id, &self.id);
        zk::put_json(&self.client, &done, &marker, "agent done").await?;
        outcome.map_err(ClusterError::Run)
    }
}

/// Registers and serves until `shutdown` is cancelled: what `ptl agent` runs.
pub async fn run_agent(
    config: AgentConfig,
    engine: Arc<dyn Engine>,
    shutdown: CancellationToken,
) -> Result<(), ClusterError> {
    let agent = Agent::register(&config).await?;
    agent.serve(engine, config.poll, shutdown).await
}
