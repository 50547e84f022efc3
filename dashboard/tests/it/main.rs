//! The dashboard served for real: its API, its limits, HTTPS, the page in headless Chromium, and a
//! cluster's dashboard.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod api;
mod browser;
mod cluster;
mod common;
mod limits;
mod tls;
