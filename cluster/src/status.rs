//! `ptl status` and `ptl stop`: what the cluster holds now, and asking a run to stop.

use crate::agent_registry::{self, RegisteredAgent};
use crate::election;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::run::{self, RunSpec, RunState};
use crate::zk::{self, ZkConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: RunId,
    pub spec: RunSpec,
    pub state: RunState,
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
        runs.push(RunSummary { id, spec, state });
    }
    Ok(ClusterStatus {
        coordinator: election::leader(&client).await?,
        agents: agent_registry::list(&client).await?,
        runs,
    })
}

/// Asks a run to stop; its agents stop and the coordinator writes the (early) result.
pub async fn stop(config: &ZkConfig, id: &RunId) -> Result<RunState, ClusterError> {
    let client = zk::connect(config).await?;
    run::spec(&client, id).await?;
    run::stop(&client, id, "ptl stop").await
}
