//! A fleet secured by `ptl zk init`, against a real ZooKeeper enforcing digest ACLs: each role
//! does its part of a run, and ZooKeeper itself refuses everyone else (anonymous clients,
//! logins in no role, an agent writing another agent's reports, a submitter changing the
//! assignment). Refusals are clear errors with exit 4, never hangs.

use crate::cluster::{run_id, stderr, write};
use crate::support::{agent_with, json, ptl, Proc};
use ptl_test_support::counting_server;
use ptl_test_support::zk_server::ZkServer;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use zookeeper_client::{Acls, Client, CreateMode, Error as ZkError};

const PLAN: &str = r#"plan "secured" {
  param target = "http://127.0.0.1:9"
  target target
  request hello { GET "/" }
  phase steady { rate 40/s for 2s }
}
"#;

/// An auth file `digest:NAME:PASSWORD`.
pub(crate) fn login(dir: &Path, name: &str, password: &str) -> PathBuf {
    write(
        dir,
        &format!("{name}.auth"),
        &format!("digest:{name}:{password}\n"),
    )
}

/// What `ptl zk id` prints for a login file.
pub(crate) fn identity(auth: &Path) -> String {
    let o = ptl()
        .args(["zk", "id", "--auth-file"])
        .arg(auth)
        .output()
        .expect("ptl zk id runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

pub(crate) fn ptl_as(auth: Option<&Path>, args: &[&str]) -> Output {
    let mut command = ptl();
    command.args(args);
    if let Some(auth) = auth {
        command.arg("--zk-auth-file").arg(auth);
    }
    command.output().expect("ptl runs")
}

pub(crate) fn zk_init(connect: &str, admin: &Path, roles: &[(&str, &Path)], check: bool) -> Output {
    let mut command = ptl();
    command
        .args(["zk", "init", "--zk", connect, "--zk-auth-file"])
        .arg(admin);
    for (role, file) in roles {
        command.arg(format!("--{role}")).arg(file);
    }
    if check {
        command.arg("--check");
    }
    command.output().expect("ptl zk init runs")
}

/// Runs `f` with a client at ZooKeeper's root, logged in as `auth` (digest `user:password`).
fn as_client<T>(connect: &str, auth: Option<&str>, f: impl AsyncFnOnce(&Client) -> T) -> T {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut connector = Client::connector();
        if let Some(auth) = auth {
            connector = connector.with_auth("digest", auth.as_bytes());
        }
        let client = connector.connect(connect).await.expect("connect");
        f(&client).await
    })
}

#[test]
fn a_secured_fleet_runs_for_its_roles_and_refuses_everyone_else() {
    let zk = ZkServer::start();
    let connect = zk.connect_string();
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let admin = login(d, "admin", "admin-pw");
    let submitter = login(d, "alice", "alice-pw-1");
    let agents = [login(d, "agent-a", "a-pw"), login(d, "agent-b", "b-pw")];
    let coordinator = login(d, "coord", "coord-pw");
    let stranger = login(d, "mallory", "m-pw");
    let submitters = write(
        d,
        "submitters",
        &format!("# the team\n{}\n", identity(&submitter)),
    );
    let agent_ids = write(
        d,
        "agents",
        &format!("{}\n{}\n", identity(&agents[0]), identity(&agents[1])),
    );
    let coordinators = write(d, "coordinators", &identity(&coordinator));
    let roles = [
        ("submitters", submitters.as_path()),
        ("agents", agent_ids.as_path()),
        ("coordinators", coordinators.as_path()),
    ];

    let init = zk_init(&connect, &admin, &roles, false);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    assert!(String::from_utf8_lossy(&init.stdout).contains("/ptl/runs: missing"));
    // Idempotent: a second look finds nothing to change.
    let check = zk_init(&connect, &admin, &roles, true);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(
        check.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // A role file that changed is a difference, and --check changes nothing.
    let more = write(
        d,
        "more",
        &format!("{}\n{}\n", identity(&submitter), identity(&stranger)),
    );
    let differs = zk_init(&connect, &admin, &[("submitters", more.as_path())], true);
    assert_eq!(differs.status.code(), Some(1), "{}", stderr(&differs));
    assert!(String::from_utf8_lossy(&differs.stdout).contains("/ptl/acl"));

    // Anonymous: nothing can be read or created under the chroot.
    as_client(&connect, None, async |c| {
        assert_eq!(c.get_data("/ptl/acl").await.unwrap_err(), ZkError::NoAuth);
        assert_eq!(
            c.list_children("/ptl/plans").await.unwrap_err(),
            ZkError::NoAuth
        );
        let create = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
        let made = c.create("/ptl/runs/run-", b"{}", &create).await;
        assert_eq!(made.unwrap_err(), ZkError::NoAuth);
    });
    let anonymous = ptl_as(None, &["status", "--zk", &connect]);
    assert_eq!(anonymous.status.code(), Some(4), "{}", stderr(&anonymous));
    assert!(
        stderr(&anonymous).contains("ZooKeeper refused: not authorised"),
        "{}",
        stderr(&anonymous)
    );

    // The fleet, each with its own login.
    let auth = |file: &Path| vec!["--zk-auth-file".to_owned(), file.display().to_string()];
    let roles = FleetFlags {
        coordinator: auth(&coordinator),
        agents: agents.iter().map(|a| auth(a)).collect(),
        submitter: auth(&submitter),
    };
    let ran = run_fleet(d, &connect, &roles);
    let (fleet, server, out, run) = (&ran.fleet, &ran.server, &ran.out, &ran.run);
    let logs = || ran.logs();

    // Each agent's folder takes only that agent's writes; the assignment only coordinators'.
    // agent-b's registration, as a submitter reads it.
    let other = as_client(&connect, Some("alice:alice-pw-1"), async |c| {
        assert_eq!(
            c.set_data(&format!("/ptl/runs/{run}/assignment"), b"{}", None)
                .await
                .unwrap_err(),
            ZkError::NoAuth
        );
        for id in c.list_children("/ptl/agents").await.expect("list agents") {
            let (data, _) = c
                .get_data(&format!("/ptl/agents/{id}"))
                .await
                .expect("read");
            let info: serde_json::Value = serde_json::from_slice(&data).expect("agent JSON");
            if info["name"] == "agent1" {
                return id;
            }
        }
        panic!("agent1 is not registered")
    });
    as_client(&connect, Some("agent-a:a-pw"), async |c| {
        let forged = CreateMode::Persistent.with_acls(Acls::anyone_all());
        for path in [
            format!("/ptl/runs/{run}/reports/{other}/d-9999999999"),
            format!("/ptl/runs/{run}/done/forged"),
        ] {
            let made = c.create(&path, b"x", &forged).await;
            assert_eq!(made.unwrap_err(), ZkError::NoAuth, "{path}");
        }
        let done = format!("/ptl/runs/{run}/done/{other}");
        assert_eq!(
            c.set_data(&done, b"{}", None).await.unwrap_err(),
            ZkError::NoAuth
        );
    });

    // A login in no role gets a clear refusal, and nothing is sent.
    let submit_args = strs(&ran.submit_args);
    let refused = ptl_as(Some(&stranger), &submit_args);
    assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("not authorised"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 80);

    // Passwords never reach a log or a result.
    let everything = format!(
        "{}{}",
        logs(),
        std::fs::read_to_string(out).expect("result")
    );
    for password in ["admin-pw", "alice-pw-1", "a-pw", "b-pw", "coord-pw"] {
        assert!(!everything.contains(password), "{password} leaked");
    }
    assert!(
        !fleet[0].log().contains("fleet is open"),
        "{}",
        fleet[0].log()
    );
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The flags (logins, TLS) each process of a fleet gets besides `--zk`.
pub(crate) struct FleetFlags {
    pub coordinator: Vec<String>,
    /// One entry per agent.
    pub agents: Vec<Vec<String>>,
    pub submitter: Vec<String>,
}

/// A fleet that ran [`PLAN`] once, its processes still up.
pub(crate) struct FleetRun {
    pub fleet: Vec<Proc>,
    pub server: counting_server::TestServer,
    /// The result JSON.
    pub out: PathBuf,
    pub run: String,
    /// `ptl submit …` as it was run, without the submitter's flags: to run again as another.
    pub submit_args: Vec<String>,
}

impl FleetRun {
    pub fn logs(&self) -> String {
        self.fleet
            .iter()
            .map(|p| p.log())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }
}

/// Starts a coordinator and agents with `flags`, waits for all to register (as the submitter
/// sees them), and has the submitter run [`PLAN`] at a counting server with `submit --wait`:
/// the result must count exactly what the server received, 80 requests.
pub(crate) fn run_fleet(d: &Path, connect: &str, flags: &FleetFlags) -> FleetRun {
    let mut coordinator = vec!["coordinator", "--zk", connect];
    coordinator.extend(strs(&flags.coordinator));
    let mut fleet = vec![Proc::spawn(d, "coordinator", &coordinator)];
    for (i, extra) in flags.agents.iter().enumerate() {
        fleet.push(agent_with(d, connect, &format!("agent{i}"), &strs(extra)));
    }
    let plan = write(d, "plan.ptl", PLAN);
    let out = d.join("result.json");
    let mut ran = FleetRun {
        fleet,
        server: counting_server::server(),
        out: out.clone(),
        run: String::new(),
        submit_args: Vec::new(),
    };
    let as_submitter = |args: &[&str]| {
        let mut command = ptl();
        command.args(args).args(&flags.submitter);
        command.output().expect("ptl runs")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = as_submitter(&["status", "--json", "--zk", connect]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let status: serde_json::Value = serde_json::from_slice(&o.stdout).expect("status JSON");
        let agents = status["agents"].as_array().map_or(0, Vec::len);
        if agents == flags.agents.len() && !status["coordinator"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fleet did not register:\n{}",
            ran.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let agents = flags.agents.len().to_string();
    let target = format!("target={}", ran.server.url());
    ran.submit_args = [
        "submit",
        &plan.display().to_string(),
        "--zk",
        connect,
        "--agents",
        &agents,
        "--wait",
        "--start-delay",
        "1s",
        "--agent-wait",
        "10s",
        "--timeout",
        "60s",
        "--quiet",
        "--set",
        &target,
        "--out",
        &out.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let submitted = as_submitter(&strs(&ran.submit_args));
    assert_eq!(
        submitted.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&submitted),
        ran.logs()
    );
    let result = json(&out);
    let hits = ran.server.state.hits.load(Ordering::Relaxed);
    assert_eq!(result["total"]["requests"].as_u64(), Some(hits), "{result}");
    assert_eq!(hits, 80);
    ran.run = run_id(&stderr(&submitted));
    ran
}
