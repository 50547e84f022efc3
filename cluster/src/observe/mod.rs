//! The cluster seen from outside the coordinator: one [`Observer`] answers what the dashboard (or
//! any other reader) wants to know of the runs — which there are and which are finished, each
//! one's spec, plan, state, assignment, pauses, agents and result ([`RunSnapshot`]), and the
//! interval deltas since a [`DeltaCursor`] the reader keeps — and carries out the operator's
//! stop, pause and resume. It reads the same nodes the coordinator writes and merges, on a
//! session of its own, so any process can observe, leader or not, and a restarted reader
//! rebuilds everything from ZooKeeper.
//!
//! The znode layout stays inside this crate: a reader sees typed values only, so a change in how
//! runs are stored (deltas deleted once merged, batched reports: see [`cursor`]) changes this
//! module, not its readers.

pub mod cursor;
pub mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ptl_bytecode::Plan;
use zookeeper_client::Client;

use crate::coordinator::dashboards;
use crate::plan_store;

pub use crate::error::ClusterError;
pub use crate::ids::{AgentId, PlanHash, RunId};
pub use crate::run::assignment::{Assignment, Share};
pub use crate::run::pauses::{PauseChange, PauseWindow};
pub use crate::run::{DegradedWindow, RunPhase, RunSpec, RunState};
pub use crate::zk::clock::now_ms;
pub use crate::zk::ZkConfig;
pub use cursor::{AgentDelta, DeltaCursor, DeltaRead, Folded, FoldedSpan, Restart};
pub use snapshot::RunSnapshot;

/// A reader's session with the cluster. Cloning shares the session and the plans read.
#[derive(Clone)]
pub struct Observer {
    client: Client,
    /// Plans are content-addressed and never change: each is read and decoded once.
    plans: Arc<Mutex<HashMap<PlanHash, Arc<Plan>>>>,
}

impl Observer {
    /// Opens a session with the cluster's ZooKeeper.
    pub async fn connect(config: &ZkConfig) -> Result<Observer, ClusterError> {
        Ok(Observer {
            client: crate::zk::connect(config).await?,
            plans: Arc::default(),
        })
    }

    /// Every run's id, oldest first (the newest last).
    pub async fn runs(&self) -> Result<Vec<RunId>, ClusterError> {
        crate::run::list(&self.client).await
    }

    /// Whether the run has ended (done or failed); false while it is still being created.
    pub async fn is_finished(&self, id: &RunId) -> Result<bool, ClusterError> {
        match crate::run::state(&self.client, id).await {
            Ok(state) => Ok(state.phase.is_finished()),
            Err(ClusterError::RunNotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The run as it stands; `None` while it is being created.
    pub async fn run(&self, id: &RunId) -> Result<Option<RunSnapshot>, ClusterError> {
        snapshot::read(&self.client, id).await
    }

    /// The plan a run's spec names, decoded (read from ZooKeeper the first time only).
    pub async fn plan(&self, hash: &PlanHash) -> Result<Arc<Plan>, ClusterError> {
        if let Some(plan) = self.cached(hash) {
            return Ok(plan);
        }
        let bytes = plan_store::load(&self.client, hash).await?;
        let plan =
            ptl_bytecode::decode(&bytes).map_err(|e| ClusterError::Bytecode(e.to_string()))?;
        let plan = Arc::new(plan);
        self.plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.clone(), plan.clone());
        Ok(plan)
    }

    fn cached(&self, hash: &PlanHash) -> Option<Arc<Plan>> {
        let plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        plans.get(hash).cloned()
    }

    /// The run's interval deltas after `cursor` (each handed out once), and the cursor moved
    /// past them; with a [`Restart`] first when the cursor had fallen behind the deltas the
    /// coordinator deletes once merged.
    pub async fn deltas(&self, cursor: &mut DeltaCursor) -> Result<DeltaRead, ClusterError> {
        cursor.read_following(&self.client).await
    }

    /// Asks the run to stop, as `ptl stop` does; a finished or stopping run is left as it is.
    /// Returns its state as written (or found).
    pub async fn stop(&self, id: &RunId, reason: &str) -> Result<RunState, ClusterError> {
        crate::run::stop(&self.client, id, reason).await
    }

    /// Pauses a running run, as `ptl pause` does: every agent holds from the same instant.
    pub async fn pause(&self, id: &RunId) -> Result<PauseChange, ClusterError> {
        crate::run::pauses::pause(&self.client, id).await
    }

    /// Resumes a paused run, as `ptl resume` does.
    pub async fn resume(&self, id: &RunId) -> Result<PauseChange, ClusterError> {
        crate::run::pauses::resume(&self.client, id).await
    }

    /// Lists `url` among the cluster's dashboards for as long as this session lives.
    pub async fn announce_dashboard(&self, url: &str) -> Result<(), ClusterError> {
        dashboards::announce(&self.client, url).await
    }

    /// The addresses of the dashboards served now, oldest first, each once.
    pub async fn dashboards(&self) -> Result<Vec<String>, ClusterError> {
        dashboards::urls(&self.client).await
    }
}
