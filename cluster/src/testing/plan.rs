//! Hand-built plans for tests (the cluster crate has no compiler): one `GET /` in one
//! open-model phase, which is all the cluster's tests need of a plan.

use ptl_bytecode::{Load, Phase, Plan};

/// Where nothing listens: for plans that are stored, assigned or merged but never sent.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// One scenario of one `GET /` against `target`, in one uniform `rate per_sec/s` phase of
/// `duration_us`; one connection, at most 10 in flight, a 1 s timeout. A test that needs other
/// settings sets them with `Plan { .., ..one_request(..) }`.
pub fn one_request(target: &str, per_sec: f64, duration_us: u64) -> Plan {
    let steady = Phase::new(
        "steady",
        Load::Rate {
            per_sec,
            duration_us,
        },
    );
    Plan {
        seed: 1,
        ..Plan::get_root("one-request", target, "home", vec![steady])
    }
}
