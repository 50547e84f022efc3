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
        stop_at_knee: false,
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
        history_intervals: ptl_cluster::coordinator::merged_history::DEFAULT_INTERVALS,
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

/// An agent whose session stays alive but that never reports nor says done (hung, or far
/// behind): the coordinator stops waiting once the grace runs out, and the result says the run
/// is incomplete, counting what that agent may have sent as unreported, not as nobody's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_still_going_when_the_grace_runs_out_degrades_the_run() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string());
    let config = CoordinatorConfig {
        finish_grace: Duration::from_secs(1),
        ..crate::common::coordinator_config(&zk)
    };
    tokio::spawn(coordinator::run_coordinator(
        config,
        ptl_cluster::CancellationToken::new(),
    ));
    let client = zk::connect(&zk).await.expect("connect");
    let hung = registry::register(&client, &info("hung", env!("CARGO_PKG_VERSION"), 0))
        .await
        .expect("register");

    // 10 arrivals a second for 2 s: the hung agent's whole share.
    let plan = ptl_test_support::plans::one_request("http://127.0.0.1:9", 10.0, 2_000_000);
    let mut submit = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(&plan), 1);
    submit.agent_wait = Duration::from_secs(5);
    submit.start_delay = Duration::from_millis(300);
    submit.wait = Some(Duration::from_secs(30));
    let submitted = submit::submit(submit).await.expect("a result");
    let submit::Submitted::Finished(_, result) = submitted else {
        panic!("waited for the result")
    };
    let accounting = result.accounting.as_ref().expect("accounting");
    assert_eq!(accounting.reported, 0);
    assert!(accounting.degraded, "{accounting:?}");
    let reasons = accounting.reasons.join("; ");
    assert!(
        reasons.contains(&format!("{hung}: had not finished its part")),
        "{reasons}"
    );
    // Everything planned is the hung agent's to account for: unreported, not nobody's.
    assert!(accounting.planned > 0);
    assert_eq!(accounting.unreported, accounting.planned, "{accounting:?}");
    assert_eq!(accounting.lost_share, 0, "{accounting:?}");
}
