//! A run in ZooKeeper: its immutable spec (the node's data), its mutable state (a child updated
//! with version checks so concurrent writers never lose each other's changes), and the
//! operations `submit`, `status` and `stop` share.

pub mod assignment;
pub mod pauses;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError};

use crate::access::Node;
use crate::error::ClusterError;
use crate::ids::{PlanHash, RunId};
use crate::zk;
use crate::zk::clock;
use crate::zk::layout;

/// What happens when an agent's ephemeral node disappears mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossPolicy {
    /// The survivors take over the lost share at a new epoch; the total rate is kept.
    #[default]
    Rebalance,
    /// The survivors keep their shares; the run goes on with less load.
    Continue,
    /// The run stops.
    Abort,
}

/// The data of `/runs/<id>`: what was submitted. Never changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub plan_hash: PlanHash,
    pub plan_name: String,
    /// Resolved parameters as given to the compiler, for reports.
    pub params: BTreeMap<String, String>,
    /// How many agents the run needs before it starts.
    pub agents: u32,
    /// How long the coordinator waits for that many agents before failing the run.
    pub agent_wait_ms: u64,
    pub on_agent_loss: LossPolicy,
    /// Delay between the assignment and the start instant, so every agent can prepare.
    pub start_delay_ms: u64,
    /// Spacing of agents' starts (0: all at once).
    pub stagger_ms: u64,
    /// Agents whose clock is off by more than this are refused.
    pub clock_tolerance_ms: i64,
    pub bytecode_version: u16,
    pub submitted_at_ms: i64,
    /// The submitter's signature of what the run does (`ptl submit --sign-key`), checked by
    /// coordinators and agents that trust only signed plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signing::PlanSignature>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunPhase {
    /// Waiting for the coordinator and enough agents.
    Pending,
    /// Assignment written; agents start at its instant.
    Running,
    /// Stop asked for (`ptl stop`, an abort threshold, an agent lost under `abort`).
    Stopping,
    /// The result is written.
    Done,
    Failed,
}

impl RunPhase {
    pub fn is_finished(self) -> bool {
        matches!(self, RunPhase::Done | RunPhase::Failed)
    }
}

/// A time span during which the run had fewer agents than assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradedWindow {
    pub agent: String,
    /// ZooKeeper clock, Unix milliseconds: when the loss was noticed.
    pub from_ms: i64,
    /// When the survivors' new shares took effect (`None` under `continue`: until the end).
    pub until_ms: Option<i64>,
    pub epoch: u32,
    /// Why the agent left, when it said (it refused the run: its allow-list or rate cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl DegradedWindow {
    /// As the result lists it: in seconds from the run's start at `start_at_ms`.
    pub fn from_start(&self, start_at_ms: i64) -> ptl_engine::result::DegradedWindow {
        let seconds = |ms: i64| (ms - start_at_ms) as f64 / 1000.0;
        ptl_engine::result::DegradedWindow {
            agent: self.agent.clone(),
            from_s: seconds(self.from_ms),
            until_s: self.until_ms.map(seconds),
            epoch: self.epoch,
        }
    }
}

/// The data of `/runs/<id>/state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub phase: RunPhase,
    /// Why the run failed or is stopping.
    pub reason: Option<String>,
    /// The coordinator that handles it.
    pub coordinator: Option<String>,
    pub degraded: Vec<DegradedWindow>,
    pub updated_at_ms: i64,
    /// When it turned `running` (its agents may have started): a coordinator taking over a
    /// `stopping` run resumes it only then.
    #[serde(default)]
    pub running_since_ms: Option<i64>,
    /// Set when a `done` run lost part of its load or data: `degraded: <reasons>` (the
    /// result's `accounting` has the figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
}

impl RunState {
    pub fn pending() -> RunState {
        RunState {
            phase: RunPhase::Pending,
            reason: None,
            coordinator: None,
            degraded: Vec::new(),
            updated_at_ms: clock::now_ms(),
            running_since_ms: None,
            verdict: None,
        }
    }
}

/// Creates `/runs/run-<seq>` with its spec and a pending state.
pub async fn create(client: &Client, spec: &RunSpec) -> Result<RunId, ClusterError> {
    let data = zk::to_json(spec, "run spec", layout::RUN_PREFIX)?;
    let path = zk::create_sequential(client, layout::RUN_PREFIX, &data, Node::Run).await?;
    let id = RunId(layout::leaf(&path).to_owned());
    let state_path = layout::run_state(&id);
    let state = zk::to_json(&RunState::pending(), "run state", &state_path)?;
    // Made by the submitter, so its ACL may name the submitter: only they (and coordinators
    // and admins) may stop or pause this run.
    if !zk::create_if_missing(client, &state_path, &state, Node::RunControl).await? {
        return Err(ClusterError::zk(
            "create",
            &state_path,
            zookeeper_client::Error::NodeExists,
        ));
    }
    zk::create_if_missing(client, &layout::run_reports(&id), b"", Node::RunFolder).await?;
    zk::create_if_missing(client, &layout::run_done(&id), b"", Node::RunFolder).await?;
    // Agents watch it from their start; there is nothing to wait for until a pause.
    zk::create_if_missing(client, &layout::run_pauses(&id), b"[]", Node::RunControl).await?;
    Ok(id)
}

pub async fn spec(client: &Client, id: &RunId) -> Result<RunSpec, ClusterError> {
    zk::get_json(client, &layout::run(id), "run spec")
        .await?
        .map(|(spec, _)| spec)
        .ok_or_else(|| ClusterError::RunNotFound(id.to_string()))
}

pub async fn state(client: &Client, id: &RunId) -> Result<RunState, ClusterError> {
    zk::get_json(client, &layout::run_state(id), "run state")
        .await?
        .map(|(state, _)| state)
        .ok_or_else(|| ClusterError::RunNotFound(id.to_string()))
}

/// Read-modify-write of a run's state with a version check, retried on conflict. `change`
/// returns false to leave the state as it is. Returns the state as written (or found).
pub async fn update_state(
    client: &Client,
    id: &RunId,
    mut change: impl FnMut(&mut RunState) -> bool,
) -> Result<RunState, ClusterError> {
    let path = layout::run_state(id);
    loop {
        let (mut state, stat) = zk::get_json::<RunState>(client, &path, "run state")
            .await?
            .ok_or_else(|| ClusterError::RunNotFound(id.to_string()))?;
        if !change(&mut state) {
            return Ok(state);
        }
        state.updated_at_ms = clock::now_ms();
        let data = zk::to_json(&state, "run state", &path)?;
        match client.set_data(&path, &data, Some(stat.version)).await {
            Ok(_) => return Ok(state),
            Err(ZkError::BadVersion) => continue,
            Err(e) => return Err(ClusterError::zk("write", &path, e)),
        }
    }
}

/// Asks a run to stop; finished runs are left as they are.
pub async fn stop(client: &Client, id: &RunId, reason: &str) -> Result<RunState, ClusterError> {
    update_state(client, id, |state| {
        if state.phase.is_finished() || state.phase == RunPhase::Stopping {
            return false;
        }
        state.phase = RunPhase::Stopping;
        state.reason = Some(reason.to_owned());
        true
    })
    .await
}

/// Pausing and resuming, beside stopping (kept with the pause windows in `crate::run::pauses`).
pub use crate::run::pauses::{pause, resume};

/// Every run, oldest first.
pub async fn list(client: &Client) -> Result<Vec<RunId>, ClusterError> {
    Ok(zk::children(client, layout::RUNS)
        .await?
        .into_iter()
        .map(RunId)
        .collect())
}
