//! The harness really starts ZooKeeper: a client can write and read back, and dropping the
//! server stops it.

use ptl_cluster::access::Node;
use std::time::Duration;

use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::ClusterError;
use ptl_test_support::ZkServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_serves_and_stops_on_drop() {
    let server = ZkServer::start();
    assert!(server.node_answers(0));
    let client = zk::connect(&ZkConfig::new(server.connect_string()))
        .await
        .expect("connect");
    zk::put_json(
        &client,
        "/runs/probe",
        &vec![1, 2, 3],
        "probe",
        Node::Coordinated,
    )
    .await
    .expect("write");
    let (back, _) = zk::get_json::<Vec<u32>>(&client, "/runs/probe", "probe")
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(back, vec![1, 2, 3]);
    drop(client);

    let port = server.client_ports()[0];
    drop(server);
    let config =
        ZkConfig::new(format!("127.0.0.1:{port}")).with_connect_timeout(Duration::from_secs(2));
    let error = zk::connect(&config).await.expect_err("server is gone");
    assert!(matches!(error, ClusterError::Unreachable { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_of_three_forms_a_quorum_and_survives_one_loss() {
    let mut ensemble = ZkServer::start_ensemble();
    assert_eq!(ensemble.client_ports().len(), 3);
    let client = zk::connect(&ZkConfig::new(ensemble.connect_string()))
        .await
        .expect("connect");
    zk::put_json(&client, "/runs/before", &"x", "probe", Node::Coordinated)
        .await
        .expect("write");

    // Losing one of three keeps a quorum: writes still succeed (through whichever node the
    // client reaches next).
    ensemble.kill_node(2);
    assert!(!ensemble.node_answers(2));
    // The client may have been on the killed node, or it may have led: allow a reconnect and
    // a re-election, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match zk::put_json(&client, "/runs/after", &"y", "probe", Node::Coordinated).await {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("retrying after: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("write after losing a node: {e}"),
        }
    }
    assert!(zk::get_json::<String>(&client, "/runs/before", "probe")
        .await
        .expect("read")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_chroot_is_refused() {
    let error = zk::connect(&ZkConfig::new("127.0.0.1:1").with_chroot("ptl"))
        .await
        .expect_err("relative chroot");
    assert!(matches!(error, ClusterError::BadChroot(_)), "{error}");
}
