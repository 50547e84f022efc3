//! The cluster as a reader outside the coordinator sees it, through `observe::Observer`: a real
//! ZooKeeper, the coordinator and two agents running the runtime's engine against the counting
//! server on 127.0.0.1. Polled like the dashboard polls, the observer sees the run appear, move
//! through its phases and end with the result, and hands out every delta exactly once: their
//! requests add up to the result's count and to what the server received. Plus control and the
//! dashboards' registry on a run that never gets its agents.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_cluster::client::submit::SubmitConfig;
use ptl_cluster::coordinator;
use ptl_cluster::observe::{
    AgentId, ClusterError, DeltaCursor, Observer, PlanHash, RunPhase, RunSnapshot, ZkConfig,
};
use ptl_test_support::counting_server;
use ptl_test_support::plans::one_request;
use ptl_test_support::ZkServer;

/// 40 arrivals a second for 2 s: 80 requests over the two agents.
fn plan(target: &str) -> Plan {
    Plan {
        name: "observe-test".into(),
        connections: 4,
        max_inflight: 50,
        ..one_request(target, 40.0, 2_000_000)
    }
}

fn submit_config(zk: &ZkConfig, plan: &Plan, agents: u32, agent_wait: Duration) -> SubmitConfig {
    let mut config = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(plan), agents);
    config.agent_wait = agent_wait;
    config.start_delay = Duration::from_millis(500);
    config
}

fn start_coordinator(zk: &ZkConfig) {
    let config = crate::common::coordinator_config(zk);
    tokio::spawn(async move {
        coordinator::run_coordinator(config, ptl_cluster::CancellationToken::new())
            .await
            .expect("coordinator");
    });
}

/// Rank of a phase in a run's life: a run only ever moves forward.
fn rank(phase: RunPhase) -> u8 {
    match phase {
        RunPhase::Pending => 0,
        RunPhase::Running => 1,
        RunPhase::Stopping => 2,
        RunPhase::Done | RunPhase::Failed => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_observer_sees_a_run_through_and_every_delta_exactly_once() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(2));
    start_coordinator(&zk);
    for name in ["agent0", "agent1"] {
        crate::common::spawn_engine_agent(&zk, name).await;
    }
    let target = counting_server::server();
    let plan = plan(&target.url());
    let observer = Observer::connect(&zk).await.expect("connect");
    assert!(observer.runs().await.expect("runs").is_empty());

    let id =
        crate::common::submit_no_wait(submit_config(&zk, &plan, 2, Duration::from_secs(10))).await;
    assert_eq!(observer.runs().await.expect("runs").last(), Some(&id));
    let hash = PlanHash::of(&ptl_bytecode::encode(&plan));
    assert_eq!(*observer.plan(&hash).await.expect("plan"), plan);

    // Polled as the dashboard does: the snapshot, then the deltas since the cursor.
    let mut cursor = DeltaCursor::new(id.clone());
    let mut phases: Vec<RunPhase> = Vec::new();
    let mut polls_with_deltas = 0;
    let mut deltas = 0u64;
    let mut requests: BTreeMap<AgentId, u64> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let last: RunSnapshot = loop {
        assert!(tokio::time::Instant::now() < deadline, "no result");
        let run = observer.run(&id).await.expect("snapshot").expect("created");
        if phases.last() != Some(&run.state.phase) {
            phases.push(run.state.phase);
        }
        let new = observer.deltas(&mut cursor).await.expect("deltas");
        polls_with_deltas += usize::from(!new.is_empty());
        for d in &new {
            deltas += 1;
            *requests.entry(d.agent.clone()).or_default() += d.requests();
        }
        if run.result.is_some() {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert!(
        phases.windows(2).all(|w| rank(w[0]) < rank(w[1])),
        "{phases:?}"
    );
    assert!(phases.contains(&RunPhase::Running), "{phases:?}");
    assert_eq!(phases.last(), Some(&RunPhase::Done));
    assert!(observer.is_finished(&id).await.expect("finished"));
    assert!(polls_with_deltas > 1, "deltas came over several polls");

    let assignment = last.assignment.as_ref().expect("assigned");
    assert_eq!(assignment.shares.len(), 2);
    let fractions: f64 = assignment.shares.iter().map(|s| s.rate_fraction).sum();
    assert!((fractions - 1.0).abs() < 1e-9, "{fractions}");
    let members: Vec<&AgentId> = assignment.shares.iter().map(|s| &s.agent).collect();
    assert_eq!(last.done.iter().collect::<Vec<_>>(), members);
    assert_eq!(cursor.agents().collect::<Vec<_>>(), members);
    assert!(last.degraded().is_empty() && last.pauses.is_empty());
    // Read once the run was done: at least the plan's 2 s after its start.
    assert!(
        last.elapsed() >= Some(Duration::from_secs(2)),
        "{:?}",
        last.elapsed()
    );

    // Exactly once: what the polls were handed is what the coordinator merged and what the
    // server received.
    let result = last.result.as_ref().expect("result");
    let handed: u64 = requests.values().sum();
    assert!(handed > 0);
    assert_eq!(handed, result.total.requests);
    assert_eq!(handed, target.state.hits.load(Ordering::Relaxed));
    assert!(
        requests.values().all(|&r| r > 0),
        "both agents sent: {requests:?}"
    );
    assert_eq!((cursor.missed(), cursor.damaged()), (0, 0));
    // Nothing is handed out twice, and a fresh cursor reads the same deltas in one go.
    assert!(observer
        .deltas(&mut cursor)
        .await
        .expect("deltas")
        .is_empty());
    let mut fresh = DeltaCursor::new(id.clone());
    let all = observer.deltas(&mut fresh).await.expect("deltas");
    assert_eq!(all.len() as u64, deltas);
    assert_eq!(all.iter().map(|d| d.requests()).sum::<u64>(), handed);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_controls_runs_and_lists_dashboards() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(2));
    start_coordinator(&zk);
    let observer = Observer::connect(&zk).await.expect("connect");

    // No agent ever comes: the run waits, pending, until it is stopped.
    let plan = plan("http://127.0.0.1:9");
    let id =
        crate::common::submit_no_wait(submit_config(&zk, &plan, 1, Duration::from_secs(3))).await;
    let run = observer.run(&id).await.expect("snapshot").expect("created");
    assert_eq!(run.spec.plan_name, "observe-test");
    assert!(run.assignment.is_none() && run.result.is_none() && run.elapsed().is_none());
    let error = observer.pause(&id).await.expect_err("pending");
    assert!(
        matches!(error, ClusterError::CannotControl { .. }),
        "{error}"
    );
    assert!(!error.is_transient());
    let state = observer.stop(&id, "observer test").await.expect("stop");
    assert_eq!(state.phase, RunPhase::Stopping);
    assert_eq!(state.reason.as_deref(), Some("observer test"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let ended = loop {
        let run = observer.run(&id).await.expect("snapshot").expect("created");
        if run.state.phase.is_finished() {
            break run;
        }
        assert!(tokio::time::Instant::now() < deadline, "{:?}", run.state);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended.state.phase, RunPhase::Failed);
    assert!(ended.result.is_none());
    assert!(observer.is_finished(&id).await.expect("finished"));
    let mut cursor = DeltaCursor::new(id.clone());
    assert!(observer
        .deltas(&mut cursor)
        .await
        .expect("deltas")
        .is_empty());

    // An unknown run is no snapshot and no error; one never created is not finished.
    let unknown = ptl_cluster::observe::RunId("run-0000009999".into());
    assert!(observer.run(&unknown).await.expect("read").is_none());
    assert!(!observer.is_finished(&unknown).await.expect("read"));

    // The dashboards' registry lives with each observer's session.
    let other = Observer::connect(&zk).await.expect("connect");
    observer
        .announce_dashboard("http://a.example:9090")
        .await
        .expect("announce");
    other
        .announce_dashboard("http://b.example:9090")
        .await
        .expect("announce");
    assert_eq!(
        observer.dashboards().await.expect("list"),
        ["http://a.example:9090", "http://b.example:9090"]
    );
    drop(other);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while observer.dashboards().await.expect("list").len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "b is still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        observer.dashboards().await.expect("list"),
        ["http://a.example:9090"]
    );
    drop(server);
}
