//! The built-in demo HTTP target (`ptl demo-target`): a small, fast axum server on 127.0.0.1
//! that plans can be tried against without any other service.
//!
//! It answers every path with a small JSON body after a configured latency, fails a seeded,
//! reproducible share of requests with 500, honours Envoy's fault headers
//! (`x-envoy-fault-abort-request`, `x-envoy-fault-delay-request`) and runs a tiny stateful shop
//! (`POST /login`, `GET /cart`, `POST /pay/{etag}`) for scenario plans. `GET /seq/{n}` remembers
//! the number `n`, so `/stats` can say whether a plan's `seq()` values ever repeated.
//! `GET /health` and `GET /stats` are control endpoints: answered at once and never counted.
//! With a capacity (`--capacity R/s`) it behaves as a server of that throughput: latency rises
//! as the rate nears it and the excess is shed with 503.

mod capacity;
mod config;
mod error;
mod faults;
mod responses;
mod routes;
mod server;
mod shop;
mod stats;

pub use config::DemoTargetConfig;
pub use error::DemoTargetError;
pub use server::{serve, DemoTarget};
pub use stats::StatsSnapshot;
