//! What the cluster's integration tests share beyond `ptl_test_support`: the coordinator they
//! run against, agents running the real engine, and submitting without waiting.

use std::sync::Arc;
use std::time::Duration;

use ptl_cluster::agent::engine::RuntimeEngine;
use ptl_cluster::agent::{Agent, AgentConfig};
use ptl_cluster::client::submit::{self, SubmitConfig, Submitted};
use ptl_cluster::coordinator::CoordinatorConfig;
use ptl_cluster::ids::RunId;
use ptl_cluster::zk::ZkConfig;

/// A coordinator that polls every 100 ms and gives agents 10 s past the plan to finish.
pub fn coordinator_config(zk: &ZkConfig) -> CoordinatorConfig {
    CoordinatorConfig {
        zk: zk.clone(),
        id: "coordinator-test".into(),
        summarise: Arc::new(ptl_cluster::coordinator::result::runtime_summary),
        poll: Duration::from_millis(100),
        finish_grace: Duration::from_secs(10),
        trusted_keys: None,
        keep_runs: 50,
        history_intervals: ptl_cluster::coordinator::merged_history::DEFAULT_INTERVALS,
        scale_hook: None,
    }
}

/// Registers agent `name` (polling every 100 ms) and serves runs with the real engine on one
/// worker thread, in a task of its own, for the rest of the test.
pub async fn spawn_engine_agent(zk: &ZkConfig, name: &str) {
    let mut config = AgentConfig::new(zk.clone(), name);
    config.poll = Duration::from_millis(100);
    let agent = Agent::register(&config).await.expect("register");
    let engine = Arc::new(RuntimeEngine {
        workers: Some(1),
        ..Default::default()
    });
    tokio::spawn(async move {
        agent
            .serve(engine, config.poll, ptl_cluster::CancellationToken::new())
            .await
            .expect("agent");
    });
}

/// Submits `config` without waiting for the result: the new run's id.
pub async fn submit_no_wait(mut config: SubmitConfig) -> RunId {
    config.wait = None;
    let Submitted::Created(id) = submit::submit(config).await.expect("submit") else {
        panic!("not waiting")
    };
    id
}
