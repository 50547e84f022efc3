//! The cluster against a real ZooKeeper: registry, clock offsets, whole runs, election, the
//! observer, pauses, the plan store, refusals, SASL and TLS sessions, and the harness itself.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod agent_registry;
mod clock;
mod cluster_run;
mod common;
mod election;
mod observe;
mod pause;
mod plan_store;
mod refusals;
mod secure_session;
mod zk_harness;
