//! Test support shared by this crate's tests and the CLI's: a real ZooKeeper server harness.

pub mod zk_server;

pub use zk_server::ZkServer;
