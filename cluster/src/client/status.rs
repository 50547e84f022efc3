//! `ptl status`, `ptl stop`, `ptl pause` and `ptl resume`: what the cluster holds now, and
//! asking a run to stop, hold or go on.

use crate::agent::registry::{self, RegisteredAgent};
use crate::coordinator::election;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::run::pauses::{self, PauseChange, PauseWindow};
use crate::run::{self, RunSpec, RunState};
use crate::zk::{self, ZkConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub spec: RunSpec,
    pub state: RunState,
    /// Its pause windows, oldest first (ZooKeeper clock).
    pub pauses: Vec<PauseWindow>,
}

impl RunSummary {
    /// Running, with its last pause window open: shown as `paused`.
    pub fn is_paused(&self) -> bool {
        self.state.phase == crate::run::RunPhase::Running && pauses::is_paused(&self.pauses)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterStatus {
    /// The leading coordinator's id, if one runs.
    pub coordinator: Option<String>,
    pub agents: Vec<RegisteredAgent>,
    /// Oldest first.
    pub runs: Vec<RunSummary>,
}

pub async fn status(config: &ZkConfig) -> Result<ClusterStatus, ClusterError> {
    let client = zk::connect(config).await?;
    let mut runs = Vec::new();
    for id in run::list(&client).await? {
        // A run being created has its spec before its state: skip it until it is whole.
        let (Ok(spec), Ok(state)) = (
            run::spec(&client, &id).await,
            run::state(&client, &id).await,
        ) else {
            continue;
        };
        let pauses = pauses::windows(&client, &id).await.unwrap_or_default();
        runs.push(RunSummary {
            id,
            spec,
            state,
            pauses,
        });
    }
    Ok(ClusterStatus {
        coordinator: election::leader(&client).await?,
        agents: registry::list(&client).await?,
        runs,
    })
}

/// Asks a run to stop; its agents stop and the coordinator writes the (early) result.
pub async fn stop(config: &ZkConfig, id: &RunId) -> Result<RunState, ClusterError> {
    let client = zk::connect(config).await?;
    run::spec(&client, id).await?;
    run::stop(&client, id, "ptl stop").await
}

/// Pauses a running run (`ptl pause`): every agent holds from the same instant, shortly ahead.
pub async fn pause(config: &ZkConfig, id: &RunId) -> Result<PauseChange, ClusterError> {
    let client = zk::connect(config).await?;
    pauses::pause(&client, id).await
}

/// Resumes a paused run (`ptl resume`): every agent goes on from the same instant.
pub async fn resume(config: &ZkConfig, id: &RunId) -> Result<PauseChange, ClusterError> {
    let client = zk::connect(config).await?;
    pauses::resume(&client, id).await
}
