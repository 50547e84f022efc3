//! Agents register as ephemeral sequential nodes: listed while their session lives, gone after.

use std::collections::BTreeMap;
use std::time::Duration;

use ptl_cluster::agent::registry::{self, AgentInfo};
use ptl_cluster::zk::{self, ZkConfig};
use ptl_test_support::ZkServer;

fn info(name: &str, capacity: Option<f64>) -> AgentInfo {
    AgentInfo {
        name: name.into(),
        host: "127.0.0.1".into(),
        version: "0.1.0".into(),
        bytecode_version: 1,
        capacity,
        labels: BTreeMap::from([("region".to_string(), "eu".to_string())]),
        clock_offset_ms: Some(0),
        zk_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_listed_in_order_and_vanish_with_their_session() {
    let server = ZkServer::start();
    let config = ZkConfig::new(server.connect_string());
    let observer = zk::connect(&config).await.expect("connect");
    let first_session = zk::connect(&config).await.expect("connect a");
    let second_session = zk::connect(&config).await.expect("connect b");

    let a = registry::register(&first_session, &info("a", Some(1000.0)))
        .await
        .expect("register a");
    let b = registry::register(&second_session, &info("b", None))
        .await
        .expect("register b");
    assert!(a.sequence() < b.sequence(), "{a} then {b}");

    let (agents, watcher) = registry::list_and_watch(&observer).await.expect("list");
    let names: Vec<&str> = agents.iter().map(|x| x.info.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(agents[0].id, a);
    assert_eq!(agents[0].info, info("a", Some(1000.0)));
    assert_eq!(agents[0].session, first_session.session_id().0);

    // Closing a's session removes its node at once and fires the watch.
    drop(first_session);
    let event = tokio::time::timeout(Duration::from_secs(10), watcher.changed())
        .await
        .expect("watch fires");
    assert_eq!(
        event.event_type,
        zookeeper_client::EventType::NodeChildrenChanged
    );
    let agents = registry::list(&observer).await.expect("list");
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].id, b);
}
