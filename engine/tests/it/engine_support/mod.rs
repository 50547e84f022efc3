//! Shared by the engine tests: builders for hand-made plans, on top of the workspace's test
//! support (the counting HTTP server, the TLS acceptor).
#![allow(dead_code)]

pub mod faults;
pub mod outcomes;

pub use ptl_test_support::counting_server::{dead_address, server, TestServer};
pub use ptl_test_support::listen::listen;
pub use ptl_test_support::plans::{plan, rate, users, SECOND};
pub use ptl_test_support::tls;

use ptl_bytecode::plan::*;
use std::sync::{Mutex, MutexGuard};

/// Engine tests measure rates and latencies: run them one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn threshold(
    expr: &str,
    scope: Scope,
    metric: Metric,
    cmp: Cmp,
    value: f64,
    abort: bool,
) -> Threshold {
    Threshold {
        expr: expr.into(),
        scope,
        metric,
        cmp,
        value,
        abort,
    }
}
