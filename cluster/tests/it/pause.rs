//! Pausing a cluster run with the real engine: a real ZooKeeper, the coordinator and two agents
//! running the runtime's engine against a real HTTP server on 127.0.0.1 that notes when each
//! request arrived. A pause mid-phase holds both agents (the server receives nothing while
//! paused), a resume lets them go on, and the merged result counts exactly the plan's requests
//! and reports the pause. Plus the refusals: pending, finished, not paused, already paused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_cluster::client::submit::{self, SubmitConfig};
use ptl_cluster::coordinator::{self, LiveView};
use ptl_cluster::ids::RunId;
use ptl_cluster::run::assignment::Assignment;
use ptl_cluster::run::pauses::{self, PauseChange};
use ptl_cluster::run::{self, RunPhase};
use ptl_cluster::zk::clock;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::{zk::layout, ClusterError};
use ptl_test_support::plans::one_request;
use ptl_test_support::ZkServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zookeeper_client::Client;

const RATE: f64 = 100.0;
const PHASE_S: u64 = 5;

/// Enough connections that the agents keep up with the plan's rate against the witness.
fn plan(target: &str) -> Plan {
    Plan {
        name: "pause-test".into(),
        timeout_us: 2_000_000,
        connections: 8,
        max_inflight: 100,
        ..one_request(target, RATE, PHASE_S * 1_000_000)
    }
}

/// An HTTP/1.1 server answering 200 to everything, keeping alive, noting when (Unix ms) each
/// request arrived.
async fn witness() -> (String, Arc<Mutex<Vec<i64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // GETs without bodies: each blank line ends one request.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        seen.lock().expect("arrivals").push(clock::now_ms());
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, arrivals)
}

struct Cluster {
    server: ZkServer,
    zk: ZkConfig,
    client: Client,
}

async fn cluster(agents: usize) -> Cluster {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(2));
    let config = crate::common::coordinator_config(&zk);
    tokio::spawn(async move {
        coordinator::run_coordinator(config, ptl_cluster::CancellationToken::new())
            .await
            .expect("coordinator");
    });
    for i in 0..agents {
        crate::common::spawn_engine_agent(&zk, &format!("agent{i}")).await;
    }
    let client = zk::connect(&zk).await.expect("connect");
    Cluster { server, zk, client }
}

fn submit_config(zk: &ZkConfig, plan: &Plan, agents: u32) -> SubmitConfig {
    let mut config = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(plan), agents);
    config.agent_wait = Duration::from_secs(10);
    config.start_delay = Duration::from_millis(500);
    config
}

/// Polls until `check` holds (bounded: a hang is a failure, not a slow pass).
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn phase(client: &Client, id: &RunId) -> RunPhase {
    run::state(client, id).await.expect("state").phase
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_run_sends_nothing_until_resumed_and_counts_exactly_the_plan() {
    let (url, arrivals) = witness().await;
    let cluster = cluster(2).await;
    let client = &cluster.client;
    let plan = plan(&url);
    let id = crate::common::submit_no_wait(submit_config(&cluster.zk, &plan, 2)).await;
    wait_until("running", || async {
        phase(client, &id).await == RunPhase::Running
    })
    .await;
    let (assignment, _) =
        zk::get_json::<Assignment>(client, &layout::run_assignment(&id), "assignment")
            .await
            .expect("read")
            .expect("assignment");
    let start = assignment.start_at_ms;
    // Some load before the pause.
    wait_until("requests arrive", || async {
        arrivals.lock().expect("arrivals").len() >= 100
    })
    .await;

    let paused = match pauses::pause(client, &id).await.expect("pause") {
        PauseChange::Paused(w) => w,
        other => panic!("{other:?}"),
    };
    assert!(paused.at_ms > start && paused.until_ms.is_none());
    match pauses::pause(client, &id).await.expect("pause again") {
        PauseChange::AlreadyPaused(w) => assert_eq!(w, paused),
        other => panic!("{other:?}"),
    }
    // The coordinator's live view says so while it lasts.
    wait_until("live view paused", || async {
        zk::get_json::<LiveView>(client, &layout::run_live(&id), "live")
            .await
            .ok()
            .flatten()
            .is_some_and(|(live, _)| live.paused)
    })
    .await;
    // Hold for 2 s past the pause's instant, then resume.
    let hold_until = paused.at_ms + 2000;
    wait_until("paused for 2 s", || async { clock::now_ms() >= hold_until }).await;
    let resumed = match pauses::resume(client, &id).await.expect("resume") {
        PauseChange::Resumed(w) => w,
        other => panic!("{other:?}"),
    };
    let until = resumed.until_ms.expect("closed");
    assert_eq!(resumed.at_ms, paused.at_ms);
    assert_eq!(
        pauses::resume(client, &id).await.expect("resume again"),
        PauseChange::NotPaused
    );

    let result = submit::wait_for_result(client, &id, Duration::from_secs(60))
        .await
        .expect("result");
    // Every planned arrival went out, none was lost to the pause.
    let planned = (RATE * PHASE_S as f64) as u64;
    assert_eq!(result.total.requests, planned);
    assert_eq!(result.total.dropped, 0);
    assert_eq!(arrivals.lock().expect("arrivals").len() as u64, planned);
    // Nothing reached the server while paused. The margin covers the agents' clock offsets
    // against ZooKeeper (same machine: a few ms) and a request already on its way.
    let inside: Vec<i64> = arrivals
        .lock()
        .expect("arrivals")
        .iter()
        .copied()
        .filter(|&t| t > paused.at_ms + 100 && t < until - 100)
        .collect();
    assert!(inside.is_empty(), "{} arrivals while paused", inside.len());
    // Arrivals both before and after it: the run went on where it was.
    let after = arrivals
        .lock()
        .expect("arrivals")
        .iter()
        .filter(|&&t| t >= until)
        .count();
    assert!(after > 0, "nothing after the resume");

    assert_eq!(result.pauses.len(), 1, "{:?}", result.pauses);
    let window = result.pauses[0];
    assert_eq!(window.start_ms, (paused.at_ms - start) as u64);
    assert_eq!(window.end_ms, Some((until - start) as u64));
    let paused_ms = (until - paused.at_ms) as u64;
    // The phase spanned its planned time plus the pause; the rate leaves the pause out.
    assert_eq!(result.phases[0].paused_ms, paused_ms);
    assert!(result.duration_s * 1000.0 >= (PHASE_S * 1000 + paused_ms) as f64 - 1.0);
    let running_s = result.phases[0].duration_s - paused_ms as f64 / 1000.0;
    let expected_rps = result.phases[0].planned as f64 / running_s;
    assert!(
        (result.phases[0].achieved_rps - expected_rps).abs() <= expected_rps * 0.05,
        "{} vs {expected_rps}",
        result.phases[0].achieved_rps
    );

    // A finished run cannot be paused or resumed.
    for outcome in [
        pauses::pause(client, &id).await,
        pauses::resume(client, &id).await,
    ] {
        let error = outcome.expect_err("finished");
        assert!(
            matches!(error, ClusterError::CannotControl { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("finished"), "{error}");
    }
    drop(cluster.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_or_unknown_run_cannot_be_paused() {
    // No agent: the run stays pending.
    let cluster = cluster(0).await;
    let client = &cluster.client;
    let plan = plan("http://127.0.0.1:9");
    let id = crate::common::submit_no_wait(submit_config(&cluster.zk, &plan, 1)).await;
    let error = pauses::pause(client, &id).await.expect_err("pending");
    assert!(error.to_string().contains("not started"), "{error}");
    let error = pauses::pause(client, &RunId("run-0000009999".into()))
        .await
        .expect_err("unknown");
    assert!(matches!(error, ClusterError::RunNotFound(_)), "{error}");
    // Nothing was written for the refused pause.
    assert!(pauses::windows(client, &id).await.expect("read").is_empty());
    drop(cluster.server);
}
