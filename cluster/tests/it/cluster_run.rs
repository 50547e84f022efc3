//! Agents, a coordinator and submit together against a real ZooKeeper, with a stand-in engine
//! that reports known counts through the real `Coordination`, so every number can be checked:
//! shares follow capacity, starts agree, the merged count is exactly the sum of what agents
//! sent, an agent's loss is rebalanced at a new epoch and recorded. Plus the bad cases.
//!
//! The HTTP engine itself is not in these tests: the stand-in replaces it. The final JSON is
//! rendered by the runtime's summary code from the merged record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_cluster::agent::{Agent, AgentConfig, Engine};
use ptl_cluster::client::submit::{self, SubmitConfig, Submitted};
use ptl_cluster::coordinator::{self, LiveView};
use ptl_cluster::ids::RunId;
use ptl_cluster::run::assignment::Assignment;
use ptl_cluster::run::{self, LossPolicy, RunPhase};
use ptl_cluster::zk::clock;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::{coordinator::merged_record, zk::layout, ClusterError};
use ptl_engine::coordination::{BoxFuture, Coordination};
use ptl_engine::record::{IntervalDelta, Outcome, Recorded, Timing};
use ptl_engine::vm::AgentShare;
use ptl_test_support::plans::{one_request, NOWHERE};
use ptl_test_support::ZkServer;

const RATE: f64 = 1000.0;

fn plan(duration_ms: u64) -> Plan {
    Plan {
        name: "cluster-test".into(),
        connections: 4,
        max_inflight: 100,
        ..one_request(NOWHERE, RATE, duration_ms * 1000)
    }
}

/// What one stand-in agent did.
#[derive(Debug, Clone, Default)]
struct Sent {
    started_at_ms: i64,
    requests: u64,
    rate_fraction: f64,
}

/// Sends `rate × fraction` requests per 100 ms window for the plan's duration, as deltas.
struct StandIn {
    name: String,
    log: Arc<Mutex<BTreeMap<String, Sent>>>,
}

impl Engine for StandIn {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), ptl_engine::error::RuntimeError>> {
        Box::pin(async move {
            let start = coordination.start().await?;
            tokio::time::sleep_until(start.into()).await;
            let started_at_ms = clock::now_ms();
            let duration_ms = plan.phases[0].load.duration_us() / 1000;
            let per_window = (RATE * share.rate_fraction / 10.0).round() as u64;
            let mut sent = 0;
            for window in 0..duration_ms / 100 {
                let mut recorded = Recorded::new(1, 1, 1);
                for i in 0..per_window {
                    let timing = Timing {
                        response_us: 1000 + i,
                        service_us: 900,
                        lag_us: 10,
                    };
                    recorded.exchange(0, 0, Some(timing), Outcome::Success { status: 200 });
                }
                sent += per_window;
                coordination.report(&IntervalDelta {
                    agent: share.index,
                    window,
                    recorded,
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            self.log.lock().expect("log").insert(
                self.name.clone(),
                Sent {
                    started_at_ms,
                    requests: sent,
                    rate_fraction: share.rate_fraction,
                },
            );
            Ok(())
        })
    }
}

struct Cluster {
    server: ZkServer,
    zk: ZkConfig,
    log: Arc<Mutex<BTreeMap<String, Sent>>>,
    agents: Vec<(String, tokio::task::JoinHandle<()>)>,
    coordinator: tokio::task::JoinHandle<()>,
}

async fn cluster(capacities: &[Option<f64>]) -> Cluster {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(2));
    let config = crate::common::coordinator_config(&zk);
    let coordinator = tokio::spawn(async move {
        coordinator::run_coordinator(config, ptl_cluster::CancellationToken::new())
            .await
            .expect("coordinator");
    });
    let log = Arc::new(Mutex::new(BTreeMap::new()));
    let mut agents = Vec::new();
    for (i, capacity) in capacities.iter().enumerate() {
        agents.push(spawn_agent(&zk, &format!("agent{i}"), *capacity, &log).await);
    }
    Cluster {
        server,
        zk,
        log,
        agents,
        coordinator,
    }
}

/// Registers a stand-in agent (before returning, so a run sees it) and serves runs with it.
async fn spawn_agent(
    zk: &ZkConfig,
    name: &str,
    capacity: Option<f64>,
    log: &Arc<Mutex<BTreeMap<String, Sent>>>,
) -> (String, tokio::task::JoinHandle<()>) {
    let mut config = AgentConfig::new(zk.clone(), name);
    config.capacity = capacity;
    config.poll = Duration::from_millis(100);
    let agent = Agent::register(&config).await.expect("register");
    let engine = Arc::new(StandIn {
        name: name.to_string(),
        log: log.clone(),
    });
    let handle = tokio::spawn(async move {
        agent
            .serve(engine, config.poll, ptl_cluster::CancellationToken::new())
            .await
            .expect("agent");
    });
    (name.to_string(), handle)
}

fn submit_config(zk: &ZkConfig, plan: &Plan, agents: u32) -> SubmitConfig {
    let mut config = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(plan), agents);
    config.agent_wait = Duration::from_secs(5);
    config.start_delay = Duration::from_millis(500);
    config.wait = Some(Duration::from_secs(30));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_agents_share_by_capacity_start_together_and_merge_exactly() {
    let cluster = cluster(&[Some(1000.0), Some(1000.0), Some(2000.0)]).await;
    let plan = plan(1000);
    let submitted = submit::submit(submit_config(&cluster.zk, &plan, 3))
        .await
        .expect("submit");
    let Submitted::Finished(id, result) = submitted else {
        panic!("waited")
    };

    let log = cluster.log.lock().expect("log").clone();
    assert_eq!(log.len(), 3, "{log:?}");
    let sent: u64 = log.values().map(|s| s.requests).sum();
    // Rendered by the runtime's summary: the same schema and per-phase numbers as `ptl run`.
    assert_eq!(result.phases.len(), 1);
    assert_eq!(result.phases[0].request_count, sent);
    assert_eq!(
        result.plan_hash,
        ptl_cluster::ids::PlanHash::of(&ptl_bytecode::encode(&plan)).to_string()
    );
    assert_eq!(
        result.total.requests, sent,
        "merged count is the sum of what agents sent"
    );
    // Shares follow capacity 1:1:2, so the plan's total rate is kept (within rounding).
    let fractions: Vec<f64> = log.values().map(|s| s.rate_fraction).collect();
    assert_eq!(fractions, [0.25, 0.25, 0.5]);
    let planned = (RATE * 1.0) as u64;
    assert!(
        sent.abs_diff(planned) * 50 <= planned,
        "sent {sent} vs planned {planned}"
    );
    // One start instant for all: in one process they share a clock, so they agree closely.
    let starts: Vec<i64> = log.values().map(|s| s.started_at_ms).collect();
    let skew = starts.iter().max().unwrap_or(&0) - starts.iter().min().unwrap_or(&0);
    assert!(skew <= 50, "start skew {skew} ms");

    let client = zk::connect(&cluster.zk).await.expect("connect");
    let (live, _) = zk::get_json::<LiveView>(&client, &layout::run_live(&id), "live")
        .await
        .expect("read")
        .expect("live view");
    assert_eq!(live.requests, sent);
    let by_agent: u64 = live.agent_requests.values().sum();
    assert_eq!(by_agent, sent);
    let state = run::state(&client, &id).await.expect("state");
    assert_eq!(state.phase, RunPhase::Done);
    assert!(state.degraded.is_empty());

    // The merged record behind the result is kept: every histogram value every agent sent,
    // which the runtime's own writer turns into the HdrHistogram log.
    let outcome = merged_record::load_outcome(&client, &id, &plan, (*result).clone())
        .await
        .expect("merged record");
    let stats = outcome
        .recorded
        .request_stats(0, 0)
        .expect("the one request");
    assert_eq!(stats.completed, sent);
    let histogram = &stats.latency.as_ref().expect("latencies").response;
    assert_eq!(histogram.len(), sent);
    assert_eq!(outcome.phases.len(), 1);
    assert_eq!(
        outcome.phases[0].ran.as_secs_f64(),
        result.phases[0].duration_s
    );
    let mut log = Vec::new();
    ptl_report::hdr_log::write(&outcome, &mut log).expect("hdr log");
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let tags: Vec<Option<String>> = IntervalLogIterator::new(&log)
        .filter_map(|e| match e {
            Ok(LogEntry::Interval(h)) => Some(h.tag().map(|t| t.as_str().to_string())),
            _ => None,
        })
        .collect();
    let tag = format!("{}/home", outcome.phases[0].name);
    assert_eq!(tags, [None, Some(tag)]);
    drop(cluster.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_agent_is_rebalanced_at_a_new_epoch_and_recorded() {
    let cluster = cluster(&[None, None, None]).await;
    let plan = plan(3000);
    let id = crate::common::submit_no_wait(submit_config(&cluster.zk, &plan, 3)).await;

    let client = zk::connect(&cluster.zk).await.expect("connect");
    // Let the run start, then kill one agent: its task (and so its session) ends.
    wait_for_phase(&client, &id, RunPhase::Running).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (lost_name, lost_task) = &cluster.agents[1];
    lost_task.abort();

    let result = submit::wait_for_result(&client, &id, Duration::from_secs(30))
        .await
        .expect("result");
    let state = run::state(&client, &id).await.expect("state");
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    assert_eq!(state.degraded[0].epoch, 1);
    assert!(state.degraded[0].until_ms.is_some());
    let (assignment, _) =
        zk::get_json::<Assignment>(&client, &layout::run_assignment(&id), "assignment")
            .await
            .expect("read")
            .expect("assignment");
    assert_eq!(assignment.epoch, 1);
    assert_eq!(assignment.shares.len(), 2);
    let sum: f64 = assignment.shares.iter().map(|s| s.rate_fraction).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    // The lost agent's deltas up to its death are in the result; it never finished.
    let log = cluster.log.lock().expect("log").clone();
    assert!(!log.contains_key(lost_name));
    let survivors: u64 = log.values().map(|s| s.requests).sum();
    assert!(
        result.total.requests > survivors,
        "the lost agent's early deltas count too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_leader_resumes_a_run_with_an_agent_lost_before_it_took_over() {
    let cluster = cluster(&[None, None, None]).await;
    let plan = plan(4000);
    let id = crate::common::submit_no_wait(submit_config(&cluster.zk, &plan, 3)).await;
    let client = zk::connect(&cluster.zk).await.expect("connect");
    wait_for_phase(&client, &id, RunPhase::Running).await;
    // An agent is lost and rebalanced under the first leader…
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (lost_name, lost_task) = &cluster.agents[1];
    lost_task.abort();
    for _ in 0..100 {
        if run::state(&client, &id)
            .await
            .is_ok_and(|s| !s.degraded.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // … which then dies (its session ends with it); a second coordinator takes over.
    cluster.coordinator.abort();
    let mut second = crate::common::coordinator_config(&cluster.zk);
    second.id = "coordinator-second".into();
    let _second = tokio::spawn(async move {
        coordinator::run_coordinator(second, ptl_cluster::CancellationToken::new())
            .await
            .expect("second coordinator");
    });

    let result = submit::wait_for_result(&client, &id, Duration::from_secs(30))
        .await
        .expect("result");
    let state = run::state(&client, &id).await.expect("state");
    assert_eq!(state.coordinator.as_deref(), Some("coordinator-second"));
    // The loss is recorded once, and the lost agent is a member the new leader read back
    // from the assignment: its deltas before it died are in the result.
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    let (assignment, _) =
        zk::get_json::<Assignment>(&client, &layout::run_assignment(&id), "assignment")
            .await
            .expect("read")
            .expect("assignment");
    assert_eq!(assignment.epoch, 1);
    assert_eq!(assignment.departed.len(), 1);
    assert_eq!(assignment.departed[0].agent.0, state.degraded[0].agent);
    let log = cluster.log.lock().expect("log").clone();
    assert!(!log.contains_key(lost_name));
    let survivors: u64 = log.values().map(|s| s.requests).sum();
    let (live, _) = zk::get_json::<LiveView>(&client, &layout::run_live(&id), "live")
        .await
        .expect("read")
        .expect("live view");
    let lost_sent = live
        .agent_requests
        .get(&state.degraded[0].agent)
        .copied()
        .unwrap_or(0);
    assert!(lost_sent > 0, "{live:?}");
    assert_eq!(result.total.requests, survivors + lost_sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_continue_a_joiner_takes_exactly_the_lost_share_and_ends_the_degraded_window() {
    let cluster = cluster(&[None, None, None]).await;
    let plan = plan(5000);
    let mut config = submit_config(&cluster.zk, &plan, 3);
    config.on_agent_loss = LossPolicy::Continue;
    let id = crate::common::submit_no_wait(config).await;
    let client = zk::connect(&cluster.zk).await.expect("connect");
    wait_for_phase(&client, &id, RunPhase::Running).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    cluster.agents[1].1.abort();
    for _ in 0..100 {
        if run::state(&client, &id)
            .await
            .is_ok_and(|s| !s.degraded.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (joiner_name, _joiner) = spawn_agent(&cluster.zk, "joiner", None, &cluster.log).await;

    submit::wait_for_result(&client, &id, Duration::from_secs(30))
        .await
        .expect("result");
    let (assignment, _) =
        zk::get_json::<Assignment>(&client, &layout::run_assignment(&id), "assignment")
            .await
            .expect("read")
            .expect("assignment");
    // `continue` kept epoch 0 at the loss; the joiner made epoch 1, on the lost slice and
    // fraction, the others untouched.
    assert_eq!(assignment.epoch, 1, "{assignment:?}");
    assert_eq!(assignment.departed.len(), 1);
    let lost = &assignment.departed[0];
    let joiner = assignment
        .shares
        .iter()
        .find(|s| s.joined_at_ms.is_some())
        .expect("a joiner");
    assert_eq!((joiner.index, joiner.count), (lost.index, lost.count));
    assert_eq!(joiner.rate_fraction, lost.rate_fraction);
    let sum: f64 = assignment.shares.iter().map(|s| s.rate_fraction).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    let state = run::state(&client, &id).await.expect("state");
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    assert_eq!(state.degraded[0].agent, lost.agent.0);
    assert_eq!(state.degraded[0].until_ms, joiner.joined_at_ms);
    // The joiner ran (the stand-in ignores share changes and so sent nothing: it starts with
    // no share) and finished with the others.
    let log = cluster.log.lock().expect("log").clone();
    let sent = log.get(&joiner_name).expect("the joiner ran");
    assert_eq!(sent.rate_fraction, 0.0);
    let done = zk::children(&client, &layout::run_done(&id))
        .await
        .expect("done");
    assert!(done.contains(&joiner.agent.0), "{done:?}");
}

async fn wait_for_phase(client: &zookeeper_client::Client, id: &RunId, phase: RunPhase) {
    for _ in 0..200 {
        if run::state(client, id).await.is_ok_and(|s| s.phase == phase) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} never reached {phase:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_few_agents_fail_the_run_with_a_clear_error() {
    let cluster = cluster(&[Some(100.0)]).await;
    let mut config = submit_config(&cluster.zk, &plan(500), 2);
    config.agent_wait = Duration::from_millis(800);
    let error = submit::submit(config).await.expect_err("only one agent");
    match &error {
        ClusterError::RunFailed { reason, .. } => {
            assert!(
                reason.contains("wants 2 agent(s) but only 1 registered"),
                "{reason}"
            )
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_fail_fast() {
    // Unreachable ZooKeeper: an error after the connect timeout, not a hang.
    let zk = ZkConfig::new("127.0.0.1:1").with_connect_timeout(Duration::from_secs(1));
    let error = submit::submit(submit_config(&zk, &plan(500), 1))
        .await
        .expect_err("unreachable");
    assert!(matches!(error, ClusterError::Unreachable { .. }), "{error}");

    // A plan of a bytecode version this ptl does not know is refused before anything is stored.
    let mut bytecode = ptl_bytecode::encode(&plan(500));
    bytecode[4] = 0xff;
    bytecode[5] = 0xff;
    let mut config = submit_config(&zk, &plan(500), 1);
    config.bytecode = bytecode;
    let error = submit::submit(config).await.expect_err("unknown version");
    assert!(matches!(error, ClusterError::Bytecode(_)), "{error}");
}
