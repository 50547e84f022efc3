//! Clock offset against a real ZooKeeper on this machine: the server and we share a clock, so
//! the measured offset must be within its own uncertainty of zero (plus a millisecond of
//! rounding: ZooKeeper's mtime is whole milliseconds).

use ptl_cluster::zk::clock;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_test_support::ZkServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_against_a_local_server_is_zero_within_uncertainty() {
    let server = ZkServer::start();
    let client = zk::connect(&ZkConfig::new(server.connect_string()))
        .await
        .expect("connect");
    let offset = clock::measure(&client, "agent-a", 5)
        .await
        .expect("measure");
    assert!(offset.uncertainty_ms >= 1);
    assert!(
        offset.offset_ms.abs() <= offset.uncertainty_ms + 1,
        "{offset:?}"
    );
    assert!(!offset.exceeds(50), "{offset:?}");
}
