//! Agents with their own rules (`ptl agent --allow-target`, `--max-rate`) against a real
//! cluster: a run that breaks an agent's rules is refused by that agent before it sends
//! anything, the reason shows in `ptl status`, and the coordinator fails the run or goes on
//! without the agent by the run's loss policy. A counting server in this process is the
//! witness of what was sent.

use crate::cluster::{run_id, stderr, write, Cluster};
use crate::support::agent_with;
use ptl_test_support::counting_server::{self, TestServer};
use std::sync::atomic::Ordering;

const STEADY: &str = r#"plan "policy" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  connections 40
  request hello { GET "/" }
  phase steady { rate 40/s for 2s }
}
"#;

/// A cluster of a coordinator and one agent per entry of `agents`, each with those flags.
fn cluster_of(agents: &[&[&str]]) -> Cluster {
    let mut cluster = Cluster::start(0);
    let connect = cluster.connect();
    for (i, extra) in agents.iter().enumerate() {
        let agent = agent_with(cluster.dir.path(), &connect, &format!("agent{i}"), extra);
        cluster.agents.push(agent);
    }
    cluster.wait_for_agents(agents.len());
    cluster
}

/// `ptl submit --wait` of [`STEADY`] to `agents` agents at `server`, with `extra` flags.
fn submit(
    cluster: &Cluster,
    server: &TestServer,
    agents: u32,
    extra: &[&str],
) -> (std::process::Output, serde_json::Value) {
    let plan = write(cluster.dir.path(), "plan.ptl", STEADY);
    let out = cluster.dir.path().join("r.json");
    let o = cluster
        .submit(&plan, agents, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())])
        .args(extra)
        .output()
        .expect("ptl submit runs");
    (
        o,
        serde_json::from_slice(&std::fs::read(&out).unwrap_or_default()).unwrap_or_default(),
    )
}

/// The run of `ptl status --json` named in submit's output.
fn status_of(cluster: &Cluster, o: &std::process::Output) -> serde_json::Value {
    let id = run_id(&stderr(o));
    let status = cluster.status();
    status["runs"]
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["id"] == id.as_str()).cloned())
        .unwrap_or_else(|| panic!("run {id} in {status}"))
}

#[test]
fn an_agent_whose_allow_list_excludes_the_target_refuses_and_sends_nothing() {
    let server = counting_server::server();
    // The same host, another port: outside the list.
    let other = format!("127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let cluster = cluster_of(&[&["--allow-target", &other]]);
    let (o, r) = submit(&cluster, &server, 1, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 0);

    let run = status_of(&cluster, &o);
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("refused the run"), "{run}");
    assert!(reason.contains("not in the allow-list"), "{run}");
    assert!(reason.contains(&format!("--allow-target {other}")), "{run}");
    // The result says why too, and that nothing was sent.
    let stop = r["stop_reason"].as_str().unwrap_or_default();
    assert!(stop.contains("refused the run"), "{r}");
    assert_eq!(r["total"]["requests"].as_u64(), Some(0), "{r}");
    assert_eq!(o.status.code(), Some(5), "degraded: {}", stderr(&o));
    let (_, done) = cluster.run_record(run["id"].as_str().unwrap());
    let marker = done.values().next().expect("the agent's done marker");
    assert!(marker.refused.is_some(), "{marker:?}");
    assert_eq!((marker.requests, marker.deltas), (0, 0));
}

#[test]
fn an_agent_refusal_under_abort_fails_the_run_though_others_could_send() {
    let server = counting_server::server();
    let cluster = cluster_of(&[&[], &["--allow-target", "10.0.0.0/8"]]);
    let (o, _) = submit(&cluster, &server, 2, &["--on-agent-loss", "abort"]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = status_of(&cluster, &o);
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("resolves to") || reason.contains("not in the allow-list"),
        "{run}"
    );
    assert!(reason.contains("--allow-target 10.0.0.0/8"), "{run}");
}

#[test]
fn max_rate_below_the_assigned_share_refuses_and_the_others_take_it_over() {
    let server = counting_server::server();
    // Two agents share 40/s: 20/s each, above the second's cap of 10/s.
    let cluster = cluster_of(&[&[], &["--max-rate", "10/s"]]);
    let (o, r) = submit(&cluster, &server, 2, &[]);
    // Degraded (exit 5): the refusing agent's share was taken over, not sent as planned.
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}\n{}",
        stderr(&o),
        cluster.logs()
    );
    let run = status_of(&cluster, &o);
    let verdict = run["verdict"].as_str().unwrap_or_default();
    assert!(verdict.contains("refused: "), "{run}");
    assert!(verdict.contains("above --max-rate 10/s"), "{run}");
    let degraded = &run["degraded"][0];
    assert!(
        degraded["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-rate"),
        "{run}"
    );
    // Only the agent without a cap sent; every request it sent was merged.
    let (_, done) = cluster.run_record(run["id"].as_str().unwrap());
    let refused: Vec<_> = done.values().filter(|d| d.refused.is_some()).collect();
    assert_eq!(refused.len(), 1, "{done:?}");
    assert_eq!(refused[0].requests, 0);
    let total = r["total"]["requests"].as_u64().expect("a result");
    assert_eq!(server.state.hits.load(Ordering::Relaxed), total);
    assert!(total > 0, "{r}");
}

#[test]
fn a_rebalance_above_max_rate_is_capped_and_the_run_says_so() {
    let server = counting_server::server();
    // 40/s for 8 s over two agents: 20/s each, within the second's cap of 25/s, until the
    // first is killed and the whole 40/s falls to the second.
    let mut cluster = cluster_of(&[&[], &["--max-rate", "25/s"]]);
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        &STEADY.replace("rate 40/s for 2s", "rate 40/s for 8s"),
    );
    let out = cluster.dir.path().join("r.json");
    let submit = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ptl submit starts");
    let run = crate::cluster::wait_for_state(&cluster, None, "running");
    std::thread::sleep(std::time::Duration::from_secs(3));
    cluster.agents[0].kill_9();
    cluster.finish(submit, 5);

    let (_, done) = cluster.run_record(&run);
    assert_eq!(done.len(), 1, "{done:?}");
    let capped = done.values().next().expect("the capped agent's marker");
    let note = capped.capped.as_deref().unwrap_or_default();
    assert!(note.contains("above its --max-rate 25/s"), "{capped:?}");
    // Its own 20/s, then at most 25/s: never above the cap over the run's 8 s.
    assert!((150..=8 * 25 + 1).contains(&capped.requests), "{capped:?}");
    let status = cluster.status();
    let verdict = status["runs"][0]["verdict"].as_str().unwrap_or_default();
    assert!(verdict.contains("capped: a rebalance"), "{status}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("result")).expect("JSON");
    assert_eq!(r["accounting"]["degraded"], true, "{}", r["accounting"]);
}
