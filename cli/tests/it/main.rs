//! The `ptl` binary end to end: real targets, a real ZooKeeper, the real command with its flags,
//! output and exit statuses (`cli`, `run`, `https`, `http2`, `cluster`, `dashboard`, `analyze`),
//! and what `ptl check` accepts against what the engine sends (`paths`).
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own file under the repository's `tests/`.

mod analyze;
mod cli;
mod cluster;
mod cluster_faults;
mod cluster_footprint;
mod cluster_policy;
mod cluster_security;
mod dashboard;
mod data;
mod hosts;
mod http2;
mod https;
mod paths;
mod run;
mod support;
