//! Fault injection against a real cluster (ZooKeeper, a coordinator, agent processes): an
//! agent paused with SIGSTOP past its session timeout. The witness is a counting HTTP server
//! in this process, which notes when every request arrived, so each second's load can be held
//! against the plan.

use crate::cluster::{run_id, stderr, wait_for_state, write, Cluster};
use crate::support::json;
use ptl_test_support::counting_server::{self, TestServer};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const STEADY: &str = r#"plan "faults" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  connections 30
  max_inflight 600
  request hello { GET "/" }
  phase steady { rate RATE/s for SECONDSs }
}
"#;

/// Requests the server received in each whole second since the first one (the first and the
/// last, partial, seconds left out).
fn per_second(server: &TestServer) -> Vec<u64> {
    let arrived = server.state.arrived.lock().expect("arrivals").clone();
    let Some(&first) = arrived.iter().min() else {
        return Vec::new();
    };
    let mut seconds = Vec::new();
    for t in arrived {
        let s = (t - first).as_secs() as usize;
        if seconds.len() <= s {
            seconds.resize(s + 1, 0u64);
        }
        seconds[s] += 1;
    }
    seconds.pop();
    seconds
}

#[test]
fn an_agent_stopped_past_its_session_sends_no_burst_and_registers_again() {
    let cluster = Cluster::start(3);
    let server = counting_server::server();
    let (rate, seconds) = (300u64, 14u64);
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        &STEADY
            .replace("RATE", &rate.to_string())
            .replace("SECONDS", &seconds.to_string()),
    );
    let out = cluster.dir.path().join("r.json");
    let submit = cluster
        .submit(&plan, 3, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptl submit starts");

    // Three seconds in (the start is 1 s after the run turns running), freeze one agent for
    // four times its session timeout: it expires, and the others take over its share.
    wait_for_state(&cluster, None, "running");
    std::thread::sleep(Duration::from_secs(3));
    let stopped = &cluster.agents[1];
    stopped.signal("STOP");
    let frozen_at = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    stopped.signal("CONT");
    eprintln!("agent1 frozen for {:?}", frozen_at.elapsed());

    let o = submit.wait_with_output().expect("submit ends");
    assert_eq!(o.status.code(), Some(5), "degraded: {}", stderr(&o));
    let r = json(&out);

    // No second above the plan (2 % for the catch-up of arrivals the survivors took over
    // late, and a request or two of rounding at the buckets' edges).
    let counts = per_second(&server);
    let ceiling = rate * 102 / 100 + 2;
    assert!(
        counts.iter().all(|&c| c <= ceiling),
        "a second above {ceiling}: {counts:?}\n{}",
        cluster.logs()
    );

    // The woken agent found its session gone and registered again, as a new agent.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stopped.log().contains("registered again") {
        assert!(
            Instant::now() < deadline,
            "agent1 did not register again:\n{}",
            stopped.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = cluster.status();
    let names: Vec<&str> = status["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "agent1").count(),
        1,
        "{status}"
    );
    assert_eq!(names.len(), 3, "{status}");

    // Every request the target received is in the result: the woken agent delivered what it
    // had not reported from its new session, while the run was still being merged.
    let received = server.state.hits.load(Ordering::Relaxed);
    let total = r["total"]["requests"].as_u64().expect("total");
    assert_eq!(
        total,
        received,
        "result {total}, target {received}\n{}\n{}",
        stderr(&o),
        cluster.logs()
    );
    let run = run_id(&stderr(&o));
    let (state, done) = cluster.run_record(&run);
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    assert!(
        state
            .verdict
            .as_deref()
            .is_some_and(|v| v.starts_with("degraded")),
        "{state:?}"
    );

    // The account adds up: the plan's count, all of it in reports (the woken agent's own
    // delivered late) but for the share nobody sent between its freeze and the takeover; what
    // the woken agent held back is counted apart.
    let a = &r["accounting"];
    let planned = a["planned"].as_u64().expect("planned");
    assert_eq!(planned, rate * seconds, "{a}");
    let fenced = a["fenced"].as_u64().expect("fenced");
    let frozen = done
        .values()
        .find(|d| d.fenced > 0)
        .expect("the woken agent said done");
    assert_eq!(fenced, frozen.fenced, "{a}");
    assert_eq!(a["unreported"].as_u64(), Some(0), "{a}");
    let (reported, lost) = (
        a["reported"].as_u64().expect("reported"),
        a["lost_share"].as_u64().expect("lost"),
    );
    assert_eq!(reported + lost, planned, "{a}");
    assert!(lost > 0, "{a}");
}
