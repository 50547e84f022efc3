//! One run as it stands in ZooKeeper, read in one go for a reader that follows it: what was
//! submitted, where it is, who takes part and whether they are done, its pauses, and the result
//! once written.

use std::collections::BTreeSet;
use std::time::Duration;

use ptl_engine::result::{DegradedWindow as ResultDegraded, PauseWindow as ResultPause, RunResult};
use zookeeper_client::Client;

use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::run::assignment::Assignment;
use crate::run::pauses::{self, PauseWindow};
use crate::run::{self, RunPhase, RunSpec, RunState};
use crate::zk;
use crate::zk::clock;
use crate::zk::layout;

/// A run as it stood when read. Instants are ZooKeeper's clock, Unix ms, as stored; the methods
/// turn them into times from the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSnapshot {
    pub id: RunId,
    /// What was submitted (plan name and hash, agents wanted, start options).
    pub spec: RunSpec,
    /// Phase, reason, degraded windows.
    pub state: RunState,
    /// The start instant and every agent's share; `None` until the coordinator assigns it.
    pub assignment: Option<Assignment>,
    /// Oldest first; the last one open while paused.
    pub pauses: Vec<PauseWindow>,
    /// Agents that sent their last delta.
    pub done: BTreeSet<AgentId>,
    /// Agents registered with the cluster now (their session is alive), in the run or not.
    pub alive: BTreeSet<AgentId>,
    /// The final result, once the coordinator has written it (the phase is `done` then).
    pub result: Option<RunResult>,
    /// This machine's clock, Unix ms, when it was read.
    pub observed_at_ms: i64,
}

impl RunSnapshot {
    /// The run's start instant, once assigned.
    pub fn start_at_ms(&self) -> Option<i64> {
        self.assignment.as_ref().map(|a| a.start_at_ms)
    }

    /// How far into the run it was when read (zero before the start).
    pub fn elapsed(&self) -> Option<Duration> {
        let start = self.start_at_ms()?;
        Some(Duration::from_millis(
            (self.observed_at_ms - start).max(0) as u64
        ))
    }

    /// Running with its last pause window open: held, or about to be.
    pub fn is_paused(&self) -> bool {
        self.state.phase == RunPhase::Running && pauses::is_paused(&self.pauses)
    }

    /// The stretches with an agent lost, in seconds from the start, as the result will list
    /// them (empty before the start is assigned).
    pub fn degraded(&self) -> Vec<ResultDegraded> {
        let Some(start) = self.start_at_ms() else {
            return Vec::new();
        };
        self.state
            .degraded
            .iter()
            .map(|w| w.from_start(start))
            .collect()
    }

    /// The pauses in milliseconds from the start (empty before the start is assigned).
    pub fn pauses_from_start(&self) -> Vec<ResultPause> {
        let Some(start) = self.start_at_ms() else {
            return Vec::new();
        };
        let since = |ms: i64| (ms - start).max(0) as u64;
        self.pauses
            .iter()
            .map(|w| ResultPause {
                start_ms: since(w.at_ms),
                end_ms: w.until_ms.map(since),
            })
            .collect()
    }
}

/// Reads the run; `None` while it is being created (its spec is written before its state).
pub(crate) async fn read(client: &Client, id: &RunId) -> Result<Option<RunSnapshot>, ClusterError> {
    let Some((state, _)) =
        zk::get_json::<RunState>(client, &layout::run_state(id), "run state").await?
    else {
        return Ok(None);
    };
    let spec = run::spec(client, id).await?;
    let assignment = zk::get_json::<Assignment>(client, &layout::run_assignment(id), "assignment")
        .await?
        .map(|(a, _)| a);
    let pauses = pauses::windows(client, id).await?;
    let done = zk::written_children(client, &layout::run_done(id))
        .await?
        .into_iter()
        .map(|(name, _)| AgentId(name))
        .collect();
    let alive = agents_under(client, layout::AGENTS).await?;
    // The coordinator writes the result before it marks the run done.
    let result = match state.phase {
        RunPhase::Done => zk::get_json::<RunResult>(client, &layout::run_result(id), "run result")
            .await?
            .map(|(r, _)| r),
        _ => None,
    };
    Ok(Some(RunSnapshot {
        id: id.clone(),
        spec,
        state,
        assignment,
        pauses,
        done,
        alive,
        result,
        observed_at_ms: clock::now_ms(),
    }))
}

async fn agents_under(client: &Client, dir: &str) -> Result<BTreeSet<AgentId>, ClusterError> {
    Ok(zk::children(client, dir)
        .await?
        .into_iter()
        .map(AgentId)
        .collect())
}
