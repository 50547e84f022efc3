//! SASL DIGEST-MD5 logins against a real ZooKeeper whose JAAS file holds the users: a chroot
//! secured by a SASL admin, whose roles name `sasl:USER` identities, runs a plan for a
//! coordinator, agents and a submitter that log in with SASL; a wrong password is refused at
//! once (exit 4), not retried until the connect timeout. A process with a login does not create
//! the chroot before `ptl zk init` does.

use crate::cluster::{stderr, write};
use crate::cluster_access::{identity, ptl_as, run_fleet, zk_init, FleetFlags};
use ptl_test_support::zk_server::{ZkOptions, ZkServer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const USERS: [(&str, &str); 5] = [
    ("admin", "admin-sasl-pw"),
    ("alice", "alice-sasl-pw"),
    ("agent-a", "a-sasl-pw"),
    ("agent-b", "b-sasl-pw"),
    ("coord", "coord-sasl-pw"),
];

/// An auth file `sasl:NAME:PASSWORD`.
fn sasl_login(dir: &Path, name: &str, password: &str) -> PathBuf {
    write(
        dir,
        &format!("{name}.sasl"),
        &format!("sasl:{name}:{password}\n"),
    )
}

#[test]
fn sasl_logins_run_a_secured_fleet_and_a_wrong_password_fails_fast() {
    let zk = ZkServer::start_with(&ZkOptions {
        sasl_users: USERS
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
        ..ZkOptions::default()
    });
    let connect = zk.connect_string();
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let [admin, alice, agent_a, agent_b, coord] = USERS.map(|(u, p)| sasl_login(d, u, p));
    assert_eq!(identity(&alice), "sasl:alice");
    let submitters = write(d, "submitters", &identity(&alice));
    let agents = write(
        d,
        "agents",
        &format!("{}\n{}\n", identity(&agent_a), identity(&agent_b)),
    );
    let coordinators = write(d, "coordinators", &identity(&coord));
    let roles = [
        ("submitters", submitters.as_path()),
        ("agents", agents.as_path()),
        ("coordinators", coordinators.as_path()),
    ];
    // Before `zk init`: a process with a login never makes an open chroot.
    let early = ptl_as(Some(&coord), &["status", "--zk", &connect]);
    assert_eq!(early.status.code(), Some(4), "{}", stderr(&early));
    assert!(stderr(&early).contains("ptl zk init"), "{}", stderr(&early));

    let init = zk_init(&connect, &admin, &roles, false);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    assert!(
        String::from_utf8_lossy(&init.stdout).contains("/ptl: missing"),
        "{}",
        String::from_utf8_lossy(&init.stdout)
    );
    let check = zk_init(&connect, &admin, &roles, true);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));

    // Secured for real: without a login, the chroot is closed.
    let anonymous = ptl_as(None, &["status", "--zk", &connect]);
    assert_eq!(anonymous.status.code(), Some(4), "{}", stderr(&anonymous));
    assert!(stderr(&anonymous).contains("not authorised"));

    let auth = |file: &Path| vec!["--zk-auth-file".to_owned(), file.display().to_string()];
    let ran = run_fleet(
        d,
        &connect,
        &FleetFlags {
            coordinator: auth(&coord),
            agents: vec![auth(&agent_a), auth(&agent_b)],
            submitter: auth(&alice),
        },
    );
    let logs = ran.logs();
    for (_, password) in USERS {
        assert!(!logs.contains(password), "{password} leaked");
    }

    // A wrong password: ZooKeeper's answer, at once, well before the connect timeout.
    let wrong = sasl_login(d, "alice-wrong", "not-alices-password");
    std::fs::write(&wrong, "sasl:alice:not-alices-password\n").expect("write");
    let started = Instant::now();
    let refused = ptl_as(
        Some(&wrong),
        &["status", "--zk", &connect, "--connect-timeout", "60s"],
    );
    let took = started.elapsed();
    assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("authentication failed"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !stderr(&refused).contains("unreachable"),
        "{}",
        stderr(&refused)
    );
    // Not the retry loop: that would give up only at the 60 s deadline.
    assert!(took < Duration::from_secs(30), "{took:?}");
}
