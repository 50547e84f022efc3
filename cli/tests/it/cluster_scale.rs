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
