//! ptl-dashboard: the live dashboard of `ptl run --dashboard` and `ptl coordinator --http`.
//!
//! A [`hub::Hub`] holds every run the dashboard knows, fed by [`local`] (this process's
//! engine) or [`cluster_feed`] (a cluster's runs in ZooKeeper); [`server`] serves the page
//! ([`page`], live over Server-Sent Events: [`sse`]), the runs API ([`api`]) with
//! the capacity analysis of finished runs ([`capacity`]), control ([`access`]
//! decides who may, [`origin`] refuses other sites) and Prometheus metrics ([`metrics`]), routed
//! by [`routes`], over HTTPS with a [`tls::ServerTls`].

pub mod access;
pub mod api;
pub mod capacity;
pub mod cluster_feed;
pub mod control;
pub mod cursor;
pub mod error;
pub mod hub;
pub mod launch;
pub mod live_run;
pub mod local;
pub mod metrics;
pub mod model;
pub mod origin;
pub mod page;
pub mod reply;
pub mod routes;
pub mod server;
pub mod sse;
#[cfg(test)]
mod test_plan;
pub mod tls;

pub use error::DashboardError;
pub use hub::Hub;
pub use server::{serve, DashboardServer, Limits, ServerConfig};
