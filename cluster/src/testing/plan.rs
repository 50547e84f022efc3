//! Hand-built plans for tests (the cluster crate has no compiler): one `GET /` in one
//! open-model phase, which is all the cluster's tests need of a plan.

use ptl_bytecode::{Arrivals, ConstId, Load, Overflow, Phase, Plan, Request, Scenario};

/// Where nothing listens: for plans that are stored, assigned or merged but never sent.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// One scenario of one `GET /` against `target`, in one uniform `rate per_sec/s` phase of
/// `duration_us`; one connection, at most 10 in flight, a 1 s timeout. A test that needs other
/// settings sets them with `Plan { .., ..one_request(..) }`.
pub fn one_request(target: &str, per_sec: f64, duration_us: u64) -> Plan {
    Plan {
        name: "one-request".into(),
        target: target.into(),
        timeout_us: 1_000_000,
        connections: 1,
        seed: 1,
        max_inflight: 10,
        overflow: Overflow::Drop,
        http: ptl_bytecode::HttpVersion::Http1,
        params: vec![],
        consts: vec![b"/".to_vec()],
        datasets: vec![],
        vars: vec![],
        headers: vec![],
        scenarios: vec![Scenario::single(Request::get("home", ConstId(0)))],
        phases: vec![Phase {
            name: "steady".into(),
            load: Load::Rate {
                per_sec,
                duration_us,
            },
            arrivals: Arrivals::Uniform,
            max_inflight: None,
            overflow: None,
            injections: vec![],
            mix: None,
        }],
        thresholds: vec![],
    }
}
