//! `ptl run --dashboard`: the real binary serves the dashboard while the run goes on (URL on
//! stderr), refuses control without the operator token, stops the run with it, and writes the
//! result as usual; pauses and resumes a run from it. `ptl coordinator --http --plans DIR`: the
//! dashboard lists the library's plans and starts one with params for the operator (compile
//! errors come back as text); a browser's event stream that reconnects with `Last-Event-ID` gets
//! only what it missed, from the same coordinator or from the one that took over after a
//! `kill -9`. (The dashboard itself is tested in depth in the `ptl-dashboard` crate.)

use crate::support::{agent, Proc};
use ptl_test_support::ZkServer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

fn ptl() -> Command {
    crate::support::ptl()
}

/// One request, `Connection: close`; returns the status and body.
pub(crate) fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    call(addr, method, path, token, "")
}

/// `ptl run --dashboard` of a 60 s plan (one GET at `rate`/s) against `target`, with the
/// operator token `op1` and the viewer token `v1`, its result to `out`.
pub(crate) struct DashboardRun {
    pub(crate) child: Child,
    /// The dashboard's address, as printed on stderr.
    pub(crate) addr: String,
    /// The rest of its stderr, kept open: `ptl run` must be able to write to it until it ends.
    pub(crate) stderr: BufReader<ChildStderr>,
}

impl DashboardRun {
    fn start(dir: &Path, rate: u32, target: &str, out: &Path) -> DashboardRun {
        let plan = dir.join("plan.ptl");
        std::fs::write(
            &plan,
            format!(
                r#"plan "d" {{
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  connections 20
  request hello {{ GET "/products/1" }}
  phase steady {{ rate {rate}/s for 60s }}
}}"#
            ),
        )
        .unwrap();
        DashboardRun::spawn(&plan, target, out, &[])
    }

    /// `ptl run PLAN --dashboard` with `extra` flags, the tokens of [`DashboardRun`].
    pub(crate) fn spawn(plan: &Path, target: &str, out: &Path, extra: &[&str]) -> DashboardRun {
        let mut child = ptl()
            .arg("run")
            .arg(plan)
            .args(["--set", &format!("target={target}"), "--quiet"])
            .args(["--dashboard", "127.0.0.1:0", "--viewer-token", "v1"])
            .args(extra)
            .arg("--out")
            .arg(out)
            .env("PTL_TOKEN", "op1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ptl run starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut addr = String::new();
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(rest) = line.strip_prefix("dashboard: http://") {
                addr = rest.split('/').next().unwrap_or_default().to_string();
                break;
            }
            line.clear();
        }
        assert!(!addr.is_empty(), "the dashboard URL is printed");
        DashboardRun {
            child,
            addr,
            stderr,
        }
    }
}

#[test]
fn run_with_a_dashboard_serves_it_and_stops_from_it() {
    let target = crate::support::Target::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut run = DashboardRun::start(dir.path(), 20, &target.url, &out);
    let addr = run.addr.clone();

    assert_eq!(http(&addr, "GET", "/api/runs", None).0, 401);
    let (status, body) = http(&addr, "GET", "/api/runs", Some("v1"));
    assert_eq!(status, 200);
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = runs[0]["id"]
        .as_str()
        .expect("the run is listed")
        .to_string();
    assert_eq!(runs[0]["status"], "running");
    let stop = format!("/api/runs/{id}/stop");
    assert_eq!(http(&addr, "POST", &stop, Some("v1")).0, 401);
    assert_eq!(http(&addr, "POST", &stop, Some("op1")).0, 202);

    let status = run.child.wait().expect("ptl run ends");
    drop(target);
    assert_eq!(status.code(), Some(0));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the result is written")).unwrap();
    assert_eq!(result["stopped_early"], true);
    assert_eq!(result["stop_reason"], "stopped from the dashboard");
    assert!(result["duration_s"].as_f64().unwrap() < 60.0);
    // The dashboard ends with the run.
    assert!(
        TcpStream::connect(&addr).is_err(),
        "still serving after the run"
    );
}

/// The snapshot a browser gets first from `/events`: the runs list among it.
fn snapshot(addr: &str, token: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).expect("connects to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let mut event = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap_or(0) > 0,
            "the stream ended before its snapshot"
        );
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event == "snapshot" {
                return serde_json::from_str(data).expect("snapshot JSON");
            }
        }
    }
}

#[test]
fn run_with_a_dashboard_pauses_and_resumes_from_it() {
    let target = crate::support::Target::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let mut run = DashboardRun::start(dir.path(), 50, &target.url, &out);
    let addr = run.addr.clone();
    let (_, body) = http(&addr, "GET", "/api/runs", Some("v1"));
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = runs[0]["id"].as_str().expect("listed").to_string();
    assert_eq!(runs[0]["controls"]["pause"], true, "{runs}");
    assert_eq!(runs[0]["controls"]["resume"], false, "{runs}");
    // Some load first.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while target.requests() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no load reached the target"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let pause = format!("/api/runs/{id}/pause");
    let resume = format!("/api/runs/{id}/resume");
    assert_eq!(http(&addr, "POST", &pause, None).0, 401);
    assert_eq!(http(&addr, "POST", &pause, Some("v1")).0, 401);
    assert_eq!(snapshot(&addr, "v1")["runs"][0]["status"], "running");
    let (status, body) = http(&addr, "POST", &pause, Some("op1"));
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("paused"), "{body}");
    let snap = snapshot(&addr, "v1");
    assert_eq!(snap["runs"][0]["status"], "paused", "{snap}");
    assert_eq!(snap["runs"][0]["controls"]["resume"], true, "{snap}");
    // Paused twice is refused, and says why.
    let (status, body) = http(&addr, "POST", &pause, Some("op1"));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already paused"), "{body}");
    // Nothing new reaches the target while paused (what was in flight has long finished).
    std::thread::sleep(Duration::from_millis(500));
    let held = target.requests();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(target.requests(), held, "requests sent while paused");

    let (status, body) = http(&addr, "POST", &resume, Some("op1"));
    assert_eq!(status, 202, "{body}");
    assert_eq!(snapshot(&addr, "v1")["runs"][0]["status"], "running");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while target.requests() <= held {
        assert!(
            std::time::Instant::now() < deadline,
            "no load after resuming"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http(&addr, "POST", &resume, Some("op1")).0, 409);
    assert_eq!(
        http(&addr, "POST", &format!("/api/runs/{id}/stop"), Some("op1")).0,
        202
    );

    let status = run.child.wait().expect("ptl run ends");
    assert_eq!(status.code(), Some(0));
    let result = crate::support::json(&out);
    let pauses = result["pauses"].as_array().expect("pauses listed");
    assert_eq!(pauses.len(), 1, "{result}");
    let (start, end) = (
        pauses[0]["start_ms"].as_u64().expect("start"),
        pauses[0]["end_ms"].as_u64().expect("resumed"),
    );
    assert!(end >= start + 1500, "{pauses:?}");
    // Whole milliseconds of µs instants: the two may round apart by one.
    let paused_ms = result["phases"][0]["paused_ms"]
        .as_u64()
        .expect("paused_ms");
    assert!(
        paused_ms.abs_diff(end - start) <= 1,
        "{paused_ms} vs {pauses:?}"
    );
}

const OPERATOR: &str = "op-launch";
const VIEWER: &str = "view-launch";

/// One request with a JSON body (or none: empty), `Connection: close`; the status and body.
fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let kind = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("an answer");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `ptl ARGS` as a [`Proc`], without tokens from the environment: each test gives its own on
/// the command line.
fn spawn(dir: &Path, name: &str, args: &[&str]) -> Proc {
    let mut command = ptl();
    command
        .args(args)
        .env_remove("PTL_TOKEN")
        .env_remove("PTL_VIEWER_TOKEN");
    Proc::spawn_command(dir, name, command)
}

/// The dashboard address the coordinator printed.
fn dashboard_addr(coordinator: &Proc) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = coordinator.log();
        if let Some(at) = log.find("dashboard at http://") {
            let rest = &log[at + "dashboard at http://".len()..];
            return rest.split('/').next().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "no dashboard address: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SESSION: &str = "1500ms";

fn coordinator(dir: &Path, zk: &str, name: &str, plans: &Path) -> Proc {
    let plans = plans.to_str().expect("a UTF-8 path");
    spawn(
        dir,
        name,
        &[
            "coordinator",
            "--zk",
            zk,
            "--name",
            name,
            "--session-timeout",
            SESSION,
            "--http",
            "127.0.0.1:0",
            "--plans",
            plans,
            "--token",
            OPERATOR,
            "--viewer-token",
            VIEWER,
        ],
    )
}

/// A plan whose target, rate and length are params.
const LIBRARY_PLAN: &str = r#"plan "library" {
  param target = "http://127.0.0.1:9"
  param rate = 20/s
  param hold = 2s
  target target
  timeout 1s
  connections 10
  request hello { GET "/products/1" }
  phase steady { rate rate for hold }
}"#;

/// What the coordinator tests start from: ZooKeeper, a directory holding the plan library
/// ([`library`]) and a target.
struct Library {
    _zk: ZkServer,
    connect: String,
    dir: tempfile::TempDir,
    plans: PathBuf,
    target: crate::support::Target,
}

impl Library {
    fn start() -> Library {
        let zk = ZkServer::start();
        let dir = tempfile::tempdir().unwrap();
        Library {
            connect: zk.connect_string(),
            plans: library(dir.path()),
            _zk: zk,
            dir,
            target: crate::support::Target::start(),
        }
    }
}

/// A plan library (`--plans`) under `dir` holding [`LIBRARY_PLAN`].
fn library(dir: &Path) -> PathBuf {
    let plans = dir.join("plans");
    std::fs::create_dir_all(&plans).unwrap();
    std::fs::write(plans.join("library.ptl"), LIBRARY_PLAN).unwrap();
    plans
}

/// [`Library`] with a coordinator serving its dashboard (and the library) and one agent: what
/// the tests that start runs from the page need.
struct Served {
    lib: Library,
    coord: Proc,
    agent: Proc,
    /// The dashboard's address.
    addr: String,
}

impl Served {
    fn start() -> Served {
        let lib = Library::start();
        let coord = coordinator(lib.dir.path(), &lib.connect, "c1", &lib.plans);
        let agent = agent(lib.dir.path(), &lib.connect, "a1");
        let addr = dashboard_addr(&coord);
        Served {
            lib,
            coord,
            agent,
            addr,
        }
    }

    /// Waits (90 s at most) until `/api/runs` says `run` is done or failed; its summary.
    fn finished(&self, run: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (status, body) = call(&self.addr, "GET", "/api/runs", Some(VIEWER), "");
            if status == 200 {
                let runs = parse(&body);
                let found = runs
                    .as_array()
                    .and_then(|r| r.iter().find(|r| r["id"] == run).cloned());
                if let Some(summary) = found {
                    if summary["status"] == "done" || summary["status"] == "failed" {
                        return summary;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "{run} did not end; logs:\n{}\n{}",
                self.coord.log(),
                self.agent.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn the_coordinator_dashboard_starts_a_library_plan_with_params() {
    let served = Served::start();
    let (addr, target) = (&served.addr, &served.lib.target);

    // The library: viewers may look, with each param's kind and default.
    assert_eq!(call(addr, "GET", "/api/plans", None, "").0, 401);
    let (status, body) = call(addr, "GET", "/api/plans", Some(VIEWER), "");
    assert_eq!(status, 200, "{body}");
    let listed = parse(&body);
    let plan = listed["plans"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "library"))
        .unwrap_or_else(|| panic!("the file is listed: {listed}"));
    assert_eq!(plan["checks"], true);
    assert_eq!(
        plan["params"],
        json!([
            {"name": "target", "kind": "string", "default": "http://127.0.0.1:9"},
            {"name": "rate", "kind": "rate", "default": "20/s"},
            {"name": "hold", "kind": "duration", "default": "2s"},
        ])
    );
    assert!(listed["plans"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "std:load"));

    // Starting is the operator's, and what cannot run is refused with the reason.
    let good =
        json!({"plan": "library", "params": {"target": target.url, "rate": "30/s"}, "agents": 1})
            .to_string();
    assert_eq!(call(addr, "POST", "/api/runs", None, &good).0, 401);
    assert_eq!(call(addr, "POST", "/api/runs", Some(VIEWER), &good).0, 401);
    let bad = json!({"plan": "library", "params": {"rate": "fast"}}).to_string();
    let (status, body) = call(addr, "POST", "/api/runs", Some(OPERATOR), &bad);
    assert_eq!(status, 422, "{body}");
    let refused = parse(&body);
    let diagnostics = refused["diagnostics"].as_str().expect("diagnostics text");
    assert!(
        diagnostics.contains("rate") && diagnostics.contains("fast"),
        "{diagnostics}"
    );
    let unknown = json!({"plan": "../library"}).to_string();
    assert_eq!(
        call(addr, "POST", "/api/runs", Some(OPERATOR), &unknown).0,
        404
    );
    assert_eq!(call(addr, "POST", "/api/runs", Some(OPERATOR), "{").0, 400);

    let (status, body) = call(addr, "POST", "/api/runs", Some(OPERATOR), &good);
    assert_eq!(status, 201, "{body}");
    let run = parse(&body)["run"]
        .as_str()
        .expect("the run id")
        .to_string();
    assert!(run.starts_with("run-"), "{run}");
    let summary = served.finished(&run);
    assert_eq!(summary["status"], "done", "{summary}");
    let (status, body) = call(addr, "GET", &format!("/api/runs/{run}"), Some(VIEWER), "");
    assert_eq!(status, 200);
    let result = parse(&body);
    // The operator's params were compiled in; the target answered every request.
    assert_eq!(result["params"]["rate"], "30/s", "{}", result["params"]);
    let requests = result["total"]["requests"].as_u64().expect("a count");
    assert!(requests > 0);
    assert_eq!(requests, target.requests());

    // The finished cluster run's capacity: the plan has no threshold, so the SLO is named; the
    // answer is `ptl analyze`'s of the same result.
    let analysis = format!("/api/runs/{run}/analysis");
    let (status, body) = call(addr, "GET", &analysis, Some(VIEWER), "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no SLO"), "{body}");
    let (status, body) = call(
        addr,
        "GET",
        &format!("{analysis}?slo=error_rate%20%3C%201%25"),
        Some(VIEWER),
        "",
    );
    assert_eq!(status, 200, "{body}");
    let served_analysis = parse(&body);
    let file = served.lib.dir.path().join("cluster-result.json");
    std::fs::write(&file, result.to_string()).unwrap();
    let analysed = crate::analyze::analyze_json(&file, &["--slo", "error_rate < 1%"]);
    // Rates read back from JSON may differ in their last digit from those in memory.
    let rates = |a: &Value| -> Vec<f64> {
        a["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| s["achieved_rps"].as_f64().expect("a rate"))
            .collect()
    };
    let (here, there) = (rates(&served_analysis), rates(&analysed));
    assert!(
        !here.is_empty() && here.len() == there.len(),
        "{here:?} {there:?}"
    );
    assert!(here
        .iter()
        .zip(&there)
        .all(|(a, b)| (a - b).abs() <= 1e-9 * a));
    assert_eq!(
        served_analysis["knee_rps"].is_null(),
        analysed["knee_rps"].is_null()
    );
    assert_eq!(
        served_analysis["first_break_rps"].is_null(),
        analysed["first_break_rps"].is_null()
    );
    assert_eq!(served_analysis["slos"][0]["slo"], "error_rate < 1.00%");
}

/// Starts a run from the page's API (as the operator) and returns its id and the start options
/// its spec carries: agent wait (ms), on agent loss, start delay (ms), stagger (ms).
fn start_for_spec(
    addr: &str,
    connect: &str,
    body: &str,
) -> (String, (u64, ptl_cluster::run::LossPolicy, u64, u64)) {
    let (status, answer) = call(addr, "POST", "/api/runs", Some(OPERATOR), body);
    assert_eq!(status, 201, "{answer}");
    let run = parse(&answer)["run"]
        .as_str()
        .expect("the run id")
        .to_string();
    let spec = run_spec(connect, &run);
    let options = (
        spec.agent_wait_ms,
        spec.on_agent_loss,
        spec.start_delay_ms,
        spec.stagger_ms,
    );
    (run, options)
}

/// The spec ZooKeeper holds for a run: what was submitted.
fn run_spec(connect: &str, run: &str) -> ptl_cluster::run::RunSpec {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = ptl_cluster::zk::connect(&ptl_cluster::zk::ZkConfig::new(connect))
            .await
            .expect("connects to ZooKeeper");
        let id = ptl_cluster::ids::RunId::parse(run).expect("a run id");
        ptl_cluster::run::spec(&client, &id)
            .await
            .expect("the run spec")
    })
}

#[test]
fn the_coordinator_dashboard_starts_a_run_with_submit_options() {
    let served = Served::start();
    let (addr, connect, target) = (&served.addr, &served.lib.connect, &served.lib.target);

    // The library lists `ptl submit`'s start options with submit's defaults.
    let (status, body) = call(addr, "GET", "/api/plans", Some(VIEWER), "");
    assert_eq!(status, 200, "{body}");
    let listed = parse(&body);
    let offered: Vec<(&str, &str, &str)> = listed["options"]
        .as_array()
        .unwrap_or_else(|| panic!("options listed: {listed}"))
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap_or_default(),
                o["flag"].as_str().unwrap_or_default(),
                o["default"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            ("agent_wait", "--agent-wait", "1m"),
            ("on_agent_loss", "--on-agent-loss", "rebalance"),
            ("start_delay", "--start-delay", "2s"),
            ("stagger", "--stagger", "0s"),
        ]
    );

    // A value an option does not read, or an option submit has not, is the request's fault.
    for (options, says) in [
        (json!({"agent_wait": "soon"}), "agent_wait"),
        (
            json!({"on_agent_loss": "panic"}),
            "rebalance, continue, abort",
        ),
        (json!({"stagger": "-5ms"}), "stagger"),
        (json!({"timeout": "5s"}), "no option `timeout`"),
    ] {
        let bad = json!({"plan": "library", "params": {"target": target.url}, "options": options});
        let (status, body) = call(addr, "POST", "/api/runs", Some(OPERATOR), &bad.to_string());
        assert_eq!(status, 400, "{options}: {body}");
        let error = parse(&body)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains(says), "{options}: {error}");
    }

    // The options given reach the run's spec; a blank one keeps submit's default.
    let good = json!({
        "plan": "library",
        "params": {"target": target.url, "hold": "1s"},
        "options": {"agent_wait": "45s", "on_agent_loss": "abort", "start_delay": "1500ms", "stagger": " "},
    })
    .to_string();
    let (run, spec) = start_for_spec(addr, connect, &good);
    assert_eq!(
        spec,
        (45_000, ptl_cluster::run::LossPolicy::Abort, 1500, 0),
        "{run}"
    );
    let summary = served.finished(&run);
    assert_eq!(summary["status"], "done", "{summary}");
    assert!(target.requests() > 0);

    // Without options, the spec has submit's defaults (the ones listed above).
    let plain =
        json!({"plan": "library", "params": {"target": target.url, "hold": "1s"}}).to_string();
    let (run, spec) = start_for_spec(addr, connect, &plain);
    assert_eq!(
        spec,
        {
            let defaults = ptl_cluster::client::submit::StartOptions::default();
            (
                defaults.agent_wait.as_millis() as u64,
                defaults.on_agent_loss,
                defaults.start_delay.as_millis() as u64,
                defaults.stagger.as_millis() as u64,
            )
        },
        "{run}"
    );
    served.finished(&run);
}

/// One server-sent event as received.
#[derive(Debug, Clone)]
struct Sse {
    id: String,
    name: String,
    data: Value,
}

/// Reads `GET /events` (sending `Last-Event-ID` when given) until `enough` or `limit`.
fn read_events(
    addr: &str,
    last_event_id: Option<&str>,
    limit: Duration,
    mut enough: impl FnMut(&[Sse]) -> bool,
) -> Vec<Sse> {
    let mut s = TcpStream::connect(addr).expect("connects to the dashboard");
    let last = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    write!(
        s,
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {VIEWER}\r\n{last}Accept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + limit;
    let (mut raw, mut events, mut body_at) = (Vec::new(), Vec::new(), None);
    let mut chunk = [0u8; 65536];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
        if body_at.is_none() {
            body_at = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
        }
        let Some(at) = body_at else { continue };
        let text = String::from_utf8_lossy(&dechunk(&raw[at..])).into_owned();
        // Complete events only: up to the last blank line.
        let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
        events = complete.split("\n\n").filter_map(parse_event).collect();
        if enough(&events) {
            break;
        }
    }
    events
}

/// The payload of the complete chunks.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16)
        else {
            break;
        };
        let start = end + 2;
        if size == 0 || data.len() < start + size + 2 {
            break;
        }
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

fn parse_event(block: &str) -> Option<Sse> {
    let (mut id, mut name, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            id = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("event: ") {
            name = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push(v);
        }
    }
    Some(Sse {
        id: id?,
        name: name?,
        data: serde_json::from_str(&data.join("\n")).ok()?,
    })
}

/// What the page keeps of one run's series: one point per second `t`, a later one replacing
/// an earlier (dashboard.js `upsert`), fed by the events as the page handles them.
fn page_merge(series: &mut BTreeMap<u64, Value>, run: &str, events: &[Sse]) {
    for e in events {
        match e.name.as_str() {
            "snapshot" | "resume" => {
                let resumed = e.data["since"].get(run).is_some();
                for view in e.data["views"].as_array().into_iter().flatten() {
                    if view["summary"]["id"] == run {
                        if !resumed {
                            series.clear();
                        }
                        take(series, &view["series"]);
                    }
                }
            }
            // A run announced without points leaves the page's (dashboard.js).
            "run"
                if e.data["summary"]["id"] == run
                    && !e.data["series"].as_array().is_some_and(Vec::is_empty) =>
            {
                series.clear();
                take(series, &e.data["series"]);
            }
            "tick" if e.data["id"] == run => {
                if e.data["reset"] == true {
                    series.clear();
                }
                take(series, &e.data["points"]);
            }
            _ => {}
        }
    }
}

fn take(series: &mut BTreeMap<u64, Value>, points: &Value) {
    for p in points.as_array().into_iter().flatten() {
        series.insert(p["t"].as_u64().expect("t"), p.clone());
    }
}

fn newest_t(events: &[Sse], run: &str) -> Option<u64> {
    events
        .iter()
        .filter(|e| e.name == "tick" && e.data["id"] == run)
        .flat_map(|e| e.data["points"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["t"].as_u64())
        .max()
}

fn ended(events: &[Sse], run: &str) -> bool {
    events.iter().any(|e| {
        e.name == "run" && e.data["summary"]["id"] == run && e.data["summary"]["status"] == "done"
    })
}

#[test]
fn a_reconnecting_event_stream_gets_only_what_it_missed_even_from_the_next_coordinator() {
    let Library {
        _zk,
        connect,
        dir,
        plans,
        target,
    } = Library::start();
    let mut first = coordinator(dir.path(), &connect, "first", &plans);
    let first_addr = dashboard_addr(&first);
    // The standby serves its own dashboard, following the same runs in ZooKeeper.
    let second = coordinator(dir.path(), &connect, "second", &plans);
    let second_addr = dashboard_addr(&second);
    let (_a1, _a2) = (
        agent(dir.path(), &connect, "a1"),
        agent(dir.path(), &connect, "a2"),
    );
    let (first_log, second_log) = (first.log.clone(), second.log.clone());
    let logs = || {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "first:\n{}\nsecond:\n{}",
            read(&first_log),
            read(&second_log)
        )
    };

    let start = json!({"plan": "library", "params": {"target": target.url, "rate": "40/s", "hold": "14s"}, "agents": 2})
        .to_string();
    let (status, body) = call(&first_addr, "POST", "/api/runs", Some(OPERATOR), &start);
    assert_eq!(status, 201, "{body}\n{}", logs());
    let run = parse(&body)["run"]
        .as_str()
        .expect("the run id")
        .to_string();

    // A browser on the first coordinator's dashboard, until a few seconds of the run are in.
    let seen = read_events(&first_addr, None, Duration::from_secs(60), |events| {
        newest_t(events, &run).is_some_and(|t| t >= 4)
    });
    assert_eq!(seen[0].name, "snapshot");
    assert!(
        newest_t(&seen, &run).is_some_and(|t| t >= 4),
        "{seen:?}\n{}",
        logs()
    );

    // Same server: reconnecting from an earlier event replays exactly the events after it.
    let cut = seen.len() / 2;
    let replayed = read_events(
        &first_addr,
        Some(&seen[cut].id),
        Duration::from_secs(5),
        |events| events.len() >= seen.len() - cut - 1,
    );
    let expected: Vec<&str> = seen[cut + 1..].iter().map(|e| e.id.as_str()).collect();
    let got: Vec<&str> = replayed
        .iter()
        .take(expected.len())
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(
        got, expected,
        "the events after the last one seen, in order, no snapshot"
    );

    // The page as it stands, then its coordinator dies without a word.
    let mut page = BTreeMap::new();
    page_merge(&mut page, &run, &seen);
    let last = seen.last().expect("events").id.clone();
    let had = newest_t(&seen, &run).unwrap_or(0);
    assert!(
        last.contains(&format!("{run}:")),
        "the id names the run: {last}"
    );
    first.kill_9();

    // The browser reconnects (to the other coordinator) with its last id, and follows to the end.
    let rest = read_events(
        &second_addr,
        Some(&last),
        Duration::from_secs(90),
        |events| ended(events, &run),
    );
    assert!(
        ended(&rest, &run),
        "the run ends on the second dashboard: {rest:?}\n{}",
        logs()
    );
    assert_eq!(
        rest[0].name, "resume",
        "not a full snapshot: {}",
        rest[0].name
    );
    let resumed: Vec<u64> = rest[0].data["views"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["summary"]["id"] == run)
        .flat_map(|v| v["series"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["t"].as_u64())
        .collect();
    assert!(
        resumed.iter().all(|&t| t + 10 >= had),
        "only the seconds from where the page was: {resumed:?} (it had up to {had})"
    );
    // The final view carries the whole series again: left out, so that the page's series is
    // only what the resume and the ticks brought.
    let streamed: Vec<Sse> = rest
        .iter()
        .filter(|e| !(e.name == "run" && e.data["summary"]["id"] == run))
        .cloned()
        .collect();
    page_merge(&mut page, &run, &streamed);

    // No gap, nothing twice: what the page holds is the run's whole final series.
    let (status, body) = call(
        &second_addr,
        "GET",
        &format!("/api/runs/{run}/view"),
        Some(VIEWER),
        "",
    );
    assert_eq!(status, 200);
    let final_series: BTreeMap<u64, Value> = parse(&body)["series"]
        .as_array()
        .expect("a series")
        .iter()
        .map(|p| (p["t"].as_u64().expect("t"), p.clone()))
        .collect();
    assert!(final_series.len() >= 12, "{} seconds", final_series.len());
    assert_eq!(
        page.keys().collect::<Vec<_>>(),
        final_series.keys().collect::<Vec<_>>()
    );
    for (t, point) in &final_series {
        assert_eq!(page[t]["achieved_rps"], point["achieved_rps"], "second {t}");
        assert_eq!(page[t]["errors"], point["errors"], "second {t}");
    }
}
