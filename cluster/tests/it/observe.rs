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
use ptl_cluster::coordinator::merge_mark::FOLD_EVERY;
use ptl_cluster::observe::{
    AgentId, ClusterError, DeltaCursor, Folded, Observer, PlanHash, RunPhase, RunSnapshot, ZkConfig,
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
    // A history of three intervals: runs of a few seconds already merge it, so a reader that
    // restarts reads merged intervals, while folds replace them under it.
    let config = ptl_cluster::coordinator::CoordinatorConfig {
        history_intervals: 3,
        ..crate::common::coordinator_config(zk)
    };
    tokio::spawn(async move {
        coordinator::run_coordinator(config, ptl_cluster::CancellationToken::new())
            .await
            .expect("coordinator");
    });
}

/// ZooKeeper, a coordinator and two agents running the engine, and the counting target.
async fn two_agents() -> (ZkServer, ZkConfig, counting_server::TestServer) {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(2));
    start_coordinator(&zk);
    for name in ["agent0", "agent1"] {
        crate::common::spawn_engine_agent(&zk, name).await;
    }
    (server, zk, counting_server::server())
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
    let (server, zk, target) = two_agents().await;
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
    let mut restarts = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let last: RunSnapshot = loop {
        assert!(tokio::time::Instant::now() < deadline, "no result");
        let run = observer.run(&id).await.expect("snapshot").expect("created");
        if phases.last() != Some(&run.state.phase) {
            phases.push(run.state.phase);
        }
        let read = observer.deltas(&mut cursor).await.expect("deltas");
        if let Some(restart) = read.restart {
            // Behind the coordinator's deletions (a slow poll): the folded part replaces ours.
            restarts += 1;
            deltas = restart.agents.values().map(|f| f.deltas).sum();
            requests = restart
                .agents
                .iter()
                .map(|(agent, f)| (agent.clone(), f.requests))
                .collect();
        }
        let new = read.deltas;
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
    assert!(restarts <= 1, "polled every 100 ms: {restarts} restarts");
    // Nothing is handed out twice, and a fresh cursor reads the same in one go.
    let again = observer.deltas(&mut cursor).await.expect("deltas");
    assert!(again.restart.is_none() && again.deltas.is_empty());
    let mut fresh = DeltaCursor::new(id.clone());
    let all = observer.deltas(&mut fresh).await.expect("deltas");
    let folded = all.restart.unwrap_or_default();
    let count = |f: fn(&Folded) -> u64| folded.agents.values().map(f).sum::<u64>();
    assert_eq!(all.deltas.len() as u64 + count(|f| f.deltas), deltas);
    assert_eq!(
        all.deltas.iter().map(|d| d.requests()).sum::<u64>() + count(|f| f.requests),
        handed
    );
    drop(server);
}

/// What a reader holds of a run: per agent, its deltas and requests.
#[derive(Default)]
struct Held {
    requests: BTreeMap<AgentId, u64>,
    seconds: u64,
    /// The widest interval any restart was handed.
    widest: u64,
}

impl Held {
    fn take(&mut self, read: ptl_cluster::observe::DeltaRead) -> bool {
        let restarted = read.restart.is_some();
        if let Some(restart) = read.restart {
            let in_seconds: u64 = restart
                .spans
                .iter()
                .flat_map(|s| &s.delta.recorded.request)
                .map(|r| r.completed)
                .sum();
            let by_agent: u64 = restart.agents.values().map(|f| f.requests).sum();
            assert_eq!(in_seconds, by_agent, "the batches hold what the mark says");
            self.seconds = restart.spans.iter().map(|s| s.seconds).sum();
            let widest = restart.spans.iter().map(|s| s.seconds).max();
            self.widest = self.widest.max(widest.unwrap_or(0));
            self.requests = restart
                .agents
                .into_iter()
                .map(|(agent, f)| (agent, f.requests))
                .collect();
        }
        for d in &read.deltas {
            *self.requests.entry(d.agent.clone()).or_default() += d.requests();
        }
        restarted
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_behind_the_deleted_deltas_restarts_from_the_folded_seconds_exactly() {
    let (server, zk, target) = two_agents().await;
    let plan = Plan {
        name: "observe-late".into(),
        connections: 4,
        max_inflight: 50,
        ..one_request(&target.url(), 40.0, 7_000_000)
    };
    let observer = Observer::connect(&zk).await.expect("connect");
    let id =
        crate::common::submit_no_wait(submit_config(&zk, &plan, 2, Duration::from_secs(10))).await;

    // The reader comes once the coordinator has folded seconds and deleted their deltas.
    let client = ptl_cluster::zk::connect(&zk).await.expect("connect");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mark = ptl_cluster::coordinator::merge_mark::read_mark(&client, &id)
            .await
            .expect("mark");
        if mark.is_some_and(|(m, _)| m.batches > 0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no fold");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut cursor = DeltaCursor::new(id.clone());
    let mut held = Held::default();
    assert!(
        held.take(observer.deltas(&mut cursor).await.expect("deltas")),
        "a late reader starts from the folded seconds"
    );
    assert!(held.seconds > 0);

    // Then it polls more slowly than the coordinator folds: it falls behind again and again.
    let last = loop {
        assert!(tokio::time::Instant::now() < deadline, "no result");
        let run = observer.run(&id).await.expect("snapshot").expect("created");
        held.take(observer.deltas(&mut cursor).await.expect("deltas"));
        if run.result.is_some() {
            break run;
        }
        tokio::time::sleep(FOLD_EVERY * 2).await;
    };
    let result = last.result.as_ref().expect("result");
    let handed: u64 = held.requests.values().sum();
    assert!(handed > 200, "{handed}");
    assert_eq!(handed, result.total.requests);
    assert_eq!(handed, target.state.hits.load(Ordering::Relaxed));
    assert_eq!(held.requests.len(), 2, "{:?}", held.requests);
    assert_eq!((cursor.missed(), cursor.damaged()), (0, 0));
    assert!(held.widest > 1, "a restart read merged intervals");
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
        .deltas
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
