//! The `ptl` binary end to end: real targets, a real ZooKeeper, the real command with its flags,
//! output and exit statuses (`cli`, `run`, `https`, `http2`, `cluster`, `dashboard`, `dashboard_secure`, `analyze`, `demo`),
//! traffic realism (`traffic`: request logs, `compare`, `plan-from-log`), the per-second
//! HdrHistogram log (`hdr_log`), targets read from the environment (`target_env`),
//! and what `ptl check` accepts against what the engine sends (`paths`).
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own file under the repository's `tests/`.

mod analyze;
mod cli;
mod cluster;
mod cluster_access;
mod cluster_faults;
mod cluster_footprint;
mod cluster_policy;
mod cluster_sasl;
mod cluster_scale;
mod cluster_security;
mod cluster_tls;
mod dashboard;
mod dashboard_secure;
mod data;
mod demo;
mod hdr_log;
mod hosts;
mod http2;
mod https;
mod paths;
mod run;
mod support;
mod target_env;
mod traffic;
