//! Hand-built plans for tests of the crates below the compiler (engine, report, cluster): one
//! `GET /` request in phases made here.

use ptl_bytecode::{Load, Phase, Plan, Think};

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

pub const SECOND: u64 = 1_000_000;

pub fn rate(name: &str, per_sec: f64, secs: f64) -> Phase {
    Phase::new(
        name,
        Load::Rate {
            per_sec,
            duration_us: (secs * SECOND as f64) as u64,
        },
    )
}

/// A closed-model phase: `users` sending back to back (no think time) for `secs`.
pub fn users(name: &str, users: u32, secs: f64) -> Phase {
    Phase::new(
        name,
        Load::Users {
            users,
            duration_us: (secs * SECOND as f64) as u64,
            think: Think::NONE,
        },
    )
}

/// A plan for the engine's tests: one top-level request `hit` (GET /) and the given phases.
pub fn plan(target: &str, phases: Vec<Phase>) -> Plan {
    Plan {
        timeout_us: 2 * SECOND,
        connections: 32,
        seed: 7,
        max_inflight: 1000,
        ..Plan::get_root("test", target, "hit", phases)
    }
}
