//! End-to-end tests of the cluster commands with real processes: a real ZooKeeper (the
//! `ptl_cluster::testing` harness), `ptl coordinator`, several `ptl agent` processes and
//! `ptl submit`, against the demo target as its own process. Loads are loopback, short and
//! bounded. The demo target's `/stats` count is an independent witness of what was sent.

use crate::support::{json, ptl, Proc, Target, AGENT_SESSION};
use ptl_cluster::agent::DoneMarker;
use ptl_cluster::ids::RunId;
use ptl_cluster::run::assignment::Assignment;
use ptl_cluster::run::RunState;
use ptl_cluster::zk::layout;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_test_support::ZkServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// ZooKeeper, a coordinator and `agents` agent processes, in a temp dir that holds their logs.
pub(crate) struct Cluster {
    pub(crate) zk: ZkServer,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) coordinator: Proc,
    /// Coordinators started after the first: they stand by in the election.
    standby: Vec<Proc>,
    pub(crate) agents: Vec<Proc>,
}

impl Cluster {
    pub(crate) fn start(agents: usize) -> Cluster {
        Cluster::start_with(agents, &[])
    }

    /// With `coordinator_args` added to the (first) coordinator's command line.
    pub(crate) fn start_with(agents: usize, coordinator_args: &[&str]) -> Cluster {
        Cluster::start_on(ZkServer::start(), agents, coordinator_args)
    }

    /// On `zk` (a single server or an ensemble) with `coordinator_args` added to the
    /// coordinator's command line.
    pub(crate) fn start_on(zk: ZkServer, agents: usize, coordinator_args: &[&str]) -> Cluster {
        Cluster::start_env(zk, agents, coordinator_args, &[])
    }

    /// As [`Cluster::start_on`], the (first) coordinator with `env` in its environment.
    pub(crate) fn start_env(
        zk: ZkServer,
        agents: usize,
        coordinator_args: &[&str],
        env: &[(&str, &str)],
    ) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let connect = zk.connect_string();
        let mut args = vec![
            "coordinator",
            "--zk",
            &connect,
            "--name",
            "test-coordinator",
        ];
        args.extend_from_slice(coordinator_args);
        let mut command = ptl();
        command.args(&args).envs(env.iter().copied());
        let coordinator = Proc::spawn_command(dir.path(), "coordinator", command);
        let mut cluster = Cluster {
            zk,
            dir,
            coordinator,
            standby: Vec::new(),
            agents: Vec::new(),
        };
        for i in 0..agents {
            cluster.add_agent(&format!("agent{i}"));
        }
        cluster.wait_for_agents(agents);
        cluster
    }

    pub(crate) fn connect(&self) -> String {
        self.zk.connect_string()
    }

    /// `ptl submit PLAN --wait` to `agents` agents of this cluster with the tests' bounds
    /// (start in 1 s, wait 10 s for agents, give up after 60 s), the result to `out`.
    pub(crate) fn submit(&self, plan: &Path, agents: u32, out: &Path) -> Command {
        self.submit_within(plan, agents, out, Duration::from_secs(60))
    }

    /// As [`Cluster::submit`], giving up after `timeout`.
    pub(crate) fn submit_within(
        &self,
        plan: &Path,
        agents: u32,
        out: &Path,
        timeout: Duration,
    ) -> Command {
        let mut submit = ptl();
        submit
            .arg("submit")
            .arg(plan)
            .args(["--zk", &self.connect(), "--agents", &agents.to_string()])
            .args(["--wait", "--start-delay", "1s", "--agent-wait", "10s"])
            .args(["--timeout", &format!("{}s", timeout.as_secs()), "--out"])
            .arg(out);
        submit
    }

    /// Another coordinator, which waits in the election while the first one leads.
    pub(crate) fn add_standby(&mut self, name: &str, args: &[&str]) {
        let connect = self.connect();
        let mut all = vec!["coordinator", "--zk", &connect, "--name", name];
        all.extend_from_slice(args);
        self.standby.push(Proc::spawn(self.dir.path(), name, &all));
    }

    pub(crate) fn add_agent(&mut self, name: &str) {
        self.add_agent_with(name, &[]);
    }

    /// An agent with `extra` flags (e.g. another `--capacity`).
    pub(crate) fn add_agent_with(&mut self, name: &str, extra: &[&str]) {
        let connect = self.connect();
        let agent = crate::support::agent_with(self.dir.path(), &connect, name, extra);
        self.agents.push(agent);
    }

    /// `ptl status --json`, parsed.
    pub(crate) fn status(&self) -> Value {
        let o = ptl()
            .args(["status", "--json", "--zk", &self.connect()])
            .output()
            .expect("ptl status runs");
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).expect("status JSON")
    }

    pub(crate) fn wait_for_agents(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.status();
            let registered = status["agents"].as_array().map_or(0, Vec::len);
            if registered == count && !status["coordinator"].is_null() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{registered} of {count} agents registered; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn logs(&self) -> String {
        let mut all = format!("coordinator:\n{}", self.coordinator.log());
        for (i, c) in self.standby.iter().enumerate() {
            all.push_str(&format!("\nstandby coordinator {i}:\n{}", c.log()));
        }
        for (i, a) in self.agents.iter().enumerate() {
            all.push_str(&format!("\nagent{i}:\n{}", a.log()));
        }
        all
    }

    /// Waits for a `submit --wait` process and checks its exit status (every log on failure).
    #[track_caller]
    pub(crate) fn finish(&self, submit: std::process::Child, code: i32) -> Output {
        self.expect_exit(submit.wait_with_output().expect("submit ends"), code)
    }

    /// Checks a finished command's exit status (every log on failure).
    #[track_caller]
    pub(crate) fn expect_exit(&self, o: Output, code: i32) -> Output {
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}\n{}",
            stderr(&o),
            self.logs()
        );
        o
    }

    /// Nodes under the chroot outside `/plans` (whose unreferenced plans go after a grace of
    /// their own): what retention must bring back to its baseline.
    pub(crate) fn nodes_outside_plans(&self) -> usize {
        self.with_zk(async |client| {
            let mut n = 0;
            for root in layout::ROOTS.iter().filter(|r| **r != layout::PLANS) {
                n += 1 + client.count_descendants_number(root).await.expect("count");
            }
            n
        })
    }

    /// Runs `f` with a fresh client of this cluster's ZooKeeper.
    pub(crate) fn with_zk<T>(&self, f: impl AsyncFnOnce(&zookeeper_client::Client) -> T) -> T {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = zk::connect(&ZkConfig::new(self.connect()))
                .await
                .expect("connect");
            f(&client).await
        })
    }

    /// The run's assignment as it ended.
    pub(crate) fn assignment(&self, run: &str) -> Assignment {
        let id = RunId::parse(run).expect("run id");
        self.with_zk(async |client| {
            zk::get_json::<Assignment>(client, &layout::run_assignment(&id), "assignment")
                .await
                .expect("read")
                .expect("an assignment")
                .0
        })
    }

    /// What ZooKeeper holds about a run: its state and each agent's done marker.
    pub(crate) fn run_record(&self, run: &str) -> (RunState, BTreeMap<String, DoneMarker>) {
        let id = RunId::parse(run).expect("run id");
        self.with_zk(async |client| {
            let state = ptl_cluster::run::state(client, &id).await.expect("state");
            let mut done = BTreeMap::new();
            // Markers the coordinator made for agents that never finished stay empty.
            for (agent, data) in zk::written_children(client, &layout::run_done(&id))
                .await
                .expect("done list")
            {
                let marker: DoneMarker = serde_json::from_slice(&data).expect("done marker");
                done.insert(agent, marker);
            }
            (state, done)
        })
    }
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write");
    path
}

/// `run-0000000003` from submit's "submitted run-… " line.
pub(crate) fn run_id(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .find(|w| w.starts_with("run-"))
        .map(|w| w.trim_end_matches([';', ':']).to_string())
        .expect("submit names the run")
}

const TWO_PHASES: &str = r#"plan "cluster" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  connections 30
  max_inflight 600
  request hello { GET "/products/1" }
  phase warm { rate 150/s for 2s }
  phase steady { rate 300/s for 3s }
  threshold p99 < 2s
}
"#;

#[test]
fn three_agent_processes_run_a_plan_exactly_and_start_together() {
    let cluster = Cluster::start(3);
    let target = Target::start();
    let plan = write(cluster.dir.path(), "plan.ptl", TWO_PHASES);
    let out = cluster.dir.path().join("r.json");
    let report = cluster.dir.path().join("r.html");
    let junit = cluster.dir.path().join("r.xml");
    let hdr_log = cluster.dir.path().join("r.hlog");
    let o = cluster.expect_exit(
        cluster
            .submit(&plan, 3, &out)
            .args(["--set", &format!("target={}", target.url)])
            .arg("--report")
            .arg(&report)
            .arg("--junit")
            .arg(&junit)
            .arg("--hdr-log")
            .arg(&hdr_log)
            .output()
            .expect("ptl submit runs"),
        0,
    );
    // The same summary as `ptl run`, on stdout.
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"));

    let r = json(&out);
    let planned: u64 = 150 * 2 + 300 * 3;
    let total = r["total"]["requests"].as_u64().expect("total");
    assert!(
        total.abs_diff(planned) * 50 <= planned,
        "achieved {total} of {planned} planned"
    );
    let phases = r["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2);
    for (phase, want) in phases.iter().zip([300u64, 900]) {
        assert_eq!(phase["planned"].as_u64(), Some(want), "{phase}");
        assert_eq!(phase["errors"].as_u64(), Some(0), "{phase}");
    }
    assert_eq!(r["stopped_early"], false);
    assert!(std::fs::read_to_string(&report)
        .expect("report")
        .contains("steady"));
    assert!(std::fs::read_to_string(&junit)
        .expect("junit")
        .contains("<testsuite"));

    // Independent witness: what the target answered is what the merged result counts.
    assert_eq!(target.requests(), total);

    // The per-second series, merged from the three agents' windows: one point per second
    // of each phase, at the plan's whole rate, and every arrival in some point.
    assert_series_covers_the_plan(&r, &[("warm", 2, 150.0), ("steady", 3, 300.0)]);
    // The HdrHistogram log from the merged histograms: per phase, all requests and the one
    // request by name, with the same maxima as the result.
    assert_hdr_log_matches(&hdr_log, &r);

    // Each agent's own account: together exactly the merged count; one share each; and they
    // started within 50 ms of each other (each recorded when its start timer fired, on
    // ZooKeeper's clock).
    let run = run_id(&stderr(&o));
    let (state, done) = cluster.run_record(&run);
    assert!(state.degraded.is_empty(), "{state:?}");
    assert_eq!(done.len(), 3, "{done:?}");
    let sent: u64 = done.values().map(|d| d.requests).sum();
    assert_eq!(sent, total, "{done:?}");
    for marker in done.values() {
        assert!(marker.error.is_none(), "{marker:?}");
        assert!(
            marker.requests.abs_diff(planned / 3) * 20 <= planned / 3,
            "an equal-capacity agent sent {} of {planned}",
            marker.requests
        );
    }
    let starts: Vec<i64> = done
        .values()
        .map(|d| d.started_at_ms.expect("agent recorded its start"))
        .collect();
    let skew = starts.iter().max().unwrap_or(&0) - starts.iter().min().unwrap_or(&0);
    assert!(skew <= 50, "start skew {skew} ms: {starts:?}");

    // `ptl status` shows the finished run.
    let status = cluster.status();
    let runs = status["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state"], "done");
    assert_eq!(runs[0]["id"], run.as_str());
}

/// The result's series has a point for every second of each `(phase, seconds, rate)`, in order
/// from 0, each within 5 % of the phase's rate (one boundary arrival may fall either side of a
/// second per agent), and together they count every arrival of the run.
fn assert_series_covers_the_plan(r: &Value, phases: &[(&str, u64, f64)]) {
    let series = r["series"].as_array().expect("series");
    let mut t = 0u64;
    for &(name, seconds, rate) in phases {
        for _ in 0..seconds {
            let point = series
                .iter()
                .find(|p| p["t"].as_u64() == Some(t))
                .unwrap_or_else(|| panic!("no point for second {t}: {series:?}"));
            assert_eq!(point["phase"], name, "{point}");
            assert_eq!(point["target_rps"].as_f64(), Some(rate), "{point}");
            let achieved = point["achieved_rps"].as_f64().expect("achieved");
            assert!(
                (achieved - rate).abs() <= rate * 0.05,
                "second {t}: {achieved}/s of {rate}/s"
            );
            assert!(point["p99_ms"].as_f64().expect("p99") > 0.0, "{point}");
            t += 1;
        }
    }
    let ts: Vec<u64> = series.iter().filter_map(|p| p["t"].as_u64()).collect();
    assert_eq!(ts, (0..ts.len() as u64).collect::<Vec<_>>(), "{ts:?}");
    // The points of the plan's seconds are one second wide, so their rates add up to the
    // arrivals; any point after them is the drain of the requests still in flight.
    let seconds: u64 = phases.iter().map(|&(_, s, _)| s).sum();
    let planned: f64 = phases.iter().map(|&(_, s, rate)| s as f64 * rate).sum();
    let counted: f64 = series
        .iter()
        .filter(|p| p["t"].as_u64().is_some_and(|t| t < seconds))
        .map(|p| p["achieved_rps"].as_f64().unwrap_or(0.0))
        .sum();
    assert!(
        (counted - planned).abs() <= planned * 0.02,
        "the series counts {counted} of {planned} arrivals: {series:?}"
    );
}

/// The interval log has one untagged interval per second, in order, and per phase of the
/// result `PHASE/REQUEST` intervals (from the coordinator's merged seconds) whose counts add up
/// to the request's merged count and whose largest value is the phase's max response time.
fn assert_hdr_log_matches(path: &Path, r: &Value) {
    let bytes = std::fs::read(path).expect("hdr log written");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("one interval per second"), "{text}");
    let intervals = crate::hdr_log::read_log(&bytes);
    let untagged: Vec<_> = intervals.iter().filter(|i| i.tag.is_none()).collect();
    assert!(!untagged.is_empty(), "{text}");
    assert!(
        untagged.windows(2).all(|w| w[0].start < w[1].start),
        "seconds in order: {text}"
    );
    assert!(
        untagged.iter().all(|i| i.length <= Duration::from_secs(1)
            || i.start == untagged.last().map_or(Duration::ZERO, |l| l.start)),
        "{text}"
    );
    for phase in r["phases"].as_array().expect("phases") {
        let name = phase["name"].as_str().unwrap_or("");
        let tag = format!("{name}/hello");
        let ours: Vec<_> = intervals
            .iter()
            .filter(|i| i.tag.as_deref() == Some(tag.as_str()))
            .collect();
        let count: u64 = ours.iter().map(|i| i.count).sum();
        assert_eq!(
            Some(count),
            phase["requests"][0]["requests"].as_u64(),
            "{tag}: {text}"
        );
        let max = ours.iter().map(|i| i.max).max().unwrap_or(0) as f64 / 1000.0;
        let want = phase["response_time_ms"]["max"].as_f64().expect("max");
        assert!(
            (max - want).abs() < 0.01,
            "log max {max} ms, result {want} ms"
        );
    }
}

/// One steady phase whose every request carries a `seq()` value in its path, which the demo
/// target remembers (`/stats` says whether any came twice).
fn seq_plan(connections: u32, rate: u32, seconds: u32) -> String {
    format!(
        r#"plan "seq" {{
  param target = "http://127.0.0.1:9"
  target target
  connections {connections}
  let n = seq()
  request numbered {{ GET "/seq/{{{{n}}}}" }}
  phase steady {{ rate {rate}/s for {seconds}s }}
}}
"#
    )
}

#[test]
fn agents_joining_a_run_short_of_capacity_add_rate_exactly() {
    // Two agents of 100/s for a plan at 600/s carry 200/s; two more join mid-run and the
    // plan is spread over all four: 400/s. Their seq() values come from a fresh range.
    let mut cluster = Cluster::start_on(ZkServer::start(), 0, &[]);
    for name in ["agent0", "agent1"] {
        cluster.add_agent_with(name, &["--capacity", "100/s"]);
    }
    cluster.wait_for_agents(2);
    let target = Target::start();
    let plan = write(cluster.dir.path(), "plan.ptl", &seq_plan(20, 600, 9));
    let out = cluster.dir.path().join("r.json");
    let submit = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", target.url)])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ptl submit runs");
    wait_for_state(&cluster, None, "running");
    std::thread::sleep(Duration::from_secs(2));
    for name in ["agent2", "agent3"] {
        cluster.add_agent_with(name, &["--capacity", "100/s"]);
    }
    // The plan was short of capacity throughout: degraded, and the result says why.
    let o = cluster.finish(submit, 5);
    let r = json(&out);
    let total = r["total"]["requests"].as_u64().expect("total");
    let reasons = r["accounting"]["reasons"].to_string();
    assert!(reasons.contains("capacity shortfall"), "{reasons}");
    // Exact: every request the target received is in the result, none twice.
    let stats = target.stats();
    assert_eq!(stats["seq_requests"].as_u64(), Some(total), "{stats}");
    assert_eq!(stats["seq_distinct"].as_u64(), Some(total), "{stats}");
    assert_eq!(
        r["accounting"]["planned"].as_u64(),
        Some(5400),
        "{}",
        r["accounting"]
    );
    // 200/s before the joiners, 400/s after: the later seconds carry about twice the early.
    let series = r["series"].as_array().expect("series");
    let rate = |t: u64| {
        series
            .iter()
            .find(|p| p["t"].as_u64() == Some(t))
            .and_then(|p| p["achieved_rps"].as_f64())
            .unwrap_or(0.0)
    };
    assert!((190.0..=210.0).contains(&rate(1)), "{series:?}");
    assert!((380.0..=420.0).contains(&rate(8)), "{series:?}");
    let run = run_id(&stderr(&o));
    let (_, done) = cluster.run_record(&run);
    assert_eq!(done.len(), 4, "{done:?}\n{}", cluster.logs());
    assert_eq!(done.values().map(|d| d.requests).sum::<u64>(), total);
    // Each agent's saturation is in the result, from its own deltas.
    let agents = r["generator"]["agents"]
        .as_object()
        .expect("per-agent load");
    assert_eq!(agents.len(), 4, "{}", r["generator"]);
    // Their CPU travels in their deltas: each agent's figure is its own process's.
    assert!(
        agents.values().all(|a| a["cpu_max"].as_f64().is_some()),
        "{}",
        r["generator"]
    );
}

#[test]
fn seq_values_are_unique_across_agent_processes() {
    let cluster = Cluster::start(3);
    let target = Target::start();
    let plan = write(cluster.dir.path(), "plan.ptl", &seq_plan(30, 400, 3));
    let out = cluster.dir.path().join("r.json");
    let o = cluster.expect_exit(
        cluster
            .submit(&plan, 3, &out)
            .arg("--quiet")
            .args(["--set", &format!("target={}", target.url)])
            .output()
            .expect("ptl submit runs"),
        0,
    );
    let total = json(&out)["total"]["requests"].as_u64().expect("total");
    assert_eq!(total, 1200);
    // The target saw every request's number, and no number twice, although three processes
    // drew them independently.
    let stats = target.stats();
    assert_eq!(stats["seq_requests"].as_u64(), Some(total), "{stats}");
    assert_eq!(stats["seq_distinct"].as_u64(), Some(total), "{stats}");
    // Each agent sent about a third, so every agent's values are among them.
    let run = run_id(&stderr(&o));
    let (_, done) = cluster.run_record(&run);
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(done.values().all(|d| d.requests * 4 > total), "{done:?}");
}

/// A `unique` feeder in a cluster run: the agents share its rows, every row is sent once, and
/// the arrivals that found none are counted as `exhausted` in the merged result (summed over
/// the agents), as the target's own log of paths confirms.
#[test]
fn a_unique_feeder_is_exhausted_cluster_wide_and_the_count_is_merged() {
    use ptl_test_support::counting_server;
    let cluster = Cluster::start(2);
    let server = counting_server::server();
    server.record();
    write(cluster.dir.path(), "ids.csv", "id\n1\n2\n3\n4\n5\n");
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        r#"plan "unique" {
  param target = "http://127.0.0.1:9"
  target target
  let row = csv("ids.csv", unique)
  request hello { GET "/id/{{row.id}}" }
  phase main { rate 20/s for 1s }
}
"#,
    );
    let out = cluster.dir.path().join("r.json");
    cluster.expect_exit(
        cluster
            .submit(&plan, 2, &out)
            .arg("--quiet")
            .args(["--set", &format!("target={}", server.url())])
            .output()
            .expect("ptl submit runs"),
        0,
    );
    let phase = &json(&out)["phases"][0];
    assert_eq!(phase["planned"].as_u64(), Some(20), "{phase}");
    assert_eq!(phase["request_count"].as_u64(), Some(5), "{phase}");
    assert_eq!(phase["exhausted"].as_u64(), Some(15), "{phase}");
    let mut paths: Vec<String> = server.recorded().into_iter().map(|r| r.target).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/id/1", "/id/2", "/id/3", "/id/4", "/id/5"],
        "each row once"
    );
}

/// The plan goes to agents as bytecode: its hosts go with it. Two agents send to two hosts
/// (the default target and a named one), and the merged result's rows per host are exactly
/// what each host's own count says it received.
#[test]
fn agents_send_to_every_host_of_the_plan() {
    use ptl_test_support::counting_server;
    use std::sync::atomic::Ordering;
    let cluster = Cluster::start(2);
    let (a, b) = (counting_server::server(), counting_server::server());
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        r#"plan "hosts" {
  param target = "http://127.0.0.1:9"
  param auth_url = "http://127.0.0.1:9"
  target target
  target auth auth_url
  connections 20
  request home { GET "/" }
  request token { POST auth "/login" }
  phase steady { rate 100/s for 2s }
}
"#,
    );
    let out = cluster.dir.path().join("r.json");
    let o = cluster.expect_exit(
        cluster
            .submit(&plan, 2, &out)
            .arg("--quiet")
            .args(["--set", &format!("target={}", a.url())])
            .args(["--set", &format!("auth_url={}", b.url())])
            .output()
            .expect("ptl submit runs"),
        0,
    );
    let r = json(&out);
    assert_eq!(r["total"]["requests"].as_u64(), Some(200), "{}", r["total"]);
    let row = |name: &str| -> u64 {
        r["hosts"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["name"] == name))
            .and_then(|h| h["requests"].as_u64())
            .unwrap_or_else(|| panic!("no host {name} in {}", r["hosts"]))
    };
    let (hits_a, hits_b) = (
        a.state.hits.load(Ordering::Relaxed),
        b.state.hits.load(Ordering::Relaxed),
    );
    assert_eq!((row("default"), row("auth")), (hits_a, hits_b));
    assert!(hits_a > 0 && hits_b > 0, "{hits_a} {hits_b}");
    assert_eq!(hits_a + hits_b, 200);
    let (_, done) = cluster.run_record(&run_id(&stderr(&o)));
    assert_eq!(done.len(), 2, "{done:?}");
    assert!(done.values().all(|d| d.requests > 0), "{done:?}");
}

#[test]
fn kill_9_of_an_agent_mid_phase_is_taken_over_and_recorded() {
    let mut cluster = Cluster::start(3);
    let target = Target::start();
    let rate = 300u64;
    let seconds = 10u64;
    let (submit, out) = spawn_steady_submit(&cluster, &target, rate, seconds);

    // Two seconds into the phase, kill one agent outright.
    let run = wait_for_state(&cluster, None, "running");
    std::thread::sleep(Duration::from_secs(3));
    let killed_at_ms = ptl_cluster::zk::clock::now_ms();
    cluster.agents[1].kill_9();

    // Degraded: the run lost part of its load, and says so with its own exit status.
    cluster.finish(submit, 5);
    let r = json(&out);
    let planned = rate * seconds;
    let total = r["total"]["requests"].as_u64().expect("total");
    // The target saw what was merged, plus what the killed agent sent after its last delta
    // (at most about a second of its share).
    let answered = target.requests();
    assert!(
        answered >= total && answered - total <= rate,
        "target answered {answered}, merged {total}"
    );

    // The loss is recorded: one window, rebalanced at epoch 1.
    let (state, done) = cluster.run_record(&run);
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    let window = &state.degraded[0];
    assert_eq!(window.epoch, 1);
    let until_ms = window.until_ms.expect("rebalanced");
    // From where its reports stopped: the end of its last one-second interval before the kill.
    assert!(
        window.from_ms <= killed_at_ms && window.from_ms >= killed_at_ms - 2500,
        "{window:?} vs kill at {killed_at_ms}"
    );
    let recorded = &r["degraded"];
    assert_eq!(recorded.as_array().map(Vec::len), Some(1), "{recorded}");
    let accounting = &r["accounting"];
    assert_eq!(accounting["degraded"], true, "{accounting}");
    assert_eq!(
        accounting["planned"].as_u64(),
        Some(rate * seconds),
        "{accounting}"
    );
    let unreported = accounting["unreported"].as_u64().expect("unreported");
    assert!(unreported > 0 && unreported <= rate / 3 + 1, "{accounting}");

    // The survivors took over: together they sent more than their original two thirds.
    assert_eq!(done.len(), 2, "{done:?}");
    let survivors: u64 = done.values().map(|d| d.requests).sum();
    assert!(
        survivors * 3 > planned * 2 * 103 / 100,
        "survivors sent {survivors}, no more than their own share of {planned}"
    );
    // What was sent (the target's count) misses only the lost third of the gap between the
    // kill and the rebalance; the merged total misses, besides, what the killed agent sent
    // after its last one-second delta.
    let gap_s = (until_ms - killed_at_ms).max(0) as f64 / 1000.0;
    let expected = planned as f64 - rate as f64 / 3.0 * gap_s;
    assert!(
        (answered as f64 - expected).abs() <= planned as f64 * 0.02,
        "sent {answered}, expected about {expected:.0} ({planned} planned, a third of {gap_s:.2} s lost)"
    );
    assert!(
        total as f64 >= planned as f64 * 0.85,
        "total {total} of {planned}"
    );
}

#[test]
fn a_standby_coordinator_resumes_the_run_when_the_leader_is_killed() {
    let session = ["--session-timeout", AGENT_SESSION];
    let mut cluster = Cluster::start_with(3, &session);
    cluster.add_standby("standby-coordinator", &session);
    let target = Target::start();
    let (rate, seconds) = (300u64, 8u64);
    let (submit, out) = spawn_steady_submit(&cluster, &target, rate, seconds);
    let run = wait_for_state(&cluster, None, "running");
    assert_eq!(cluster.status()["coordinator"], "test-coordinator");
    // Three seconds in, the leader dies without a word; the standby leads once its session
    // times out, finds the run running and carries it on.
    std::thread::sleep(Duration::from_secs(3));
    cluster.coordinator.kill_9();

    cluster.finish(submit, 0);
    assert_eq!(cluster.status()["coordinator"], "standby-coordinator");
    let (state, done) = cluster.run_record(&run);
    assert_eq!(state.coordinator.as_deref(), Some("standby-coordinator"));
    assert!(state.degraded.is_empty(), "{state:?}");
    assert_eq!(done.len(), 3, "{done:?}");

    // The result is whole: every delta, before and after the failover, merged once.
    let r = json(&out);
    let planned = rate * seconds;
    let total = r["total"]["requests"].as_u64().expect("total");
    assert!(
        total.abs_diff(planned) * 50 <= planned,
        "achieved {total} of {planned} planned"
    );
    assert_eq!(target.requests(), total);
    let sent: u64 = done.values().map(|d| d.requests).sum();
    assert_eq!(sent, total, "{done:?}");
    assert_eq!(r["phases"][0]["planned"].as_u64(), Some(planned));
    assert_eq!(r["stopped_early"], false);
    assert!(
        r["duration_s"]
            .as_f64()
            .is_some_and(|d| (d - seconds as f64).abs() < 0.5),
        "{}",
        r["duration_s"]
    );
    assert_series_covers_the_plan(&r, &[("steady", seconds, rate as f64)]);
}

#[test]
fn an_agent_that_joins_after_a_loss_takes_over_the_vacated_share() {
    let mut cluster = Cluster::start(3);
    let target = Target::start();
    let (rate, seconds) = (300u64, 12u64);
    let (submit, out) = spawn_steady_submit(&cluster, &target, rate, seconds);
    let run = wait_for_state(&cluster, None, "running");
    std::thread::sleep(Duration::from_secs(3));
    let killed_at_ms = ptl_cluster::zk::clock::now_ms();
    cluster.agents[1].kill_9();
    // Once the loss is rebalanced, a fresh agent comes up and is given the vacated share.
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster.run_record(&run).0.degraded.is_empty() {
        assert!(Instant::now() < deadline, "the loss was never noticed");
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.add_agent("agent3");

    cluster.finish(submit, 5);
    let (state, done) = cluster.run_record(&run);
    assert_eq!(state.degraded.len(), 1, "{state:?}");
    let lost = state.degraded[0].agent.clone();
    let rebalanced_ms = state.degraded[0].until_ms.expect("rebalanced");
    let assignment = cluster.assignment(&run);
    // Epoch 1 rebalanced the loss, epoch 2 admitted the joiner on the lost agent's slice.
    assert_eq!(assignment.epoch, 2, "{assignment:?}");
    assert_eq!(assignment.departed.len(), 1);
    assert_eq!(assignment.departed[0].agent.0, lost);
    let joiner = assignment
        .shares
        .iter()
        .find(|s| s.joined_at_ms.is_some())
        .expect("a joiner");
    assert_eq!(joiner.index, assignment.departed[0].index);
    assert!(
        assignment
            .shares
            .iter()
            .all(|s| (s.rate_fraction - 1.0 / 3.0).abs() < 1e-9),
        "{assignment:?}"
    );
    let joined_at_ms = joiner.joined_at_ms.unwrap_or_default();

    // The joiner sent its third from when it joined to the end, and said so when done.
    assert_eq!(done.len(), 3, "{done:?}");
    let joined = done.get(&joiner.agent.0).expect("the joiner finished");
    assert!(joined.error.is_none(), "{joined:?}");
    let r = json(&out);
    let started_ms = state.running_since_ms.unwrap_or_default();
    let run_start_ms = assignment.start_at_ms;
    let end_ms = run_start_ms + seconds as i64 * 1000;
    let expected = (end_ms - joined_at_ms) as f64 / 1000.0 * rate as f64 / 3.0;
    assert!(
        (joined.requests as f64 - expected).abs() <= expected * 0.1,
        "the joiner sent {} requests, its share was about {expected:.0} (joined at {} s, running since {} ms)",
        joined.requests,
        (joined_at_ms - run_start_ms) as f64 / 1000.0,
        started_ms - run_start_ms
    );

    // The total rate was kept throughout, except the lost third between the kill and the
    // rebalance: what the target saw, and every second from the rebalance on.
    let planned = rate * seconds;
    let answered = target.requests();
    let gap_s = (rebalanced_ms - killed_at_ms).max(0) as f64 / 1000.0;
    let expected = planned as f64 - rate as f64 / 3.0 * gap_s;
    assert!(
        (answered as f64 - expected).abs() <= planned as f64 * 0.02,
        "sent {answered}, expected about {expected:.0}"
    );
    let total = r["total"]["requests"].as_u64().expect("total");
    assert!(
        answered >= total && answered - total <= rate,
        "{answered} vs {total}"
    );
    let series = r["series"].as_array().expect("series");
    let from_s = ((rebalanced_ms - run_start_ms) / 1000 + 1) as u64;
    for point in series
        .iter()
        .filter(|p| p["t"].as_u64().is_some_and(|t| t >= from_s && t < seconds))
    {
        let achieved = point["achieved_rps"].as_f64().expect("achieved");
        assert!(
            (achieved - rate as f64).abs() <= rate as f64 * 0.05,
            "{point} (rebalanced at {from_s} s, joined at {} s)",
            (joined_at_ms - run_start_ms) as f64 / 1000.0
        );
    }
}

#[test]
fn an_abort_threshold_on_the_merged_data_stops_every_agent() {
    let cluster = Cluster::start(2);
    let target = Target::start_with(&["--error-rate", "50%"]);
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        r#"plan "abort" {
  param target = "http://127.0.0.1:9"
  target target
  connections 10
  request hello { GET "/" }
  phase long { rate 100/s for 60s }
  threshold error_rate < 10% abort
}
"#,
    );
    let out = cluster.dir.path().join("r.json");
    let started = Instant::now();
    let o = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", target.url)])
        .output()
        .expect("ptl submit runs");
    // Exit 1 as `ptl run` gives for a failed threshold, long before the 60 s phase ends.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}\n{}\n{}",
        stderr(&o),
        std::fs::read_to_string(&out).unwrap_or_default(),
        cluster.logs()
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the 60 s phase was not cut short"
    );
    let r = json(&out);
    assert_eq!(r["stopped_early"], true);
    assert!(
        r["stop_reason"]
            .as_str()
            .is_some_and(|s| s.contains("error_rate")),
        "{}",
        r["stop_reason"]
    );
    assert_eq!(r["thresholds"][0]["passed"], false);
}

const LONG: &str = r#"plan "long" {
  param target = "http://127.0.0.1:9"
  target target
  connections 10
  request hello { GET "/products/1" }
  phase long { rate 50/s for 60s }
}
"#;

/// Polls `ptl status` until run `id` (or the last run, with `None`) is in `state`.
pub(crate) fn wait_for_state(cluster: &Cluster, id: Option<&str>, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = cluster.status();
        let run = status["runs"].as_array().and_then(|runs| {
            runs.iter()
                .rev()
                .find(|r| id.is_none_or(|id| r["id"] == id))
                .cloned()
        });
        if let Some(run) = run.filter(|r| r["state"] == state) {
            return run["id"].as_str().unwrap_or_default().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no run reached {state}: {status}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ptl submit --wait` of one steady phase (`rate`/s for `seconds`) to three agents, started
/// and left running: the process and the path its result goes to.
pub(crate) fn spawn_steady_submit(
    cluster: &Cluster,
    target: &Target,
    rate: u64,
    seconds: u64,
) -> (std::process::Child, std::path::PathBuf) {
    spawn_steady_submit_with(cluster, target, rate, seconds, &[])
}

/// As [`spawn_steady_submit`], with `extra` flags for `ptl submit`.
pub(crate) fn spawn_steady_submit_with(
    cluster: &Cluster,
    target: &Target,
    rate: u64,
    seconds: u64,
    extra: &[&str],
) -> (std::process::Child, std::path::PathBuf) {
    let plan = write(
        cluster.dir.path(),
        "plan.ptl",
        &TWO_PHASES
            .replace("phase warm { rate 150/s for 2s }\n", "")
            .replace(
                "rate 300/s for 3s",
                &format!("rate {rate}/s for {seconds}s"),
            ),
    );
    let out = cluster.dir.path().join("r.json");
    let submit = cluster
        .submit(&plan, 3, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", target.url)])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptl submit starts");
    (submit, out)
}

/// `ptl submit` of [`LONG`] to two agents, without `--wait`: the run id it prints.
fn submit_long(cluster: &Cluster, target: &Target) -> String {
    let plan = write(cluster.dir.path(), "plan.ptl", LONG);
    let o = ptl()
        .arg("submit")
        .arg(&plan)
        .args(["--zk", &cluster.connect(), "--agents", "2"])
        .args([
            "--set",
            &format!("target={}", target.url),
            "--start-delay",
            "1s",
        ])
        .output()
        .expect("ptl submit runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Without --wait, the run id alone on stdout.
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn ptl_stop_ends_a_run_submitted_without_waiting() {
    let cluster = Cluster::start(2);
    let target = Target::start();
    let id = submit_long(&cluster, &target);
    assert!(id.starts_with("run-"), "{id:?}");
    wait_for_state(&cluster, Some(&id), "running");
    std::thread::sleep(Duration::from_secs(1));
    let o = ptl()
        .args(["stop", &id, "--zk", &cluster.connect()])
        .output()
        .expect("ptl stop runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("stopping"), "{}", stderr(&o));
    wait_for_state(&cluster, Some(&id), "done");
    // Stopping a finished run is not an error, and says so.
    let o = ptl()
        .args(["stop", &id, "--zk", &cluster.connect()])
        .output()
        .expect("ptl stop runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("already ended"), "{}", stderr(&o));
    // A run that does not exist is.
    let o = ptl()
        .args(["stop", "run-0000009999", "--zk", &cluster.connect()])
        .output()
        .expect("ptl stop runs");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

/// `ptl submit --wait` stopped by `signal` two seconds into the run: it stops the run on every
/// agent, writes what was merged and exits 130 with the signal's reason.
fn submit_wait_stops_on(signal: &str, reason: &str) {
    let cluster = Cluster::start(2);
    let target = Target::start();
    let plan = write(cluster.dir.path(), "plan.ptl", LONG);
    let out = cluster.dir.path().join("r.json");
    let mut submit = ptl()
        .arg("submit")
        .arg(&plan)
        .args([
            "--zk",
            &cluster.connect(),
            "--agents",
            "2",
            "--wait",
            "--quiet",
        ])
        .args([
            "--set",
            &format!("target={}", target.url),
            "--start-delay",
            "1s",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ptl submit starts");
    wait_for_state(&cluster, None, "running");
    std::thread::sleep(Duration::from_secs(2));
    let signalled = Command::new("kill")
        .args([signal, &submit.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = submit.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "submit did not end after {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "{}", cluster.logs());
    let r = json(&out);
    assert_eq!(r["stopped_early"], true);
    assert_eq!(r["stop_reason"], reason);
    let sent = r["total"]["requests"].as_u64().expect("total");
    assert!(sent > 50 && sent < 3000, "{sent}");
}

#[test]
fn ctrl_c_in_submit_wait_stops_the_run_and_writes_the_results_so_far() {
    submit_wait_stops_on("-INT", "interrupted (Ctrl-C)");
}

#[test]
fn sigterm_in_submit_wait_stops_the_run_as_ctrl_c_does() {
    submit_wait_stops_on("-TERM", "interrupted (SIGTERM)");
}

#[test]
fn an_unreachable_zookeeper_is_a_clean_error_within_the_connect_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let zk = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = write(dir.path(), "plan.ptl", TWO_PHASES);
    let plan = plan.to_str().expect("utf-8 path");
    for args in [
        vec!["submit", plan, "--agents", "1", "--wait"],
        vec!["status"],
        vec!["stop", "1"],
        vec!["pause", "1"],
        vec!["resume", "1"],
        vec!["agent"],
        vec!["coordinator"],
    ] {
        let started = Instant::now();
        let o = ptl()
            .args(&args)
            .args(["--zk", &zk, "--connect-timeout", "1s"])
            .output()
            .expect("ptl runs");
        assert_eq!(o.status.code(), Some(4), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("unreachable") && err.contains(&zk),
            "{args:?}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn fewer_agents_than_asked_fail_after_the_agent_wait() {
    let cluster = Cluster::start(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = write(dir.path(), "plan.ptl", TWO_PHASES);
    let out = dir.path().join("r.json");
    let o = ptl()
        .arg("submit")
        .arg(&plan)
        .args(["--zk", &cluster.connect(), "--agents", "2", "--wait"])
        .args(["--agent-wait", "1s", "--timeout", "30s", "--out"])
        .arg(&out)
        .output()
        .expect("ptl submit runs");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wants 2 agent(s) but only 1 registered"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let status = cluster.status();
    assert_eq!(status["runs"][0]["state"], "failed");
}

#[test]
fn submit_flags_are_checked_before_anything_is_sent() {
    // No ZooKeeper is needed to refuse these.
    let o = ptl()
        .args([
            "submit",
            "std:smoke",
            "--zk",
            "127.0.0.1:1",
            "--agents",
            "0",
        ])
        .output()
        .expect("ptl runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = ptl()
        .args([
            "submit",
            "std:smoke",
            "--zk",
            "127.0.0.1:1",
            "--agents",
            "1",
        ])
        .args(["--out", "r.json"])
        .output()
        .expect("ptl runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("need --wait"), "{}", stderr(&o));
    let o = ptl()
        .args(["agent", "--zk", "127.0.0.1:1", "--capacity", "fast"])
        .output()
        .expect("ptl runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_plan_over_two_mebibytes_is_stored_chunked_and_runs() {
    let cluster = Cluster::start(2);
    let target = Target::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // Rows of pseudo-random letters, which compression cannot shrink much: the bytecode
    // embeds them, so the plan spans several znodes.
    let mut csv = String::from("id,note\n");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..30_000 {
        let note: String = (0..96)
            .map(|_| {
                // xorshift64: deterministic, no dependency.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        csv.push_str(&format!("{i},{note}\n"));
    }
    write(dir.path(), "rows.csv", &csv);
    let plan = write(
        dir.path(),
        "big.ptl",
        r#"plan "big" {
  param target = "http://127.0.0.1:9"
  target target
  connections 10
  let row = csv("rows.csv")
  request item { GET "/products/{{row.id}}" }
  phase steady { rate 100/s for 2s }
}
"#,
    );
    let compiled = dir.path().join("big.ptlc");
    let o = ptl()
        .arg("compile")
        .arg(&plan)
        .args(["--set", &format!("target={}", target.url), "-o"])
        .arg(&compiled)
        .output()
        .expect("ptl compile runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let size = std::fs::metadata(&compiled).expect("compiled").len();
    assert!(
        size > 2 * 1024 * 1024,
        "the compiled plan is only {size} bytes"
    );

    let out = dir.path().join("r.json");
    cluster.expect_exit(
        cluster
            .submit(&compiled, 2, &out)
            .arg("--quiet")
            .output()
            .expect("ptl submit runs"),
        0,
    );
    let r = json(&out);
    assert_eq!(r["total"]["requests"].as_u64(), Some(200), "{}", r["total"]);
    assert_eq!(r["total"]["errors"].as_u64(), Some(0));
    assert_eq!(target.requests(), 200);
}

#[test]
fn ptl_pause_and_resume_hold_a_run_and_let_it_go_on() {
    let cluster = Cluster::start(2);
    let target = Target::start();
    let id = submit_long(&cluster, &target);
    let control = |verb: &str, run: &str| {
        ptl()
            .args([verb, run, "--zk", &cluster.connect()])
            .output()
            .expect("ptl runs")
    };
    // Not running yet (or just started): refused while pending, so wait for running.
    wait_for_state(&cluster, Some(&id), "running");
    let deadline = Instant::now() + Duration::from_secs(20);
    while target.requests() < 20 {
        assert!(Instant::now() < deadline, "no load reached the target");
        std::thread::sleep(Duration::from_millis(50));
    }

    let o = control("pause", &id);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("is paused from"), "{}", stderr(&o));
    wait_for_state(&cluster, Some(&id), "paused");
    let o = control("pause", &id);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("already paused"), "{}", stderr(&o));
    // The pause takes effect within the lead (1 s, the start delay); then nothing is sent.
    std::thread::sleep(Duration::from_millis(1500));
    let held = target.requests();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(target.requests(), held, "requests sent while paused");

    let o = control("resume", &id);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("resumes at"), "{}", stderr(&o));
    wait_for_state(&cluster, Some(&id), "running");
    let deadline = Instant::now() + Duration::from_secs(20);
    while target.requests() <= held {
        assert!(Instant::now() < deadline, "no load after resuming");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = control("resume", &id);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not paused"), "{}", stderr(&o));
    let windows = cluster.status()["runs"][0]["pauses"].clone();
    assert_eq!(windows.as_array().map(Vec::len), Some(1), "{windows}");
    assert!(windows[0]["until_ms"].as_i64() > windows[0]["at_ms"].as_i64());

    let o = control("stop", &id);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    wait_for_state(&cluster, Some(&id), "done");
    // A finished run, or one that does not exist, cannot be paused (exit 4, and why).
    for (verb, run, why) in [
        ("pause", id.as_str(), "finished"),
        ("resume", id.as_str(), "finished"),
        ("pause", "run-0000009999", "does not exist"),
    ] {
        let o = control(verb, run);
        assert_eq!(o.status.code(), Some(4), "{verb} {run}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{verb} {run}: {}", stderr(&o));
    }
}
