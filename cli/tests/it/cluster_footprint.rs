//! ZooKeeper's footprint across runs, against real processes: a finished run's deltas go once
//! its record and result are written, and only `--keep-runs` finished runs stay.

use crate::cluster::{write, Cluster};
use crate::support::json;
use ptl_cluster::ids::RunId;
use ptl_cluster::zk::{self, layout};
use std::time::{Duration, Instant};

const SHORT: &str = r#"plan "short" {
  param target = "http://127.0.0.1:9"
  target target
  request hello { GET "/" }
  phase steady { rate 50/s for 2s }
}
"#;

fn runs(cluster: &Cluster) -> Vec<String> {
    cluster.with_zk(async |client| zk::children(client, layout::RUNS).await.expect("runs"))
}

fn submit_short(cluster: &Cluster, target: &str) -> serde_json::Value {
    let plan = write(cluster.dir.path(), "plan.ptl", SHORT);
    let out = cluster.dir.path().join("r.json");
    cluster.expect_exit(
        cluster
            .submit(&plan, 2, &out)
            .arg("--quiet")
            .args(["--set", &format!("target={target}")])
            .output()
            .expect("ptl submit runs"),
        0,
    );
    json(&out)
}

#[test]
fn with_keep_runs_0_a_finished_run_leaves_nothing_behind() {
    let cluster = Cluster::start_with(2, &["--keep-runs", "0"]);
    let target = crate::support::Target::start();
    let baseline = cluster.nodes_outside_plans();
    let r = submit_short(&cluster, &target.url);
    // The waiting submitter got its whole result before the run went.
    assert_eq!(r["total"]["requests"].as_u64(), Some(100), "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !runs(&cluster).is_empty() {
        assert!(
            Instant::now() < deadline,
            "still there: {:?}",
            runs(&cluster)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(cluster.nodes_outside_plans(), baseline);
}

#[test]
fn only_the_newest_runs_are_kept_and_their_deltas_go() {
    let cluster = Cluster::start_with(2, &["--keep-runs", "1"]);
    let target = crate::support::Target::start();
    submit_short(&cluster, &target.url);
    submit_short(&cluster, &target.url);
    // The deltas stay for readers catching up for 10 s (`FINISHED_GRACE`), then go.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = runs(&cluster);
        let id = RunId::parse(left.last().expect("a run")).expect("run id");
        let reports = cluster.with_zk(async |client| {
            client
                .check_stat(&layout::run_reports(&id))
                .await
                .expect("read")
                .is_some()
        });
        if left.len() == 1 && !reports {
            // The kept run is still whole for readers: its result and merged record.
            cluster.with_zk(async |client| {
                for path in [layout::run_result(&id), layout::run_record(&id)] {
                    assert!(
                        client.check_stat(&path).await.expect("read").is_some(),
                        "{path}"
                    );
                }
            });
            assert_eq!(left, vec!["run-0000000001".to_string()]);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "runs {left:?}, deltas of the last still there: {reports}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Delta nodes under a run's `reports/` now.
fn delta_nodes(cluster: &Cluster, run: &str) -> usize {
    let id = RunId::parse(run).expect("run id");
    cluster.with_zk(async |client| {
        client
            .count_descendants_number(&layout::run_reports(&id))
            .await
            .unwrap_or(0)
    })
}

#[test]
fn deltas_are_deleted_during_the_run_once_folded() {
    let cluster = Cluster::start(3);
    let target = crate::support::Target::start();
    let (rate, seconds) = (300u64, 12u64);
    let (submit, out) = crate::cluster::spawn_steady_submit(&cluster, &target, rate, seconds);
    let run = crate::cluster::wait_for_state(&cluster, None, "running");
    // 3 agents write a delta a second for 12 s: 36 nodes, besides their 3 folders. Folded
    // every 2 s once handed over, no more than a few seconds' worth stay at any time.
    let mut most = 0;
    let mut polls = 0;
    while cluster.status()["runs"].as_array().is_some_and(|runs| {
        runs.iter()
            .any(|r| r["id"] == run && r["state"] == "running")
    }) {
        most = most.max(delta_nodes(&cluster, &run));
        polls += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    cluster.finish(submit, 0);
    assert!(polls > 10, "the run was watched ({polls} polls)");
    assert!(most <= 3 + 3 * 6, "{most} delta nodes at once");
    let r = crate::support::json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    assert_eq!(total, rate * seconds);
    assert_eq!(target.requests(), total);
}

#[test]
fn a_coordinator_killed_between_merge_mark_and_delete_loses_and_doubles_nothing() {
    // The leader aborts right after its first merge mark, before deleting what it folded; the
    // standby resumes from the mark, deletes the folded nodes left and merges the rest.
    a_killed_leader_is_taken_over_exactly("coordinator-after-merge-mark", &[]);
}

/// A leader that aborts at `failpoint` (its coordinator flags `extra` besides a short session,
/// as its standby's): the standby takes the run over, and the result is exactly what the
/// agents sent and the target answered.
fn a_killed_leader_is_taken_over_exactly(failpoint: &str, extra: &[&str]) {
    let mut args = vec!["--session-timeout", crate::support::AGENT_SESSION];
    args.extend_from_slice(extra);
    let mut cluster = Cluster::start_env(
        ptl_test_support::ZkServer::start(),
        3,
        &args,
        &[("PTL_FAILPOINT", failpoint)],
    );
    cluster.add_standby("standby-coordinator", &args);
    let target = crate::support::Target::start();
    let (rate, seconds) = (300u64, 10u64);
    let (submit, out) = crate::cluster::spawn_steady_submit(&cluster, &target, rate, seconds);
    let run = crate::cluster::wait_for_state(&cluster, None, "running");
    cluster.finish(submit, 0);
    assert!(
        cluster
            .coordinator
            .log()
            .contains(&format!("failpoint {failpoint}")),
        "{}",
        cluster.logs()
    );
    let (state, done) = cluster.run_record(&run);
    assert_eq!(state.coordinator.as_deref(), Some("standby-coordinator"));
    let r = crate::support::json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    assert_eq!(total, rate * seconds, "{r}");
    assert_eq!(target.requests(), total);
    let sent: u64 = done.values().map(|d| d.requests).sum();
    assert_eq!(sent, total, "{done:?}");
    assert_eq!(r["phases"][0]["planned"].as_u64(), Some(rate * seconds));
}

/// Nodes of a run's merged history now (`merged/b-<n>`).
fn history_nodes(cluster: &Cluster, run: &str) -> usize {
    let id = RunId::parse(run).expect("run id");
    cluster.with_zk(async |client| {
        zk::children(client, &layout::run_merged(&id))
            .await
            .map_or(0, |c| c.len())
    })
}

fn is_running(cluster: &Cluster, run: &str) -> bool {
    cluster.status()["runs"].as_array().is_some_and(|runs| {
        runs.iter()
            .any(|r| r["id"] == run && r["state"] == "running")
    })
}

#[test]
fn a_run_longer_than_the_history_keeps_it_bounded_and_its_log_adds_up() {
    // Four intervals of history: a 16 s run doubles their width twice (to 4 s), so the
    // history never holds much more than four nodes, and the per-interval log still sums to
    // every request the target answered.
    let cluster = Cluster::start_with(3, &["--history-intervals", "4"]);
    let target = crate::support::Target::start();
    let (rate, seconds) = (300u64, 16u64);
    let log = cluster.dir.path().join("r.hlog");
    let log_arg = log.to_str().expect("utf-8 path");
    let (submit, out) = crate::cluster::spawn_steady_submit_with(
        &cluster,
        &target,
        rate,
        seconds,
        &["--hdr-log", log_arg],
    );
    let run = crate::cluster::wait_for_state(&cluster, None, "running");
    let (mut most, mut polls) = (0, 0);
    while is_running(&cluster, &run) {
        most = most.max(history_nodes(&cluster, &run));
        polls += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    cluster.finish(submit, 0);
    assert!(polls > 10, "the run was watched ({polls} polls)");
    assert!((3..=4 + 2).contains(&most), "{most} history nodes at most");
    let r = crate::support::json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    assert_eq!(total, rate * seconds, "{r}");
    assert_eq!(target.requests(), total);
    let intervals = crate::hdr_log::read_log(&std::fs::read(&log).expect("log written"));
    let merged: Vec<_> = intervals.iter().filter(|i| i.tag.is_none()).collect();
    let logged: u64 = merged.iter().map(|i| i.count).sum();
    assert_eq!(logged, total, "{merged:?}");
    assert!(
        merged
            .windows(2)
            .all(|w| w[0].start + w[0].length <= w[1].start + Duration::from_millis(1)),
        "intervals in order, none overlapping: {merged:?}"
    );
    assert!(
        merged.iter().any(|i| i.length >= Duration::from_secs(4)),
        "the history widened: {merged:?}"
    );
}

#[test]
fn a_coordinator_killed_after_merging_history_loses_and_doubles_nothing() {
    // With a history of two intervals the second fold already merges them; the leader aborts
    // right after that transaction, before deleting the deltas it folded. The standby replays
    // the merged intervals, deletes what was folded and merges the rest.
    a_killed_leader_is_taken_over_exactly(
        "coordinator-after-merging-history",
        &["--history-intervals", "2"],
    );
}
