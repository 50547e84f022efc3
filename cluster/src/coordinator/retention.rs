//! Keeping ZooKeeper's footprint bounded across runs. ZooKeeper holds its whole tree in memory,
//! so nothing ptl writes may accumulate forever:
//! - during a run the leader deletes deltas once folded into its merge mark
//!   (`coordinator::merge_mark`), whose history stays within `--history-intervals` nodes; a
//!   finished run's delta nodes and history go once its merged record, result and `done` state
//!   are written (the record holds every histogram the deltas did) and [`FINISHED_GRACE`] has
//!   passed; a coordinator that crashed before deleting them leaves them to the next sweep;
//! - only the newest `keep_runs` finished runs are kept (`ptl coordinator --keep-runs`, default
//!   50): older ones are deleted whole. With 0, a run goes as soon as its submitter collected the
//!   result (`collected`) or [`FINISHED_GRACE`] after it finished;
//! - a plan no run refers to any more goes once it is older than [`PLAN_GRACE`] (a submit stores
//!   the plan, or touches it when already stored, before it creates the run, so a younger one
//!   may be about to be used).
//!
//! The leader sweeps from its main loop, at most every 2 s; every delete tolerates a node already
//! gone.

use std::collections::HashSet;
use std::time::Duration;

use zookeeper_client::Client;

use crate::access::Node;
use crate::error::ClusterError;
use crate::ids::{PlanHash, RunId};
use crate::run::{self, RunPhase};
use crate::zk::{self, clock, layout};

/// How long a finished run stays whole: its deltas for readers still catching up on them (a
/// dashboard), and, when no runs are kept, the run for a submitter that has not collected its
/// result.
pub const FINISHED_GRACE: Duration = Duration::from_secs(10);

/// How old an unreferenced plan must be before it is deleted.
pub const PLAN_GRACE: Duration = Duration::from_secs(60);

/// What one sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub delta_folders: usize,
    pub runs: usize,
    pub plans: usize,
}

/// Deletes what finished runs no longer need, and the runs and plans beyond retention.
pub async fn sweep(client: &Client, keep_runs: usize) -> Result<Swept, ClusterError> {
    let mut swept = Swept::default();
    let now = clock::now_ms();
    // Every run's plan, and the finished runs with when they finished.
    let mut plans = Vec::new();
    let mut finished = Vec::new();
    for id in run::list(client).await? {
        if let Ok(spec) = run::spec(client, &id).await {
            plans.push((id.clone(), spec.plan_hash.to_string()));
        }
        let Ok(state) = run::state(client, &id).await else {
            continue;
        };
        if !state.phase.is_finished() {
            continue;
        }
        // Failed runs may never have had a result; done ones have theirs and their record.
        // The deltas, and the history the coordinator folded them into during the run.
        let folders = [layout::run_reports(&id), layout::run_merged(&id)];
        let grace_over = now - state.updated_at_ms >= FINISHED_GRACE.as_millis() as i64;
        if grace_over
            && (exists(client, &folders[0]).await? || exists(client, &folders[1]).await?)
            && (state.phase == RunPhase::Failed || has_result(client, &id).await?)
        {
            for folder in &folders {
                zk::delete_tree(client, folder).await?;
            }
            swept.delta_folders += 1;
        }
        finished.push((id, state.updated_at_ms));
    }
    // Newest first: run ids are sequential.
    finished.sort_by(|a, b| b.0.cmp(&a.0));
    let mut deleted = HashSet::new();
    for (id, finished_at_ms) in finished.into_iter().skip(keep_runs) {
        if keep_runs == 0 {
            let waited = now - finished_at_ms >= FINISHED_GRACE.as_millis() as i64;
            if !waited && !collected(client, &id).await? {
                continue;
            }
        }
        zk::delete_tree(client, &layout::run(&id)).await?;
        deleted.insert(id);
        swept.runs += 1;
    }
    // Plans referenced only by deleted runs; a run left keeps its plan, and one created since
    // the listing finds its plan young (`plan_store::store` touches it).
    let live_plans: HashSet<String> = plans
        .into_iter()
        .filter(|(id, _)| !deleted.contains(id))
        .map(|(_, plan)| plan)
        .collect();
    for name in zk::children(client, layout::PLANS).await? {
        if live_plans.contains(&name) {
            continue;
        }
        let Ok(hash) = PlanHash::parse(&name) else {
            continue;
        };
        let path = layout::plan(&hash);
        let Some(stat) = client
            .check_stat(&path)
            .await
            .map_err(|e| ClusterError::zk("read", &path, e))?
        else {
            continue;
        };
        if now - stat.mtime >= PLAN_GRACE.as_millis() as i64 {
            zk::delete_tree(client, &path).await?;
            swept.plans += 1;
        }
    }
    Ok(swept)
}

async fn has_result(client: &Client, id: &RunId) -> Result<bool, ClusterError> {
    exists(client, &layout::run_result(id)).await
}

async fn exists(client: &Client, path: &str) -> Result<bool, ClusterError> {
    Ok(client
        .check_stat(path)
        .await
        .map_err(|e| ClusterError::zk("read", path, e))?
        .is_some())
}

async fn collected(client: &Client, id: &RunId) -> Result<bool, ClusterError> {
    let path = layout::run_collected(id);
    Ok(client
        .check_stat(&path)
        .await
        .map_err(|e| ClusterError::zk("read", &path, e))?
        .is_some())
}

/// Marks run `id`'s result as collected by its submitter (best effort: retention falls back
/// on [`FINISHED_GRACE`]).
pub async fn mark_collected(client: &Client, id: &RunId) {
    let _ = zk::create_if_missing(client, &layout::run_collected(id), b"", Node::Collected).await;
}
