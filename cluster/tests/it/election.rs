//! Coordinator election against real ZooKeeper: one leader at a time, and a follower takes over
//! when the leader's session dies (closed, or expired after a crash).

use std::time::Duration;

use ptl_cluster::coordinator::election::{self, Candidate};
use ptl_cluster::zk::durable::SessionHandle;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_test_support::ZkServer;
use zookeeper_client::Client;

/// A session that is not closed when the client is dropped: dropping it is a crash, and the
/// server expires it after the session timeout.
async fn crashable_session(server: &ZkServer) -> Client {
    let root = Client::connector()
        .with_session_timeout(Duration::from_secs(2))
        .with_detached()
        .connect(&server.connect_string())
        .await
        .expect("connect");
    // zk::connect created the chroot already.
    root.chroot("/ptl").expect("chroot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_takes_over_when_the_leader_session_closes() {
    let server = ZkServer::start();
    let config = ZkConfig::new(server.connect_string());
    let observer = zk::connect(&config).await.expect("connect");
    let first = zk::connect(&config).await.expect("connect");
    let second = zk::connect(&config).await.expect("connect");

    let leader = Candidate::join(&SessionHandle::of(first.clone()), "coordinator-a")
        .await
        .expect("join a");
    let follower = Candidate::join(&SessionHandle::of(second.clone()), "coordinator-b")
        .await
        .expect("join b");
    leader.wait_until_leader().await.expect("a leads");
    assert!(leader.is_leader().await.expect("query"));
    assert!(!follower.is_leader().await.expect("query"));
    assert_eq!(
        election::leader(&observer)
            .await
            .expect("leader")
            .as_deref(),
        Some("coordinator-a")
    );

    let waiting =
        tokio::spawn(async move { follower.wait_until_leader().await.map(|()| follower) });
    // Still a follower while the leader lives (it can only finish early if election is wrong).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());

    drop(leader);
    drop(first);
    let follower = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("takes over")
        .expect("task")
        .expect("leads");
    assert!(follower.is_leader().await.expect("query"));
    assert_eq!(
        election::leader(&observer)
            .await
            .expect("leader")
            .as_deref(),
        Some("coordinator-b")
    );

    follower.resign().await.expect("resign");
    assert_eq!(election::leader(&observer).await.expect("leader"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_takes_over_when_the_leader_crashes() {
    let server = ZkServer::start();
    let config = ZkConfig::new(server.connect_string());
    let observer = zk::connect(&config).await.expect("connect");
    let crashing = crashable_session(&server).await;
    let second = zk::connect(&config).await.expect("connect");

    let leader = Candidate::join(&SessionHandle::of(crashing.clone()), "coordinator-a")
        .await
        .expect("join a");
    let follower = Candidate::join(&SessionHandle::of(second.clone()), "coordinator-b")
        .await
        .expect("join b");
    leader.wait_until_leader().await.expect("a leads");

    // The leader's process "dies": no close, so only the session timeout removes its node.
    let session_timeout = crashing.session_timeout();
    drop(leader);
    drop(crashing);
    tokio::time::timeout(
        session_timeout + Duration::from_secs(10),
        follower.wait_until_leader(),
    )
    .await
    .expect("takes over within the session timeout")
    .expect("leads");
    assert_eq!(
        election::leader(&observer)
            .await
            .expect("leader")
            .as_deref(),
        Some("coordinator-b")
    );
}
