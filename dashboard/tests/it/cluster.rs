//! `ptl coordinator --http`: the dashboard follows a real cluster run (a real ZooKeeper, a
//! coordinator, two agents running the real engine against the demo target on 127.0.0.1):
//! the page's stream shows both agents and their shares while it runs, the API and
//! `/metrics` serve the coordinator's final result, and the operator can pause, resume and stop
//! a cluster run.

use crate::common::*;
use ptl_cluster::agent::engine::RuntimeEngine;
use ptl_cluster::agent::{Agent, AgentConfig};
use ptl_cluster::client::submit::{self, SubmitConfig, Submitted};
use ptl_cluster::coordinator::{run_coordinator, CoordinatorConfig};
use ptl_cluster::observe::{now_ms, Observer, RunId, RunPhase, RunSnapshot, ZkConfig};
use ptl_dashboard::cluster_feed::{ClusterDashboard, ClusterFeedConfig};
use ptl_dashboard::ServerConfig;
use ptl_engine::result::RunResult;
use ptl_test_support::ZkServer;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn final_view(events: &[SseEvent], id: &str) -> Option<Value> {
    events
        .iter()
        .filter(|e| e.name == "run")
        .map(|e| serde_json::from_str::<Value>(&e.data).expect("JSON"))
        .find(|v| v["summary"]["id"] == id && v["summary"]["status"] == "done")
}

fn ticks_of<'a>(events: &'a [SseEvent], id: &'a str) -> impl Iterator<Item = Value> + 'a {
    events
        .iter()
        .filter(|e| e.name == "tick")
        .map(|e| serde_json::from_str::<Value>(&e.data).expect("JSON"))
        .filter(move |v| v["id"] == id)
}

async fn submit_run(zk: &ZkConfig, target: &str, seconds: u32) -> RunId {
    let plan = compile(&plan_source(seconds), target);
    let mut config = SubmitConfig::new(zk.clone(), ptl_bytecode::encode(&plan), 2);
    config.agent_wait = Duration::from_secs(20);
    config.start_delay = Duration::from_millis(500);
    config.wait = None;
    match submit::submit(config).await.expect("submits") {
        Submitted::Created(id) => id,
        Submitted::Finished(id, _) => id,
    }
}

/// The run as ZooKeeper holds it, read independently of the dashboard.
async fn snapshot(observer: &Observer, id: &RunId) -> RunSnapshot {
    observer
        .run(id)
        .await
        .expect("reads")
        .expect("the run exists")
}

async fn zk_result(observer: &Observer, id: &RunId) -> RunResult {
    snapshot(observer, id)
        .await
        .result
        .expect("the coordinator wrote the result")
}

/// The run's status as `GET /api/runs` lists it.
async fn listed_status(addr: SocketAddr, id: &str) -> String {
    let runs = request(addr, "GET", "/api/runs", Some(VIEWER)).await.json();
    runs.as_array()
        .and_then(|runs| runs.iter().find(|r| r["id"] == id))
        .and_then(|r| r["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_follows_a_cluster_run_and_stops_one() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(4));
    let coordinator = CoordinatorConfig {
        zk: zk.clone(),
        id: "coordinator-dashboard-test".into(),
        summarise: Arc::new(ptl_cluster::coordinator::result::runtime_summary),
        poll: Duration::from_millis(200),
        finish_grace: Duration::from_secs(20),
        trusted_keys: None,
        keep_runs: 50,
        history_intervals: ptl_cluster::coordinator::merged_history::DEFAULT_INTERVALS,
        scale_hook: None,
    };
    let coordinating = tokio::spawn(run_coordinator(
        coordinator,
        ptl_cluster::CancellationToken::new(),
    ));
    let mut agents = Vec::new();
    for name in ["agent-a", "agent-b"] {
        let mut config = AgentConfig::new(zk.clone(), name);
        config.poll = Duration::from_millis(100);
        let agent = Agent::register(&config).await.expect("registers");
        let engine = Arc::new(RuntimeEngine {
            workers: Some(1),
            ..Default::default()
        });
        agents.push(tokio::spawn(async move {
            let _ = agent
                .serve(engine, config.poll, ptl_cluster::CancellationToken::new())
                .await;
        }));
    }
    let target = target(0.05).await;
    let dashboard = ClusterDashboard::start(
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access: tokens(),
            ..ServerConfig::default()
        },
        ClusterFeedConfig {
            poll: Duration::from_millis(500),
            ..ClusterFeedConfig::new(zk.clone())
        },
    )
    .await
    .expect("the dashboard starts");
    let addr = dashboard.addr();
    let observer = Observer::connect(&zk).await.expect("connects");

    // A whole run, watched from the page's stream.
    let id = submit_run(&zk, &target.url(), 3).await;
    let watched = id.0.clone();
    let events = read_events(addr, VIEWER, Duration::from_secs(60), move |events| {
        final_view(events, &watched).is_some()
    })
    .await;
    let result = zk_result(&observer, &id).await;
    let view = final_view(&events, &id.0).expect("the final view was pushed");
    assert_eq!(view["summary"]["source"], "cluster");
    assert_eq!(view["summary"]["requests"], result.total.requests);
    assert!(result.total.requests > 0);

    let ticks: Vec<Value> = ticks_of(&events, &id.0).collect();
    assert!(ticks.len() >= 2, "{} ticks", ticks.len());
    let busiest = ticks
        .iter()
        .find(|t| t["agents"].as_array().is_some_and(|a| a.len() == 2))
        .expect("both agents shown");
    let shares: f64 = busiest["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["share"].as_f64().unwrap())
        .sum();
    assert!(
        (shares - 1.0).abs() < 1e-9,
        "shares add up to the whole: {shares}"
    );
    let final_agents = view["agents"].as_array().expect("agents");
    assert!(
        final_agents.iter().all(|a| a["state"] == "done"),
        "{final_agents:?}"
    );
    let reported: u64 = final_agents
        .iter()
        .map(|a| a["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(
        reported, result.total.requests,
        "every agent's delta merged once"
    );

    let served = request(addr, "GET", &format!("/api/runs/{}", id.0), Some(VIEWER)).await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.body,
        serde_json::to_vec(&result).unwrap(),
        "the coordinator's result"
    );
    let metrics = request(addr, "GET", "/metrics", Some(VIEWER)).await.text();
    let scrape = prometheus_parse::Scrape::parse(metrics.lines().map(|l| Ok(l.to_string())))
        .expect("parses");
    let requests: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "ptl_requests_total" && s.labels.get("run") == Some(&id.0))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) => v,
            _ => f64::NAN,
        })
        .sum();
    assert_eq!(requests, result.total.requests as f64);
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "ptl_agents_connected" && s.labels.get("run") == Some(&id.0)));

    // A long run, stopped from the dashboard once it shows data.
    let id = submit_run(&zk, &target.url(), 60).await;
    let watched = id.0.clone();
    read_events(addr, OPERATOR, Duration::from_secs(30), move |events| {
        ticks_of(events, &watched).any(|t| !t["points"].as_array().unwrap().is_empty())
    })
    .await;
    // Paused and resumed from the dashboard first, as `ptl pause` / `ptl resume` do.
    let pause = format!("/api/runs/{}/pause", id.0);
    let resume = format!("/api/runs/{}/resume", id.0);
    assert_eq!(
        request(addr, "POST", &pause, Some(VIEWER)).await.status,
        401
    );
    assert_eq!(
        request(addr, "POST", &pause, Some(OPERATOR)).await.status,
        202
    );
    let paused = snapshot(&observer, &id).await;
    assert!(paused.is_paused(), "{:?}", paused.pauses);
    // Held a moment past its instant (a control lead ahead), so the run was paused indeed.
    let held_until = paused.pauses[0].at_ms + 500;
    while now_ms() < held_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Polled: the feed's own look a moment before the pause may still say running.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listed_status(addr, &id.0).await != "paused" {
        assert!(tokio::time::Instant::now() < deadline, "never paused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        request(addr, "POST", &pause, Some(OPERATOR)).await.status,
        409,
        "already paused"
    );
    assert_eq!(
        request(addr, "POST", &resume, Some(OPERATOR)).await.status,
        202
    );
    let windows = snapshot(&observer, &id).await.pauses;
    assert!(
        windows.len() == 1 && windows[0].until_ms.is_some(),
        "{windows:?}"
    );
    // The feed, reading ZooKeeper again, agrees.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while listed_status(addr, &id.0).await != "running" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never running again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stop = format!("/api/runs/{}/stop", id.0);
    assert_eq!(request(addr, "POST", &stop, Some(VIEWER)).await.status, 401);
    assert_eq!(
        request(addr, "POST", &stop, Some(OPERATOR)).await.status,
        202
    );
    let state = snapshot(&observer, &id).await.state;
    assert!(
        matches!(state.phase, RunPhase::Stopping | RunPhase::Done),
        "{state:?}"
    );
    let watched = id.0.clone();
    read_events(addr, VIEWER, Duration::from_secs(40), move |events| {
        final_view(events, &watched).is_some()
    })
    .await;
    let stopped = zk_result(&observer, &id).await;
    assert!(stopped.stopped_early);
    assert_eq!(stopped.pauses.len(), 1, "{:?}", stopped.pauses);
    assert_eq!(
        stopped.stop_reason.as_deref(),
        Some("stopped from the dashboard")
    );

    dashboard.shutdown().await.expect("the feed ends cleanly");
    coordinating.abort();
    for a in agents {
        a.abort();
    }
}

/// `GET /api/peers` of the dashboard at `addr`.
async fn peers(addr: SocketAddr) -> Vec<String> {
    let answer = request(addr, "GET", "/api/peers", Some(VIEWER)).await;
    serde_json::from_value(answer.json()["peers"].clone()).expect("a list of addresses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_coordinators_dashboard_lists_the_others_for_the_page_to_fail_over_to() {
    let server = ZkServer::start();
    let zk = ZkConfig::new(server.connect_string()).with_session_timeout(Duration::from_secs(4));
    let start = |public_url: Option<&str>| {
        let feed = ClusterFeedConfig {
            poll: Duration::from_millis(200),
            public_url: public_url.map(str::to_string),
            ..ClusterFeedConfig::new(zk.clone())
        };
        ClusterDashboard::start(
            ServerConfig {
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                access: tokens(),
                ..ServerConfig::default()
            },
            feed,
        )
    };
    let a = start(None).await.expect("starts");
    // Behind a proxy, say: browsers reach it at another address than it serves on.
    let b = start(Some("http://coordinator-b.example:9090"))
        .await
        .expect("starts");
    let a_url = a.url().trim_end_matches('/').to_string();
    let until = |addr: SocketAddr, want: Vec<String>| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = peers(addr).await;
            if got == want {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "peers {got:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    until(a.addr(), vec!["http://coordinator-b.example:9090".into()]).await;
    until(b.addr(), vec![a_url.clone()]).await;
    // The page's content security policy lets it ask the peers whether they answer.
    let page = request(a.addr(), "GET", "/", Some(VIEWER)).await;
    let policy = page
        .head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .unwrap_or_default()
        .to_string();
    assert!(
        policy.contains("connect-src 'self' http://coordinator-b.example:9090"),
        "{policy}"
    );
    // A dashboard that stops is no longer offered (its node goes with its session).
    b.shutdown().await.expect("stops");
    until(a.addr(), vec![]).await;
    a.shutdown().await.expect("stops");
}
