//! Plans stored in a real ZooKeeper: small ones, a 2 MiB one split into chunks, and damage.

use ptl_cluster::access::Node;
use ptl_cluster::ids::PlanHash;
use ptl_cluster::plan_store::{self, CHUNK_SIZE};
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::{zk::layout, ClusterError};
use ptl_test_support::ZkServer;

/// Bytes that do not repeat with the chunk size, so a swapped or shifted chunk shows.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_round_trip_small_and_chunked() {
    let server = ZkServer::start();
    let client = zk::connect(&ZkConfig::new(server.connect_string()))
        .await
        .expect("connect");

    let small = b"PTLC small plan".to_vec();
    let hash = plan_store::store(&client, &small)
        .await
        .expect("store small");
    assert_eq!(hash, PlanHash::of(&small));
    assert_eq!(
        plan_store::load(&client, &hash).await.expect("load small"),
        small
    );

    // 2 MiB: more than twice a chunk, so three chunks, none of which fits a default znode.
    let big = pseudo_random(2 * 1024 * 1024, 7);
    let hash = plan_store::store(&client, &big).await.expect("store 2 MiB");
    let manifest = plan_store::manifest(&client, &hash)
        .await
        .expect("manifest")
        .expect("complete");
    assert_eq!(manifest.len, big.len() as u64);
    assert_eq!(manifest.chunks as usize, big.len().div_ceil(CHUNK_SIZE));
    assert_eq!(manifest.chunks, 3);
    assert_eq!(
        zk::children(&client, &layout::plan(&hash))
            .await
            .expect("list")
            .len(),
        3
    );
    assert_eq!(
        plan_store::load(&client, &hash).await.expect("load 2 MiB"),
        big
    );

    // Storing the same bytes again is idempotent.
    assert_eq!(
        plan_store::store(&client, &big).await.expect("store again"),
        hash
    );
    assert_eq!(
        plan_store::load(&client, &hash).await.expect("load again"),
        big
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_incomplete_and_damaged_plans_are_refused() {
    let server = ZkServer::start();
    let client = zk::connect(&ZkConfig::new(server.connect_string()))
        .await
        .expect("connect");

    let absent = PlanHash::of(b"never stored");
    let error = plan_store::load(&client, &absent)
        .await
        .expect_err("absent");
    assert!(matches!(error, ClusterError::PlanNotFound(_)), "{error}");

    // A store that died before its manifest reads as not there yet, not as a plan.
    zk::create_if_missing(&client, &layout::plan(&absent), b"", Node::Plan)
        .await
        .expect("node");
    let error = plan_store::load(&client, &absent)
        .await
        .expect_err("incomplete");
    assert!(matches!(error, ClusterError::PlanNotFound(_)), "{error}");

    let plan = pseudo_random(CHUNK_SIZE + 10, 3);
    let hash = plan_store::store(&client, &plan).await.expect("store");
    let second = layout::plan_chunk(&hash, 1);
    client
        .set_data(&second, b"tampered", None)
        .await
        .expect("tamper");
    let error = plan_store::load(&client, &hash).await.expect_err("damaged");
    assert!(matches!(error, ClusterError::PlanCorrupt { .. }), "{error}");

    client.delete(&second, None).await.expect("delete chunk");
    let error = plan_store::load(&client, &hash)
        .await
        .expect_err("chunk missing");
    assert!(error.to_string().contains("chunk 1 is missing"), "{error}");
}
