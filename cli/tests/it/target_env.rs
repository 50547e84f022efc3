//! `target env("…")` and `target NAME env("…")`, end to end: the real binary against counting
//! servers on 127.0.0.1, the variables set (or not) in the environment of `ptl run` only, the
//! servers' own counts the witness of where every request went.

use crate::support::{assert_exit, json, ptl, stderr};
use ptl_test_support::counting_server::{self, TestServer};
use std::path::Path;
use std::process::Output;
use std::sync::atomic::Ordering;

const PLAN: &str = r#"plan "target_env" {
  target env("PTL_IT_TARGET_URL")
  target api env("PTL_IT_API_URL", "http://127.0.0.1:9")
  timeout 2s
  request home { GET "/home" }
  request items { GET api "/items" }
  phase p { rate 20/s for 1s }
}
"#;

fn hits(server: &TestServer) -> u64 {
    server.state.hits.load(Ordering::Relaxed)
}

/// `ptl run` of [`PLAN`] with `vars` set (and the two target variables otherwise unset).
fn run_with(dir: &Path, vars: &[(&str, &str)], extra: &[&str]) -> Output {
    let plan = dir.join("plan.ptl");
    std::fs::write(&plan, PLAN).unwrap();
    let mut cmd = ptl();
    cmd.arg("run")
        .arg(&plan)
        .args(["--quiet", "--out"])
        .arg(dir.join("r.json"))
        .args(extra)
        .env_remove("PTL_IT_TARGET_URL")
        .env_remove("PTL_IT_API_URL");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("ptl run runs")
}

#[test]
fn targets_read_from_the_environment_get_every_request_and_show_in_the_result() {
    let (home, api) = (counting_server::server(), counting_server::server());
    let dir = tempfile::tempdir().unwrap();
    let o = run_with(
        dir.path(),
        &[
            ("PTL_IT_TARGET_URL", &home.url()),
            ("PTL_IT_API_URL", &api.url()),
        ],
        &[],
    );
    assert_exit(&o, 0);
    let r = json(&dir.path().join("r.json"));
    let phase = &r["phases"][0];
    assert_eq!(phase["request_count"].as_u64(), Some(20), "{phase}");
    assert_eq!(phase["errors"].as_u64(), Some(0), "{phase}");
    let count = |name: &str| {
        phase["requests"]
            .as_array()
            .and_then(|rows| rows.iter().find(|q| q["name"] == name))
            .and_then(|q| q["requests"].as_u64())
            .unwrap_or(0)
    };
    assert_eq!(hits(&home), count("home"));
    assert_eq!(hits(&api), count("items"));
    assert_eq!(hits(&home) + hits(&api), 20);
    assert!(hits(&api) > 0 && hits(&home) > 0);
    // A target is not a secret: the result names the URL actually used.
    assert_eq!(
        r["target"].as_str(),
        Some(home.url().as_str()),
        "{}",
        r["target"]
    );
}

#[test]
fn an_unset_target_variable_is_exit_2_naming_it_before_anything_is_sent() {
    let api = counting_server::server();
    let dir = tempfile::tempdir().unwrap();
    let o = run_with(dir.path(), &[("PTL_IT_API_URL", &api.url())], &[]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("W0006"), "check warns first: {err}");
    assert!(
        err.contains("`target env(\"PTL_IT_TARGET_URL\")`")
            && err.contains("PTL_IT_TARGET_URL is not set"),
        "{err}"
    );
    assert_eq!(hits(&api), 0);
    assert!(!dir.path().join("r.json").exists());

    // A value that is no URL is the same usage error, naming the variable and the value.
    let o = run_with(
        dir.path(),
        &[
            ("PTL_IT_TARGET_URL", "ftp://nope"),
            ("PTL_IT_API_URL", &api.url()),
        ],
        &[],
    );
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("PTL_IT_TARGET_URL=\"ftp://nope\" is not a target URL"),
        "{}",
        stderr(&o)
    );
    assert_eq!(hits(&api), 0);
}

#[test]
fn allow_target_judges_the_resolved_url() {
    let (home, api) = (counting_server::server(), counting_server::server());
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("PTL_IT_TARGET_URL", home.url()),
        ("PTL_IT_API_URL", api.url()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Only the default target is allowed: the api's resolved URL is refused, nothing is sent.
    let only_home = home.addr.to_string();
    let o = run_with(dir.path(), &vars, &["--allow-target", &only_home]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains(&api.addr.to_string()), "{err}");
    assert_eq!((hits(&home), hits(&api)), (0, 0));

    // Both resolved URLs allowed: the run goes.
    let both = api.addr.to_string();
    let o = run_with(
        dir.path(),
        &vars,
        &["--allow-target", &only_home, "--allow-target", &both],
    );
    assert_exit(&o, 0);
    assert_eq!(hits(&home) + hits(&api), 20);
}

/// In a cluster each agent resolves the target where it runs, and its own `--allow-target`
/// judges the resolved URL (an agent-side check of the unresolved plan would refuse it).
#[test]
fn agents_resolve_the_target_where_they_run_and_their_policy_judges_it() {
    use crate::cluster::{write, Cluster};
    let mut cluster = Cluster::start(0);
    let server = counting_server::server();
    let connect = cluster.connect();
    let dir = cluster.dir.path().to_path_buf();
    let allowed = server.addr.to_string();
    for name in ["agent0", "agent1"] {
        let mut command = ptl();
        command.args(["agent", "--zk", &connect, "--name", name, "--workers", "1"]);
        command.args(["--session-timeout", crate::support::AGENT_SESSION]);
        command.args(["--allow-target", &allowed]);
        command.env("PTL_IT_CLUSTER_TARGET", server.url());
        cluster
            .agents
            .push(crate::support::Proc::spawn_command(&dir, name, command));
    }
    cluster.wait_for_agents(2);
    let plan = write(
        &dir,
        "plan.ptl",
        r#"plan "cluster_target_env" {
  target env("PTL_IT_CLUSTER_TARGET")
  allow W0006
  timeout 1s
  request hello { GET "/" }
  phase steady { rate 20/s for 2s }
}
"#,
    );
    let out = dir.join("r.json");
    let o = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .env_remove("PTL_IT_CLUSTER_TARGET")
        .output()
        .expect("ptl submit runs");
    assert_exit(&o, 0);
    let r = json(&out);
    assert_eq!(r["total"]["requests"].as_u64(), Some(40), "{}", r["total"]);
    assert_eq!(hits(&server), 40);
    // Each agent resolved it on its own: the merged result names the variable.
    assert_eq!(r["target"], "env(\"PTL_IT_CLUSTER_TARGET\")");
}
