//! ptl's cluster mode: many agents generate one run's load, coordinated through Apache ZooKeeper.
//!
//! See `docs/cluster.md` for how it works and the znode layout.

pub mod agent;
pub mod agent_registry;
pub mod assignment;
pub mod chunks;
pub mod clock;
pub mod coordinator;
pub mod dashboards;
pub mod election;
pub mod error;
mod follow;
pub mod ids;
pub mod joining;
pub mod layout;
pub mod merged_record;
pub mod merged_windows;
mod node_watch;
pub mod pauses;
pub mod plan_store;
pub mod result;
pub mod run;
pub mod runtime_engine;
pub mod share_follower;
pub mod status;
pub mod submit;
pub mod zk;
pub mod zk_coordination;

#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;

pub use error::ClusterError;
