//! A real browser on the page: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test`) opens the dashboard of a short local run; the test reads the DOM over the
//! DevTools protocol until the charts hold data points and sees them grow, then saves a
//! screenshot as a test artifact (`target/test-artifacts/dashboard.png`).
//!
//! Never skipped silently: without Chromium the test fails and says how to install it.

use crate::common::*;
use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium with its own profile; killed on drop.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn open(url: &str) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "the browser test needs Chromium: apt-get install -y chromium (scripts/test does)"
        );
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1280,1900",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let port = devtools_port(stderr);
        let page = page_socket_url(port);
        let (socket, _) = tungstenite::connect(page.as_str()).expect("DevTools socket");
        Browser {
            child,
            _profile: profile,
            socket,
            next_id: 1,
        }
    }

    /// Sends one DevTools command and returns its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(tungstenite::Message::text(msg.to_string()))
            .expect("sends a command");
        loop {
            let reply = self.socket.read().expect("reads the answer");
            let tungstenite::Message::Text(text) = reply else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn evaluate(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }
}

/// Chromium prints `DevTools listening on ws://127.0.0.1:PORT/…` once it listens.
fn devtools_port(stderr: impl Read + Send + 'static) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                let port = rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("chromium announces its DevTools port in time")
        .expect("a port number")
}

/// The page target's WebSocket URL, from `/json/list`.
fn page_socket_url(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("DevTools HTTP");
        write!(
            stream,
            "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        )
        .expect("asks for the targets");
        // The DevTools server keeps the connection open: read the body by its length.
        let mut reader = BufReader::new(stream);
        let mut length = 0usize;
        let mut line = String::new();
        while reader.read_line(&mut line).expect("reads a header") > 2 {
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            line.clear();
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("reads the targets");
        let body = String::from_utf8_lossy(&body).into_owned();
        let targets: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if let Some(url) = targets.as_array().and_then(|ts| {
            ts.iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        }) {
            return url.to_string();
        }
        assert!(Instant::now() < deadline, "no page target: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const PROBE: &str = r#"JSON.stringify({
  points: Number(document.getElementById('ptl-chart-rate').getAttribute('data-points') || 0),
  achieved: ((document.querySelector('#ptl-chart-rate g[data-series="achieved"] polyline') || {getAttribute: () => ''})
    .getAttribute('points') || '').trim().split(/\s+/).filter(Boolean).length,
  latencyLines: document.querySelectorAll('#ptl-chart-latency polyline').length,
  errorLines: document.querySelectorAll('#ptl-chart-errors polyline').length,
  bands: document.querySelectorAll('#ptl-chart-rate .ptl-phase-band').length,
  status: document.getElementById('status').textContent,
  conn: document.getElementById('conn').textContent,
  requestRows: document.querySelectorAll('#requests tr').length - 1,
  phaseRows: document.querySelectorAll('#phases tr').length - 1,
  exhaustedHead: Array.from(document.querySelectorAll('#phases th')).some(th => th.textContent === 'exhausted'),
  runs: document.querySelectorAll('#runs tr').length - 1,
  stopVisible: !document.getElementById('btn-stop').hidden
})"#;

fn probe(browser: &mut Browser) -> Value {
    let text = browser.evaluate(PROBE);
    serde_json::from_str(text.as_str().unwrap_or("{}")).expect("the probe's JSON")
}

/// Probes until `ok` holds, bounded.
fn wait_for(browser: &mut Browser, limit: Duration, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let state = probe(browser);
        if ok(&state) {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting; the page shows {state}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_the_live_run_and_its_charts_grow() {
    let run = start_run(10, 0.05).await;
    let url = format!("http://{}/?token={VIEWER}", run.addr);
    let (first, later, shot) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::open(&url);
        let first = wait_for(&mut browser, Duration::from_secs(30), |s| {
            s["achieved"].as_u64().unwrap_or(0) >= 2
        });
        let n = first["achieved"].as_u64().unwrap_or(0);
        let later = wait_for(&mut browser, Duration::from_secs(20), |s| {
            let now = s["achieved"].as_u64().unwrap_or(0);
            // Enough seconds for a picture worth keeping, both phases on it.
            now > n && now >= 6 && s["bands"].as_u64().unwrap_or(0) >= 2
        });
        let shot = browser.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        (first, later, shot)
    })
    .await
    .expect("the browser task does not panic");

    // The charts hold points and grow as seconds arrive over the event stream.
    assert!(first["points"].as_u64().unwrap() >= 2, "{first}");
    assert!(
        later["achieved"].as_u64() > first["achieved"].as_u64(),
        "{first} then {later}"
    );
    assert_eq!(
        later["achieved"], later["points"],
        "one vertex per second of data"
    );
    assert!(
        later["latencyLines"].as_u64().unwrap() >= 3,
        "p50, p95, p99 (and max) lines"
    );
    assert!(later["errorLines"].as_u64().unwrap() >= 1);
    assert_eq!(later["bands"], 2, "both phases marked");
    assert_eq!(later["status"], "running");
    assert_eq!(later["conn"], "live");
    assert_eq!(
        later["requestRows"], 4,
        "two requests in each of two phases"
    );
    assert_eq!(later["phaseRows"], 2, "both phases, reached");
    assert_eq!(
        later["exhaustedHead"], true,
        "the phase table counts exhausted iterations"
    );
    assert_eq!(later["runs"], 1);
    assert_eq!(
        later["stopVisible"], true,
        "a live run offers Stop (it asks for the operator token)"
    );

    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(artifacts().join("dashboard.png"), &png).expect("writes the screenshot");

    let (dashboard, _, _, _) = run.finish().await;
    Arc::try_unwrap(dashboard)
        .ok()
        .expect("the only handle")
        .shutdown()
        .await;
}

const CAPACITY: &str = "JSON.stringify({
  hidden: document.getElementById('capacity-section').hidden,
  message: document.getElementById('capacity-message').textContent,
  text: document.getElementById('capacity-text').hidden ? '' : document.getElementById('capacity-text').textContent,
  chartShown: !document.getElementById('capacity-chart').hidden,
  chartWidth: document.getElementById('capacity-chart').naturalWidth
})";

/// Types `slos` into the Capacity panel's field and submits it.
fn ask_capacity(browser: &mut Browser, slos: &str) {
    let script = format!(
        "(() => {{ document.getElementById('capacity-slos').value = {}; document.querySelector('#capacity-form button').click(); return ''; }})()",
        json!(slos)
    );
    browser.evaluate(&script);
}

/// A finished local run's page shows its Capacity panel: the plan's thresholds judge it (none
/// broke at 20/s and 40/s: no knee claimed), the chart image loads from the same server, a
/// typed SLO re-asks, a bad one is said, not drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_runs_page_shows_its_capacity() {
    let run = start_run(3, 0.0).await;
    let (dashboard, _, addr, _) = run.finish().await;
    let url = format!("http://{addr}/?token={VIEWER}");
    let (first, strict, bad, shot) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::open(&url);
        let done = |v: &Value| {
            v["text"].as_str().is_some_and(|t| !t.is_empty()) && v["chartWidth"].as_u64() > Some(0)
        };
        let first = wait_json(&mut browser, CAPACITY, done);
        let shot = browser.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        ask_capacity(&mut browser, "p99 < 1us");
        let strict = wait_json(&mut browser, CAPACITY, |v| {
            v["text"]
                .as_str()
                .is_some_and(|t| t.contains("p99 < 0.00 ms"))
        });
        ask_capacity(&mut browser, "p99 > 1s");
        let bad = wait_json(&mut browser, CAPACITY, |v| {
            v["message"].as_str().is_some_and(|m| m.contains("METRIC"))
        });
        (first, strict, bad, shot)
    })
    .await
    .expect("the browser task does not panic");

    assert_eq!(first["hidden"], false);
    assert_eq!(first["chartShown"], true);
    assert_eq!(
        first["chartWidth"], 760,
        "the report's SVG, loaded as an image"
    );
    let text = first["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("SLO p99 < 1000 ms: held at every step"),
        "{text}"
    );
    assert!(
        text.contains("SLO error_rate < 50.00%: held at every step"),
        "{text}"
    );
    assert!(text.contains("knee: none"), "{text}");
    assert!(text.contains("note: no SLO broke"), "{text}");
    let text = strict["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("knee: none") && text.contains("below the rates tested"),
        "{text}"
    );
    assert_eq!(bad["chartShown"], false, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or_default()
            .contains("p99 > 1s"),
        "{bad}"
    );

    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .expect("base64 PNG");
    std::fs::write(artifacts().join("dashboard-capacity.png"), &png)
        .expect("writes the screenshot");
    Arc::try_unwrap(dashboard)
        .ok()
        .expect("the only handle")
        .shutdown()
        .await;
}

/// Evaluates `expression` (a JSON string) until `ok` holds, bounded.
fn wait_json(browser: &mut Browser, expression: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = eval_text(browser, expression);
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if ok(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{expression} stays {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plan library without a compiler: two plans, one start option, and a start that refuses
/// `peak=fast` as the compiler would, remembering what the page asked for.
#[derive(Default)]
struct FakeLibrary {
    asked: std::sync::Mutex<Vec<ptl_dashboard::launch::LaunchRequest>>,
}

impl ptl_dashboard::launch::PlanLauncher for FakeLibrary {
    fn plans(&self) -> Vec<ptl_dashboard::launch::PlanEntry> {
        use ptl_dashboard::launch::{ParamInfo, ParamKind, PlanEntry};
        vec![
            PlanEntry {
                name: "checkout".into(),
                source: "plans/checkout.ptl".into(),
                plan: Some("checkout".into()),
                params: vec![
                    ParamInfo {
                        name: "peak".into(),
                        kind: ParamKind::Rate,
                        default: "100/s".into(),
                    },
                    ParamInfo {
                        name: "target".into(),
                        kind: ParamKind::String,
                        default: "http://127.0.0.1:9".into(),
                    },
                ],
                checks: true,
                diagnostics: None,
            },
            PlanEntry {
                name: "broken".into(),
                source: "plans/broken.ptl".into(),
                plan: None,
                params: Vec::new(),
                checks: false,
                diagnostics: Some("× expected a phase".into()),
            },
        ]
    }

    fn options(&self) -> Vec<ptl_dashboard::launch::RunOptionInfo> {
        use ptl_dashboard::launch::{RunOptionInfo, RunOptionKind};
        vec![
            RunOptionInfo {
                name: "agent_wait".into(),
                flag: "--agent-wait".into(),
                kind: RunOptionKind::Duration,
                default: "60s".into(),
                choices: Vec::new(),
                help: "How long the coordinator waits for N agents".into(),
            },
            RunOptionInfo {
                name: "on_agent_loss".into(),
                flag: "--on-agent-loss".into(),
                kind: RunOptionKind::Choice,
                default: "rebalance".into(),
                choices: vec!["rebalance".into(), "continue".into(), "abort".into()],
                help: "What happens when an agent is lost mid-run".into(),
            },
        ]
    }

    fn start(
        &self,
        request: ptl_dashboard::launch::LaunchRequest,
    ) -> ptl_dashboard::launch::LaunchFuture {
        use ptl_dashboard::launch::LaunchError;
        let answer = match request.params.get("peak").map(String::as_str) {
            Some("fast") => Err(LaunchError::Compile {
                diagnostics: "× `--set peak=fast`: peak is a rate".into(),
            }),
            _ => Ok(format!(
                "run-{}-{}",
                request.plan,
                request.agents.unwrap_or(1)
            )),
        };
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(request);
        }
        Box::pin(async move { answer })
    }
}

/// Second `window` of `id` into the hub: `n` answers of 2 ms, then the second's tick.
fn second(hub: &ptl_dashboard::Hub, plan: &ptl_bytecode::Plan, id: &str, window: u64, n: u64) {
    use ptl_engine::record::{Outcome, Timing};
    let layout = ptl_engine::record::Layout::of(plan);
    let mut rec = ptl_engine::record::Recorded::new(
        layout.phases.len(),
        layout.requests.len(),
        layout.scenarios.len(),
    );
    for _ in 0..n {
        rec.started(0);
        let timing = Timing {
            response_us: 2000,
            service_us: 2000,
            lag_us: 0,
        };
        rec.exchange(0, 0, Some(timing), Outcome::Success { status: 200 });
    }
    let delta = ptl_engine::record::IntervalDelta {
        agent: 0,
        window,
        recorded: rec,
    };
    hub.add_delta(id, &delta).expect("same shape");
    hub.tick(id);
}

fn fed_hub(
    plan: &Arc<ptl_bytecode::Plan>,
    windows: std::ops::Range<u64>,
) -> Arc<ptl_dashboard::Hub> {
    let hub = ptl_dashboard::Hub::new();
    fed_run(&hub, plan, "run-0000000001", windows);
    hub
}

/// A running cluster run `id` in `hub`, with `windows` seconds of load.
fn fed_run(
    hub: &ptl_dashboard::Hub,
    plan: &Arc<ptl_bytecode::Plan>,
    id: &str,
    windows: std::ops::Range<u64>,
) {
    hub.open_run(ptl_dashboard::hub::RunOpen {
        id: id.into(),
        plan: plan.clone(),
        plan_hash: "h".into(),
        started_at: std::time::SystemTime::now(),
        source: ptl_dashboard::model::RunSource::Cluster,
        status: ptl_dashboard::model::RunStatus::Running,
        control: None,
    });
    for w in windows {
        second(hub, plan, id, w, 5 + w);
    }
}

fn eval_text(browser: &mut Browser, expression: &str) -> String {
    browser
        .evaluate(expression)
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_text(browser: &mut Browser, expression: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = eval_text(browser, expression);
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{expression} stays {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const POINTS: &str = "document.getElementById('ptl-chart-rate').getAttribute('data-points') || ''";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_starts_a_plan_and_merges_a_resumed_stream_without_doubling() {
    use ptl_dashboard::server::{serve_with, ServerConfig};
    let plan = Arc::new(compile(&plan_source(60), "http://127.0.0.1:9"));
    let library = Arc::new(FakeLibrary::default());
    let config = ServerConfig {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        access: tokens(),
        ..ServerConfig::default()
    };
    // The first "coordinator" has seconds 0..=10 of the run.
    let first = serve_with(fed_hub(&plan, 0..11), config.clone(), Some(library.clone()))
        .await
        .expect("serves");
    let addr = first.addr();
    let url = format!("http://{addr}/?token={OPERATOR}");
    let (mut browser, launch) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::open(&url);
        wait_text(&mut browser, POINTS, |p| p == "11");
        // The panel: the library's plans, a field per param with its default.
        let fields = wait_text(
            &mut browser,
            "JSON.stringify(Array.from(document.querySelectorAll('#launch-params input')).map(i => [i.dataset.param, i.value]))",
            |f| f.contains("peak"),
        );
        let visible = eval_text(&mut browser, "String(!document.getElementById('launch').hidden)");
        let options = eval_text(&mut browser, "Array.from(document.querySelectorAll('#launch-plan option')).map(o => o.textContent).join('|')");
        // The start options: collapsed, empty, submit's defaults as placeholders.
        let start_options = eval_text(&mut browser, "JSON.stringify([document.getElementById('launch-options').open, document.getElementById('launch-options').hidden].concat(Array.from(document.querySelectorAll('#launch-option-fields [data-option]')).map(f => [f.dataset.option, f.value, f.placeholder || f.options[0].textContent])))");
        // A refused start shows the compiler's words; a good one names the new run.
        browser.evaluate("(() => { document.querySelector('#launch-params input[data-param=peak]').value = 'fast'; document.getElementById('launch-agents').value = '3'; document.getElementById('launch-start').click(); return ''; })()");
        let refused = wait_text(&mut browser, "document.getElementById('launch-diagnostics').hidden ? '' : document.getElementById('launch-diagnostics').textContent", |t| !t.is_empty());
        browser.evaluate("(() => { document.querySelector('#launch-params input[data-param=peak]').value = '300/s'; document.querySelector('[data-option=agent_wait]').value = ' 90s '; document.querySelector('[data-option=on_agent_loss]').value = 'abort'; document.getElementById('launch-start').click(); return ''; })()");
        let started = wait_text(&mut browser, "document.getElementById('launch-message').textContent", |t| t.starts_with("started"));
        (browser, (fields, visible, options, start_options, refused, started))
    })
    .await
    .expect("the browser task does not panic");
    let (fields, visible, options, start_options, refused, started) = launch;
    assert_eq!(visible, "true");
    assert_eq!(
        fields,
        r#"[["peak","100/s"],["target","http://127.0.0.1:9"]]"#
    );
    assert_eq!(options, "checkout|broken (has errors)");
    assert_eq!(
        start_options,
        r#"[false,false,["agent_wait","","60s"],["on_agent_loss","","rebalance (default)"]]"#
    );
    assert!(refused.contains("peak=fast"), "{refused}");
    assert!(started.contains("run-checkout-3"), "{started}");
    let asked = library.asked.lock().expect("not poisoned").clone();
    let pairs = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let refused_ask = asked.first().expect("the refused start was asked");
    assert!(refused_ask.options.is_empty(), "empty options are not sent");
    let last = asked.last().expect("the good start was asked");
    assert_eq!(
        (last.plan.as_str(), &last.params, last.agents),
        ("checkout", &pairs(&[("peak", "300/s")]), Some(3)),
        "only the changed param is sent"
    );
    assert_eq!(
        last.options,
        pairs(&[("agent_wait", "90s"), ("on_agent_loss", "abort")]),
        "the options given are sent, trimmed"
    );

    // The coordinator dies; another serves the same address, knowing only seconds 12..=20 (a
    // stand-in for a history the page must merge into, not replace). The page reconnects with
    // its last id and gets a resume: its 11 seconds plus the 9 new ones, none twice.
    first.shutdown().await;
    let second_hub = fed_hub(&plan, 12..21);
    let next = serve_with(
        second_hub.clone(),
        ServerConfig { addr, ..config },
        Some(library),
    )
    .await
    .expect("serves on the same address");
    let (mut browser, merged) = tokio::task::spawn_blocking(move || {
        let merged = wait_text(&mut browser, POINTS, |p| p != "11");
        (browser, merged)
    })
    .await
    .expect("the browser task does not panic");
    assert_eq!(merged, "20", "0..=10 kept, 12..=20 added");
    // A tick after the resume adds its second, and a revised one replaces its point.
    second(&second_hub, &plan, "run-0000000001", 21, 3);
    second(&second_hub, &plan, "run-0000000001", 20, 3);
    let after = tokio::task::spawn_blocking(move || wait_text(&mut browser, POINTS, |p| p != "20"))
        .await
        .expect("the browser task does not panic");
    assert_eq!(after, "21");
    next.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_coordinator_stops_answering_moves_to_another_with_its_token_and_run() {
    use ptl_dashboard::server::{serve_with, ServerConfig};
    let plan = Arc::new(compile(&plan_source(60), "http://127.0.0.1:9"));
    let config = ServerConfig {
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        access: tokens(),
        ..ServerConfig::default()
    };
    // Two coordinators of one cluster, each showing the runs it rebuilt from ZooKeeper: the
    // other one (on its own address) has seconds 0..=20 of run 1; this one 0..=10. Both have a
    // newer run 2, which the page would show if it lost the run the user chose.
    let other_hub = fed_hub(&plan, 0..21);
    fed_run(&other_hub, &plan, "run-0000000002", 0..3);
    let other = serve_with(other_hub, config.clone(), None)
        .await
        .expect("serves");
    let first_hub = fed_hub(&plan, 0..11);
    fed_run(&first_hub, &plan, "run-0000000002", 0..3);
    first_hub.set_peers(vec![other.url()]);
    let first = serve_with(first_hub, config, None).await.expect("serves");
    let url = format!("http://{}/?token={VIEWER}", first.addr());
    let mut browser = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::open(&url);
        wait_text(&mut browser, POINTS, |p| p == "3");
        browser.evaluate("(() => { const s = document.getElementById('run-select'); s.value = 'run-0000000001'; s.dispatchEvent(new Event('change')); return ''; })()");
        wait_text(&mut browser, POINTS, |p| p == "11");
        browser
    })
    .await
    .expect("the browser task does not panic");

    // The first coordinator is gone for good; the page goes to the other one.
    first.shutdown().await;
    let other_host = other.addr().to_string();
    let (host, hash, points) = tokio::task::spawn_blocking(move || {
        let host = wait_text(&mut browser, "location.host", |h| h == other_host);
        let points = wait_text(&mut browser, POINTS, |p| !p.is_empty());
        (host, eval_text(&mut browser, "location.hash"), points)
    })
    .await
    .expect("the browser task does not panic");
    assert_eq!(host, other.addr().to_string());
    assert_eq!(hash, "#run=run-0000000001", "the run shown goes along");
    // The viewer token went along too (without it the other server shows its locked page),
    // and the chosen run is drawn whole from the other coordinator.
    assert_eq!(points, "21");
    other.shutdown().await;
}
