//! Data in plans, end to end against a server that records what it received: JSON feeders
//! (`json("users.json")`), draw modes of feeders, and the bytes of bodies and helpers.

use crate::support::{assert_exit, assert_sent_without_errors, json, run};
use ptl_test_support::counting_server;
use std::collections::BTreeMap;
use std::path::Path;
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
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = write(
        dir.path(),
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
    let server = counting_server::server();
    server.record();
    let out = dir.path().join("r.json");
    let o = run(&plan, &server.url(), &out, &[]);
    assert_exit(&o, 0);
    let sent = assert_sent_without_errors(&json(&out)["phases"][0], 30..=30);
    assert_eq!(server.state.hits.load(Ordering::Relaxed), sent);
    // Sequential draws (the default): 30 draws walk the 3 objects 10 times each.
    let expected: BTreeMap<String, u64> = ["/u/ann/1/Oslo", "/u/bob/2/Rome", "/u/cy/3/Lima"]
        .into_iter()
        .map(|p| (p.to_string(), 10))
        .collect();
    assert_eq!(paths(&server), expected);
}
