//! Agents that may not take part in a run are refused by the coordinator, and the run's failure
//! says which and why: an older ptl, a clock beyond the tolerance. Against a real ZooKeeper.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ptl_bytecode::{Load, Phase, Plan};
use ptl_cluster::agent::registry::{self, AgentInfo};
use ptl_cluster::client::submit::{self, SubmitConfig};
use ptl_cluster::coordinator::{self, CoordinatorConfig};
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::ClusterError;
use ptl_test_support::ZkServer;

fn plan() -> Plan {
    Plan {
        name: "refusals".into(),
        target: "http://127.0.0.1:9".into(),
        timeout_us: 1_000_000,
        connections: 1,
        seed: 1,
        max_inflight: 1,
        overflow: ptl_bytecode::Overflow::Drop,
        http: ptl_bytecode::HttpVersion::Http1,
        params: vec![],
        consts: vec![],
        datasets: vec![],
        vars: vec![],
        headers: vec![],
        scenarios: vec![],
        phases: vec![Phase {
            name: "p".into(),
            load: Load::Pause {
                duration_us: 100_000,
            },
            arrivals: ptl_bytecode::Arrivals::Uniform,
            max_inflight: None,
            overflow: None,
            injections: vec![],
            mix: None,
        }],
        thresholds: vec![],
        hosts: vec![],
        target_envs: vec![],
        tags: vec![],
    }
}

fn info(name: &str, version: &str, clock_offset_ms: i64) -> AgentInfo {
    AgentInfo {
        name: name.into(),
        host: "test".into(),
        version: version.into(),
        bytecode_version: ptl_bytecode::FORMAT_VERSION,
        capacity: None,
        labels: BTreeMap::new(),
        clock_offset_ms: Some(clock_offset_ms),
        zk_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_skewed_agents_are_refused_with_the_reason() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string());
    let config = CoordinatorConfig {
        zk: zk.clone(),
        id: "refusing-coordinator".into(),
        summarise: Arc::new(ptl_cluster::coordinator::result::runtime_summary),
        poll: Duration::from_millis(100),
        finish_grace: Duration::from_secs(5),
        trusted_keys: None,
        keep_runs: 50,
        scale_hook: None,
    };
    tokio::spawn(coordinator::run_coordinator(
        config,
        ptl_cluster::CancellationToken::new(),
    ));

    let client = zk::connect(&zk).await.expect("connect");
    let old = registry::register(&client, &info("old", "0.0.1", 0))
        .await
        .expect("register");
    let skewed = registry::register(&client, &info("skewed", env!("CARGO_PKG_VERSION"), 5_000))
        .await
        .expect("register");

    let mut submit = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(&plan()), 1);
    submit.agent_wait = Duration::from_millis(800);
    submit.wait = Some(Duration::from_secs(20));
    let error = submit::submit(submit).await.expect_err("no eligible agent");
    let ClusterError::RunFailed { reason, .. } = &error else {
        panic!("unexpected {error}");
    };
    assert!(
        reason.contains("wants 1 agent(s) but only 0 registered"),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("{old} runs ptl 0.0.1, older than")),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("{skewed} has a clock off by 5000 ms")),
        "{reason}"
    );
}
