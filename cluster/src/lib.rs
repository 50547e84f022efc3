//! ptl's cluster mode: many agents generate one run's load, coordinated through Apache ZooKeeper.
//!
//! The folders are the protocol's sides: [`client`] is what `ptl submit`, `ptl status`,
//! `ptl stop`, `ptl pause` and `ptl resume` do; [`coordinator`] elects a leader that assigns
//! runs, supervises them and merges the agents' deltas into the result; [`agent`] registers,
//! takes its share and runs the engine; [`run`] and [`plan_store`] are the records they share
//! (a run's spec and state, its assignment and pauses; the plans); [`zk`] is the ZooKeeper
//! underneath (connection, the znode layout, chunks, watches, clock offsets). [`observe`] is
//! the cluster as a reader outside the coordinator sees it (the dashboard): runs, their state
//! and deltas, and the operator's controls, in typed values with the layout kept inside. See
//! `docs/cluster.md` for how it works and the znode layout.

pub mod access;
pub mod agent;
pub mod client;
pub mod coordinator;
pub mod error;
pub mod ids;
pub mod observe;
pub mod plan_store;
pub mod run;
pub mod signing;
pub mod sim;
pub mod zk;

pub use error::ClusterError;
/// What stops a coordinator or an agent (`run_coordinator`, `Agent::serve`): one token per
/// process, cancelled by its shutdown signal.
pub use tokio_util::sync::CancellationToken;
