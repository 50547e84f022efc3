//! Data in plans, end to end against a server that records what it received: JSON feeders
//! (`json("users.json")`), draw modes of feeders, and the bytes of bodies and helpers.

use crate::support::{assert_exit, assert_sent_without_errors, json, ptl};
use ptl_test_support::counting_server;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;

const USERS: &str = r#"[
  {"name": "ann", "id": 1, "address": {"city": "Oslo"}},
  {"name": "bob", "id": 2, "address": {"city": "Rome"}},
  {"name": "cy",  "id": 3, "address": {"city": "Lima"}}
]"#;

/// Writes `files` (name, text) and `plan.ptl` into `dir`.
fn write(dir: &Path, plan: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("data file written");
    }
    let path = dir.join("plan.ptl");
    std::fs::write(&path, plan).expect("plan written");
    path
}

/// A temporary directory for a plan and its files, and a server that records every request.
struct Recording {
    dir: tempfile::TempDir,
    server: counting_server::TestServer,
}

impl Recording {
    fn new() -> Recording {
        let server = counting_server::server();
        server.record();
        Recording {
            dir: tempfile::tempdir().expect("temp dir"),
            server,
        }
    }

    fn plan(&self, text: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        write(self.dir.path(), text, files)
    }

    /// `ptl run PLAN --set target=SERVER --out r.json EXTRA…` with `env` set; its output and
    /// the result's path.
    fn run(&self, plan: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Output, PathBuf) {
        let out = self.dir.path().join("r.json");
        let o = ptl()
            .arg("run")
            .arg(plan)
            .args(["--set", &format!("target={}", self.server.url()), "--out"])
            .arg(&out)
            .args(extra)
            .envs(env.iter().copied())
            .output()
            .expect("ptl run runs");
        (o, out)
    }

    fn hits(&self) -> u64 {
        self.server.state.hits.load(Ordering::Relaxed)
    }
}

/// How many requests the server received for each path.
fn paths(server: &counting_server::TestServer) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in server.recorded() {
        *out.entry(r.target).or_insert(0) += 1;
    }
    out
}

#[test]
fn a_json_feeder_sends_every_object_in_turn() {
    let rec = Recording::new();
    let plan = rec.plan(
        r#"plan "feed" {
  param target = "http://127.0.0.1:9"
  target target
  let user = json("users.json")
  request hello {
    GET "/u/{{user.name}}/{{user.id}}/{{user.address.city}}"
  }
  phase steady { rate 30/s for 1s }
}
"#,
        &[("users.json", USERS)],
    );
    let (o, out) = rec.run(&plan, &[], &[]);
    assert_exit(&o, 0);
    let sent = assert_sent_without_errors(&json(&out)["phases"][0], 30..=30);
    assert_eq!(rec.hits(), sent);
    // Sequential draws (the default): 30 draws walk the 3 objects 10 times each.
    let expected: BTreeMap<String, u64> = ["/u/ann/1/Oslo", "/u/bob/2/Rome", "/u/cy/3/Lima"]
        .into_iter()
        .map(|p| (p.to_string(), 10))
        .collect();
    assert_eq!(paths(&rec.server), expected);
}

const FIVE_ROWS: &str = "id\n1\n2\n3\n4\n5\n";

/// A plan drawing `ids.csv` with `mode` under `load`.
fn draw_plan(dir: &Path, mode: &str, load: &str) -> std::path::PathBuf {
    write(
        dir,
        &format!(
            r#"plan "draw" {{
  param target = "http://127.0.0.1:9"
  target target
  let row = csv("ids.csv", {mode})
  request hello {{ GET "/id/{{{{row.id}}}}" }}
  phase main {{ {load} }}
}}
"#
        ),
        &[("ids.csv", FIVE_ROWS)],
    )
}

fn ids(n: std::ops::RangeInclusive<u32>, each: u64) -> BTreeMap<String, u64> {
    n.map(|i| (format!("/id/{i}"), each)).collect()
}

#[test]
fn a_unique_feeder_sends_each_row_once_then_counts_the_rest_as_exhausted() {
    let rec = Recording::new();
    let plan = draw_plan(rec.dir.path(), "unique", "rate 20/s for 1s");
    let (o, out) = rec.run(&plan, &[], &[]);
    assert_exit(&o, 0);
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("main: 15 iterations found no row left in a `unique` feeder"),
        "{summary}"
    );
    // `ptl run` checks first, and says so before anything is sent.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("W0011") && err.contains("has 5 rows for 20 planned arrivals"),
        "{err}"
    );
    let phase = &json(&out)["phases"][0];
    // 20 arrivals, 5 rows: 5 requests, and 15 arrivals that found no row, never a repeat.
    assert_eq!(phase["planned"].as_u64(), Some(20), "{phase}");
    assert_eq!(phase["request_count"].as_u64(), Some(5), "{phase}");
    assert_eq!(phase["exhausted"].as_u64(), Some(15), "{phase}");
    assert_eq!(phase["dropped"].as_u64(), Some(15), "{phase}");
    assert_eq!(rec.hits(), 5);
    assert_eq!(paths(&rec.server), ids(1..=5, 1));
}

#[test]
fn a_unique_feeder_stops_closed_model_users_when_rows_run_out() {
    let rec = Recording::new();
    let plan = draw_plan(rec.dir.path(), "unique", "users 2 for 2s think 10ms");
    let (o, out) = rec.run(&plan, &["--quiet"], &[]);
    assert_exit(&o, 0);
    let phase = &json(&out)["phases"][0];
    assert_eq!(phase["request_count"].as_u64(), Some(5), "{phase}");
    // Each of the two users found no row once, and stopped.
    assert_eq!(phase["exhausted"].as_u64(), Some(2), "{phase}");
    assert_eq!(paths(&rec.server), ids(1..=5, 1));
}

#[test]
fn random_and_sequential_feeders_send_only_rows_of_the_file() {
    let rec = Recording::new();
    let plan = draw_plan(rec.dir.path(), "sequential", "rate 20/s for 1s");
    let (o, _) = rec.run(&plan, &["--quiet"], &[]);
    assert_exit(&o, 0);
    assert_eq!(
        paths(&rec.server),
        ids(1..=5, 4),
        "20 draws walk 5 rows 4 times"
    );

    rec.server.state.recorded.lock().expect("lock").clear();
    let plan = draw_plan(rec.dir.path(), "random", "rate 40/s for 1s");
    let (o, out) = rec.run(&plan, &["--quiet"], &[]);
    assert_exit(&o, 0);
    assert_sent_without_errors(&json(&out)["phases"][0], 40..=40);
    let got = paths(&rec.server);
    assert_eq!(got.values().sum::<u64>(), 40);
    assert!(got.keys().all(|p| ids(1..=5, 0).contains_key(p)), "{got:?}");
    // Random, not the sequential walk: 40 even draws of 5 rows would give 8 each.
    assert_ne!(got, ids(1..=5, 8), "{got:?}");
}

#[test]
fn file_and_multipart_bodies_arrive_byte_for_byte() {
    let rec = Recording::new();
    // Not UTF-8, with a NUL and CR LF inside: embedded as bytes, sent as they are.
    let payload: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe-end";
    std::fs::write(rec.dir.path().join("pixel.png"), payload).expect("payload written");
    let plan = rec.plan(
        r#"plan "bodies" {
  param target = "http://127.0.0.1:9"
  target target
  let user = json("users.json")
  request upload weight 1 {
    POST "/upload"
    header "Content-Type" = "application/octet-stream"
    body file("pixel.png")
  }
  request form weight 1 {
    POST "/form"
    multipart {
      field "user" = "{{user.name}}"
      file "avatar" = file("pixel.png")
    }
  }
  phase main { rate 10/s for 1s  mix { upload 1, form 1 } }
}
"#,
        &[("users.json", r#"[{"name": "ann"}]"#)],
    );
    let (o, out) = rec.run(&plan, &["--quiet"], &[]);
    assert_exit(&o, 0);
    let sent = assert_sent_without_errors(&json(&out)["phases"][0], 10..=10);
    let recorded = rec.server.recorded();
    assert_eq!(recorded.len() as u64, sent);
    let (uploads, forms): (Vec<_>, Vec<_>) = recorded.iter().partition(|r| r.target == "/upload");
    assert!(
        !uploads.is_empty() && !forms.is_empty(),
        "both requests sent"
    );
    for r in &uploads {
        assert_eq!(r.method, "POST");
        assert_eq!(&r.body[..], payload);
        assert_eq!(
            r.header("content-length"),
            Some(payload.len().to_string().as_str())
        );
    }
    for r in &forms {
        let content_type = r.header("content-type").expect("a content type");
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .expect("multipart with a boundary");
        let mut expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nann\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"pixel.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(payload);
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&r.body),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(&r.body[..], &expected[..]);
    }
}

#[test]
fn encoding_helpers_reach_the_server_encoded() {
    let rec = Recording::new();
    let plan = rec.plan(
        r#"plan "helpers" {
  param target = "http://127.0.0.1:9"
  target target
  let user = env("PTL_TEST_HELPER_USER")
  let pass = env("PTL_TEST_HELPER_PASS", "unused default")
  let auth = basic_auth(user, pass)
  let q = url_encode("a b&c=d/é")
  let userx = user + ":x"
  let token = base64(userx)
  request hello {
    GET "/search?q={{q}}"
    header "Authorization" = "{{auth}}"
    header "X-Token" = "{{token}}"
  }
  phase main { rate 5/s for 1s }
}
"#,
        &[],
    );
    let env = [
        ("PTL_TEST_HELPER_USER", "ann"),
        ("PTL_TEST_HELPER_PASS", "p:ss wörd"),
    ];
    let (o, out) = rec.run(&plan, &["--quiet"], &env);
    assert_exit(&o, 0);
    assert_sent_without_errors(&json(&out)["phases"][0], 5..=5);
    let recorded = rec.server.recorded();
    assert_eq!(recorded.len(), 5);
    for r in recorded {
        assert_eq!(r.target, "/search?q=a%20b%26c%3Dd%2F%C3%A9");
        // base64("ann:p:ss wörd"), read where the plan runs.
        assert_eq!(
            r.header("authorization"),
            Some("Basic YW5uOnA6c3Mgd8O2cmQ=")
        );
        assert_eq!(r.header("x-token"), Some("YW5uOng="));
    }
}

/// examples/accounts.ptl as a user runs it: env(), two hosts, a JSON feeder, tags and richer
/// checks, against the demo target (the shop) and a counting server (the identity service).
#[test]
fn the_accounts_example_runs_clean_against_two_hosts() {
    let shop = crate::support::Target::start();
    let auth = counting_server::server();
    auth.record();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("r.json");
    let key = format!("key-{}", std::process::id());
    let o = ptl()
        .args(["run", "examples/accounts.ptl", "--quiet"])
        .args(["--set", &format!("target={}", shop.url)])
        .args(["--set", &format!("auth_url={}", auth.url())])
        .arg("--out")
        .arg(&out)
        .env("SHOP_API_KEY", &key)
        .output()
        .expect("ptl run runs");
    assert_exit(&o, 0);
    let r = json(&out);
    let sent = assert_sent_without_errors(&r["phases"][0], 40..=40);
    let host = |name: &str| {
        r["hosts"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["name"] == name))
            .and_then(|h| h["requests"].as_u64())
            .unwrap_or_else(|| panic!("no host {name} in {}", r["hosts"]))
    };
    // Each host's count is its server's own.
    assert_eq!(host("auth"), auth.state.hits.load(Ordering::Relaxed));
    assert_eq!(host("default"), shop.requests());
    assert_eq!(host("auth") + host("default"), sent);
    let tag = |value: &str| {
        r["tags"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["key"] == "team" && t["value"] == value))
            .and_then(|t| t["requests"].as_u64())
            .unwrap_or_else(|| panic!("no team={value} in {}", r["tags"]))
    };
    assert_eq!(tag("identity"), host("auth"));
    assert_eq!(tag("shop"), host("default"));
    // The identity service got the key from the environment and users from users.json.
    let names = ["ann", "bob", "cy", "dee"];
    for req in auth.recorded() {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {key}").as_str())
        );
        let body: serde_json::Value = serde_json::from_slice(&req.body).expect("a JSON body");
        assert!(
            names.contains(&body["user"].as_str().unwrap_or("")),
            "{body}"
        );
    }
}

/// `ptl compile` keeps the plan's files in the bytecode, so a compiled plan takes `--set`
/// (checked as the `.ptl` would be) on a machine without them.
#[test]
fn a_compiled_plan_takes_set_without_its_files() {
    let rec = Recording::new();
    let src = rec.dir.path().join("src");
    std::fs::create_dir(&src).expect("src dir");
    let plan = write(
        &src,
        r#"plan "compiled" {
  import "common.ptl"
  param target = "http://127.0.0.1:9"
  param hold = 1s
  target target
  let user = json("users.json")
  request hello { GET "/u/{{user.name}}" }
  phase main { rate per_s for hold }
}
"#,
        &[
            ("users.json", r#"[{"name": "ann"}, {"name": "bob"}]"#),
            ("common.ptl", "param per_s = 10/s\n"),
        ],
    );
    let compiled = rec.dir.path().join("plan.ptlc");
    let c = crate::support::compile(&plan, &compiled);
    assert_exit(&c, 0);
    // The sources are gone: only the bytecode is left.
    std::fs::remove_dir_all(&src).expect("sources removed");

    let (o, out) = rec.run(&compiled, &["--set", "per_s=6/s", "--set", "hold=2s"], &[]);
    assert_exit(&o, 0);
    assert_sent_without_errors(&json(&out)["phases"][0], 12..=12);
    let expected: BTreeMap<String, u64> = [("/u/ann".to_string(), 6), ("/u/bob".to_string(), 6)]
        .into_iter()
        .collect();
    assert_eq!(paths(&rec.server), expected);

    // A wrong kind gets the diagnostic `ptl check` gives for the .ptl, and nothing runs.
    let (bad, _) = rec.run(&compiled, &["--set", "hold=fast"], &[]);
    assert_exit(&bad, 3);
    let err = crate::support::stderr(&bad);
    assert!(err.contains("E0030"), "{err}");
    assert_eq!(rec.hits(), 12);
}
