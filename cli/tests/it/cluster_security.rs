//! Who may aim the fleet, against real processes: plans signed with `ptl keygen` keys, run only
//! by a coordinator and agents that trust the key; unsigned, unknown-key and tampered plans are
//! refused with the reason, and the target receives nothing from them.

use crate::cluster::{stderr, write, Cluster};
use crate::support::{json, ptl};
use ptl_cluster::ids::PlanHash;
use ptl_cluster::zk::{self, layout};
use ptl_test_support::counting_server::{self, TestServer};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

const PLAN: &str = r#"plan "signed" {
  param target = "http://127.0.0.1:9"
  target target
  request hello { GET "/" }
  phase steady { rate 50/s for 2s }
}
"#;

/// `ptl keygen --out DIR/NAME.key`; the public key's path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let o = ptl()
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .expect("ptl keygen runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    key
}

fn submit(cluster: &Cluster, server: &TestServer, key: Option<&Path>) -> std::process::Output {
    let plan = write(cluster.dir.path(), "plan.ptl", PLAN);
    let out = cluster.dir.path().join("r.json");
    let _ = std::fs::remove_file(&out);
    let mut submit = cluster.submit(&plan, 2, &out);
    submit
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())]);
    if let Some(key) = key {
        submit.arg("--sign-key").arg(key);
    }
    submit.output().expect("ptl submit runs")
}

fn hits(server: &TestServer) -> u64 {
    server.state.hits.load(Ordering::Relaxed)
}

#[test]
fn only_plans_signed_by_a_trusted_key_run() {
    let keys = tempfile::tempdir().expect("dir");
    let trusted = tempfile::tempdir().expect("dir");
    let team = keygen(keys.path(), "team");
    let stranger = keygen(keys.path(), "stranger");
    std::fs::copy(
        keys.path().join("team.key.pub"),
        trusted.path().join("team.pub"),
    )
    .expect("copy the public key");
    let trust = trusted.path().to_string_lossy().into_owned();
    let cluster = Cluster::start_with(2, &["--trusted-keys", &trust]);
    let server = counting_server::server();

    let unsigned = submit(&cluster, &server, None);
    assert_eq!(unsigned.status.code(), Some(4), "{}", stderr(&unsigned));
    assert!(
        stderr(&unsigned).contains("not signed"),
        "{}",
        stderr(&unsigned)
    );

    let unknown = submit(&cluster, &server, Some(&stranger));
    assert_eq!(unknown.status.code(), Some(4), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("not a trusted key"),
        "{}",
        stderr(&unknown)
    );
    assert_eq!(hits(&server), 0, "a refused run sent requests");

    let signed = submit(&cluster, &server, Some(&team));
    assert_eq!(
        signed.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&signed),
        cluster.logs()
    );
    let r = json(&cluster.dir.path().join("r.json"));
    assert!(
        r["signed_by"]
            .as_str()
            .is_some_and(|s| s.starts_with("team (")),
        "{}",
        r["signed_by"]
    );
    assert_eq!(hits(&server), 100);
}

#[test]
fn a_plan_altered_in_zookeeper_is_refused_by_every_agent() {
    let keys = tempfile::tempdir().expect("dir");
    let team = keygen(keys.path(), "team");
    let mut cluster = Cluster::start(1);
    let server = counting_server::server();
    // Two agents wanted, one registered: the run waits, its plan stored, while the test alters
    // a byte of it.
    let plan = write(cluster.dir.path(), "plan.ptl", PLAN);
    let out = cluster.dir.path().join("r.json");
    let waiting = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())])
        .arg("--sign-key")
        .arg(&team)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ptl submit starts");
    std::thread::sleep(Duration::from_secs(2));
    tamper_with_the_plan(&cluster);
    cluster.add_agent("agent1");

    // Every agent refused its share: the run ends degraded, saying why, and nothing was sent.
    cluster.finish(waiting, 5);
    assert_eq!(hits(&server), 0);
    let r = json(&out);
    let reasons = r["accounting"]["reasons"].to_string();
    assert!(
        reasons.contains("refused") && reasons.contains("corrupt"),
        "{reasons}"
    );
}

/// Flips one byte of the first chunk of the one plan stored.
fn tamper_with_the_plan(cluster: &Cluster) {
    cluster.with_zk(async |client| {
        let plans = zk::children(client, layout::PLANS).await.expect("plans");
        assert_eq!(plans.len(), 1, "{plans:?}");
        let hash = PlanHash::parse(&plans[0]).expect("a plan hash");
        let chunk = layout::plan_chunk(&hash, 0);
        let (mut data, stat) = client.get_data(&chunk).await.expect("the chunk");
        let last = data.len() - 1;
        data[last] ^= 0x01;
        client
            .set_data(&chunk, &data, Some(stat.version))
            .await
            .expect("altered");
    });
}

#[test]
fn an_agent_without_an_env_secret_hands_its_share_to_one_that_has_it() {
    let mut cluster = Cluster::start(0);
    let secret = format!("cluster-s3cr3t-{}", std::process::id());
    let connect = cluster.connect();
    let dir = cluster.dir.path().to_path_buf();
    for (name, with_secret) in [("agent0", true), ("agent1", false)] {
        let mut command = ptl();
        command.args(["agent", "--zk", &connect, "--name", name, "--workers", "1"]);
        command.args(["--session-timeout", crate::support::AGENT_SESSION]);
        match with_secret {
            true => command.env("PTL_TEST_CLUSTER_SECRET", &secret),
            false => command.env_remove("PTL_TEST_CLUSTER_SECRET"),
        };
        cluster
            .agents
            .push(crate::support::Proc::spawn_command(&dir, name, command));
    }
    cluster.wait_for_agents(2);
    let server = counting_server::server();
    let plan = write(
        &dir,
        "env.ptl",
        r#"plan "env" {
  param target = "http://127.0.0.1:9"
  target target
  let token = env("PTL_TEST_CLUSTER_SECRET")
  request hello {
    GET "/"
    header "Authorization" = "Bearer {{token}}"
  }
  phase steady { rate 50/s for 4s }
}
"#,
    );
    let out = dir.join("r.json");
    let o = cluster
        .submit(&plan, 2, &out)
        .arg("--quiet")
        .args(["--set", &format!("target={}", server.url())])
        .env_remove("PTL_TEST_CLUSTER_SECRET")
        .output()
        .expect("ptl submit runs");
    // Degraded (one agent could not take part), but the other sent the whole rate from then on.
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}\n{}",
        stderr(&o),
        cluster.logs()
    );
    let auth = server.state.authorization.lock().expect("lock").clone();
    assert_eq!(auth, Some(format!("Bearer {secret}")));
    let r = json(&out);
    let reasons = r["accounting"]["reasons"].to_string();
    assert!(reasons.contains("PTL_TEST_CLUSTER_SECRET"), "{reasons}");
    assert!(
        hits(&server) > 150,
        "the share was taken over: {}",
        hits(&server)
    );
    assert!(!std::fs::read_to_string(&out)
        .expect("result")
        .contains(&secret));
}
