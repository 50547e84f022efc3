//! The simulation harness in CI size: `ptl sim-agents` with 100 simulated agents (each its own
//! ZooKeeper session) against a real ZooKeeper and a real `ptl coordinator --keep-runs 0`, one
//! 20 s run submitted to all of them. The merged count must equal the agents' own counts
//! (exact merge), and ZooKeeper's tree must be back to its size before the run once the
//! waiting submitter has its result.

use crate::cluster::{write, Cluster};
use crate::support::{json, ptl};
use std::process::Stdio;
use std::time::{Duration, Instant};

const AGENTS: usize = 100;

const PLAN: &str = r#"plan "scale" {
  target "http://127.0.0.1:9"
  connections 100000
  request hello { GET "/" }
  phase steady { rate 10000/s for 20s }
}
"#;

#[test]
fn a_hundred_simulated_agents_merge_exactly_and_leave_no_footprint() {
    let cluster = Cluster::start_with(0, &["--keep-runs", "0"]);
    let report = cluster.dir.path().join("sim.json");
    let mut sim = ptl()
        .args(["sim-agents", "--zk", &cluster.connect(), "--count"])
        .arg(AGENTS.to_string())
        .args(["--duration-limit", "70s", "--json"])
        .arg(&report)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(cluster.dir.path().join("sim.log")).expect("log"))
        .spawn()
        .expect("ptl sim-agents starts");
    cluster.wait_for_agents(AGENTS);
    let baseline = cluster.nodes_outside_plans();

    let plan = write(cluster.dir.path(), "plan.ptl", PLAN);
    let out = cluster.dir.path().join("r.json");
    cluster.expect_exit(
        cluster
            .submit_within(&plan, AGENTS as u32, &out, Duration::from_secs(90))
            .args(["--quiet", "--allow", "W0003"])
            .output()
            .expect("ptl submit runs"),
        0,
    );
    let r = json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    assert_eq!(total, 10_000 * 20, "{r}");

    // With --keep-runs 0 the collected run goes whole within 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.nodes_outside_plans() != baseline {
        assert!(
            Instant::now() < deadline,
            "{} nodes, {baseline} before the run",
            cluster.nodes_outside_plans()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let deadline = Instant::now() + Duration::from_secs(90);
    while sim.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "sim-agents did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let sim_report = json(&report);
    eprintln!(
        "sim-agents figures: {}",
        serde_json::to_string_pretty(&sim_report["during_runs"]).unwrap_or_default()
    );
    // Exact: what the simulated agents reported, their done markers and the merged result.
    assert_eq!(sim_report["requests_reported"].as_u64(), Some(total));
    let run = &sim_report["runs"][0];
    assert_eq!(run["agents"].as_u64(), Some(AGENTS as u64), "{run}");
    assert_eq!(run["agents_requests"].as_u64(), Some(total), "{run}");
    assert_eq!(run["result_requests"].as_u64(), Some(total), "{run}");
}

/// An agent that cannot carry its share, measured (no capacity declared): a simulated agent
/// that starts at most 100 arrivals a second, 50 ms late, given a 300/s plan. After three
/// saturated seconds the coordinator asks its scale hook for the agents that would carry the
/// 200/s it falls short of (two more at 100/s each: 3 in all), and an idle agent that registers
/// is given a share at once. Every request is still accounted for exactly.
#[test]
fn a_saturated_agent_asks_for_more_and_a_joiner_gets_a_share() {
    let hook_dir = tempfile::tempdir().expect("dir");
    let asked = hook_dir.path().join("asked");
    let hook = format!("echo >>{}", asked.display());
    let cluster = Cluster::start_with(0, &["--scale-hook", &hook]);
    let sim = |name: &str, extra: &[&str]| {
        let report = cluster.dir.path().join(format!("{name}.json"));
        let child = ptl()
            .args(["sim-agents", "--zk", &cluster.connect(), "--count", "1"])
            .args(["--name", name, "--duration-limit", "40s", "--json"])
            .arg(&report)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(cluster.dir.path().join(format!("{name}.log"))).expect("log"),
            )
            .spawn()
            .expect("ptl sim-agents starts");
        (child, report)
    };
    let (mut hot, hot_report) = sim("hot", &["--saturate-above", "100/s"]);
    cluster.wait_for_agents(1);
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        r#"plan "strained" {
  target "http://127.0.0.1:9"
  connections 1000
  request hello { GET "/" }
  phase steady { rate 300/s for 12s }
}
"#,
    );
    let out = cluster.dir.path().join("r.json");
    let submit = cluster
        .submit(&plan, 1, &out)
        .args(["--quiet", "--allow", "W0003"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptl submit runs");
    // The measured shortfall reaches the hook: 200/s short at the 100/s it carries.
    let deadline = Instant::now() + Duration::from_secs(30);
    let first_ask = loop {
        let said = std::fs::read_to_string(&asked).unwrap_or_default();
        if let Some(line) = said.lines().next() {
            break line.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no scale hook run\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(first_ask, "3", "{}", cluster.logs());
    let (mut cool, cool_report) = sim("cool", &[]);

    let o = cluster.finish(submit, 0);
    let r = json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    let run = crate::cluster::run_id(&crate::cluster::stderr(&o));
    let (_, done) = cluster.run_record(&run);
    assert_eq!(done.len(), 2, "the joiner got a share: {done:?}");
    assert!(done.values().all(|d| d.requests > 0), "{done:?}");
    assert_eq!(done.values().map(|d| d.requests).sum::<u64>(), total);
    // The result names the generator, from the saturated agent's own deltas.
    let generator = &r["generator"];
    assert!(generator["saturated_s"].as_u64() >= Some(3), "{generator}");
    for child in [&mut hot, &mut cool] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "sim-agents did not stop");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let reported: u64 = [hot_report, cool_report]
        .iter()
        .map(|p| json(p)["requests_reported"].as_u64().expect("reported"))
        .sum();
    assert_eq!(reported, total);
}
