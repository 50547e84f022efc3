//! A SASL login survives what the durable session rides out: after ZooKeeper comes back from
//! an outage longer than the client's own patience, the session resumed on a new client is the
//! same one and is still logged in (it can read a node only its SASL identity may read). And a
//! process with a login does not create the chroot.

use std::time::{Duration, Instant};

use ptl_cluster::access::Credentials;
use ptl_cluster::zk::durable::DurableSession;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::ClusterError;
use ptl_test_support::zk_server::{ZkOptions, ZkServer};
use zookeeper_client::{Acl, Acls, AuthId, CreateMode, Permission};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_keeps_its_sasl_login() {
    let mut server = ZkServer::start_with(&ZkOptions {
        sasl_users: vec![("alice".into(), "alice-pw".into())],
        ..ZkOptions::default()
    });
    let credentials: Credentials = "sasl:alice:alice-pw".parse().expect("login");
    let config = ZkConfig::new(server.connect_string())
        .with_credentials(Some(credentials))
        .with_session_timeout(Duration::from_secs(6));
    // A login never makes the chroot; an anonymous process makes an open one, as on a laptop.
    let refused = DurableSession::open(&config).await.err();
    assert!(
        matches!(refused, Some(ClusterError::NoChroot(_))),
        "{refused:?}"
    );
    zk::connect(&ZkConfig::new(server.connect_string()))
        .await
        .expect("an anonymous process makes the chroot");
    let session = DurableSession::open(&config).await.expect("open");
    let first = session.client();
    let alice_only = [Acl::new(Permission::ALL, AuthId::new("sasl", "alice"))];
    first
        .create(
            "/runs/alice-only",
            b"x",
            &CreateMode::Persistent.with_acls((&alice_only[..]).into()),
        )
        .await
        .expect("create as alice");
    first
        .create(
            "/agents/mine",
            b"",
            &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("create an ephemeral node");

    // Down for longer than the client waits (1.4 × the session timeout): it declares the
    // session expired by itself, while the server (restarted from its data) keeps it.
    server.kill_node(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !first.state().is_terminated() {
        assert!(Instant::now() < deadline, "the client never gave up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.restart_node(0);

    let mut handle = session.handle();
    let resumed = tokio::time::timeout(Duration::from_secs(60), handle.next_client())
        .await
        .expect("resumed in time")
        .expect("the session was resumed, not ended");
    assert_eq!(resumed.session_id(), first.session_id());
    let (data, _) = resumed
        .get_data("/runs/alice-only")
        .await
        .expect("still logged in as sasl:alice");
    assert_eq!(data, b"x");
    assert!(resumed
        .check_stat("/agents/mine")
        .await
        .expect("read")
        .is_some());
}
