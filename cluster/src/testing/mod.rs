//! Test support shared by this crate's tests and the CLI's: a real ZooKeeper server harness,
//! and hand-built plans.

pub mod plan;
pub mod zk_server;

pub use zk_server::ZkServer;
