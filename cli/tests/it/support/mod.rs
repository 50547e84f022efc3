//! What the binary-level tests share: the `ptl` command, long-running `ptl` processes with
//! their logs, the demo target as its own process (the witness of what was sent), `ptl run` with
//! the checks of its exit status, and reading JSON results.

#![allow(dead_code)] // each test binary uses its own part of this

// The accept loop and the TLS acceptor of the servers these tests run in-process (HTTPS, h2c).
pub use ptl_test_support::{listen, tls};

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The `ptl` binary under test, run from the repository root.
pub fn ptl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ptl"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c
}

/// A `ptl` process (coordinator, agent …) with its stderr in a log file; SIGKILLed on drop, so
/// no test leaves one behind.
pub struct Proc {
    child: Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Proc {
    /// `ptl ARGS`, its stderr in `DIR/NAME.log`.
    pub fn spawn(dir: &Path, name: &str, args: &[&str]) -> Proc {
        let mut command = ptl();
        command.args(args);
        Proc::spawn_command(dir, name, command)
    }

    /// `command` (a [`ptl`] with its arguments and environment), its stderr in `DIR/NAME.log`.
    pub fn spawn_command(dir: &Path, name: &str, mut command: Command) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = command
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("ptl starts");
        Proc { child, log }
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no goodbye to ZooKeeper, so its session only ends by timing out.
    /// Whether the process has exited (it is reaped if so).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends `signal` (`STOP`, `CONT`, `TERM`, …) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
    }

    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Agents' ZooKeeper session timeout: how long a killed agent stays registered. The test
/// server's tick is 500 ms, so 1.5 s is within its bounds (2 to 20 ticks).
pub const AGENT_SESSION: &str = "1500ms";

/// `ptl agent NAME` in the cluster at `zk`: capacity 1000/s, one worker, an
/// [`AGENT_SESSION`] session; its log in `dir`.
pub fn agent(dir: &Path, zk: &str, name: &str) -> Proc {
    agent_with(dir, zk, name, &[])
}

/// [`agent`] with `extra` flags (which may set another `--capacity`).
pub fn agent_with(dir: &Path, zk: &str, name: &str, extra: &[&str]) -> Proc {
    let mut args = vec![
        "agent",
        "--zk",
        zk,
        "--name",
        name,
        "--workers",
        "1",
        "--session-timeout",
        AGENT_SESSION,
    ];
    if !extra.contains(&"--capacity") {
        args.extend_from_slice(&["--capacity", "1000/s"]);
    }
    args.extend_from_slice(extra);
    Proc::spawn(dir, name, &args)
}

/// `ptl run PLAN --set target=TARGET --quiet --out OUT EXTRA…`, run to its end.
pub fn run(plan: &Path, target: &str, out: &Path, extra: &[&str]) -> Output {
    ptl()
        .arg("run")
        .arg(plan)
        .args(["--set", &format!("target={target}"), "--quiet", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("ptl run runs")
}

/// Every result file `ptl run` can write: its flag and the file's name.
pub const RESULT_FILES: [(&str, &str); 4] = [
    ("--out", "r.json"),
    ("--report", "r.html"),
    ("--junit", "r.xml"),
    ("--hdr-log", "r.hlog"),
];

/// The flags asking for every one of [`RESULT_FILES`] in `dir`.
pub fn result_flags(dir: &Path) -> Vec<std::ffi::OsString> {
    RESULT_FILES
        .iter()
        .flat_map(|(flag, file)| [flag.into(), dir.join(file).into_os_string()])
        .collect()
}

/// A plan sending its `env("PTL_TEST_ENV_SECRET")` as a bearer token to its target, 20/s for
/// `seconds`.
pub fn env_secret_plan(seconds: u32) -> String {
    format!(
        r#"plan "env" {{
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  let token = env("PTL_TEST_ENV_SECRET")
  request hello {{
    GET "/"
    header "Authorization" = "Bearer {{{{token}}}}"
  }}
  phase p {{ rate 20/s for {seconds}s }}
}}
"#
    )
}

/// `ptl compile PLAN -o OUT`, run to its end.
pub fn compile(plan: &Path, out: &Path) -> Output {
    ptl()
        .arg("compile")
        .arg(plan)
        .arg("-o")
        .arg(out)
        .output()
        .expect("ptl compile runs")
}

/// What a finished `ptl` wrote to stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o` exited with `code`; its stderr tells why not.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
}

/// A result's `phase` planned a count within `planned`, sent exactly that many and had no
/// error; that count.
#[track_caller]
pub fn assert_sent_without_errors(phase: &Value, planned: RangeInclusive<u64>) -> u64 {
    let count = phase["planned"].as_u64().expect("planned");
    assert!(planned.contains(&count), "planned {count}");
    assert_eq!(phase["request_count"].as_u64(), Some(count));
    assert_eq!(
        phase["errors"].as_u64(),
        Some(0),
        "{}",
        phase["errors_by_class"]
    );
    count
}

/// A JSON file written by `ptl` (`--out`).
pub fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("result written")).expect("valid JSON")
}

/// `ptl demo-target --port 0` as a child process; killed on drop.
pub struct Target {
    child: Child,
    pub url: String,
}

impl Target {
    pub fn start() -> Target {
        Target::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Target {
        let mut child = ptl()
            .args(["demo-target", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo-target starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("demo-target prints its URL");
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
        Target { child, url }
    }

    /// Requests the target has answered (`/stats` does not count itself).
    pub fn requests(&self) -> u64 {
        self.stats()["requests"].as_u64().expect("a request count")
    }

    /// The target's `/stats`, over a plain HTTP/1.1 exchange.
    pub fn stats(&self) -> Value {
        let authority = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(authority).expect("target answers");
        write!(
            stream,
            "GET /stats HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        )
        .expect("request /stats");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read /stats");
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        serde_json::from_str(body).expect("stats JSON")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
