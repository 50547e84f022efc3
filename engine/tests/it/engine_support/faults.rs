//! The fault-injection run the protocol tests (HTTPS, HTTP/2) put through their servers: a plan
//! injecting one of each fault kind, and the checks that each kind happened and that what
//! reaches the server (headers, malformed bodies) reached it.

use super::{plan, rate};
use ptl_bytecode::plan::{ConstId, Fault, Injection, Plan, Ppm};
use ptl_engine::result::PhaseResult;

/// A plan against `target` whose one phase, `chaos` at `per_sec` for `secs`, injects every
/// fault kind: resets at `reset`, and aborts, malformed bodies, 2 ms delays and the header
/// `x-fault: 503` at 10 % each.
pub fn every_fault_plan(target: &str, per_sec: f64, secs: f64, reset: Ppm) -> Plan {
    let mut phase = rate("chaos", per_sec, secs);
    let fault = |fault, ppm| Injection {
        fault,
        share: Ppm(ppm),
    };
    phase.injections = vec![
        Injection {
            fault: Fault::Reset,
            share: reset,
        },
        fault(Fault::Abort, 100_000),
        fault(Fault::Corrupt, 100_000),
        fault(Fault::Delay { us: 2_000 }, 100_000),
        fault(
            Fault::Header {
                name: ConstId(1),
                value: ConstId(2),
            },
            100_000,
        ),
    ];
    let mut p = plan(target, vec![phase]);
    p.consts.push(b"x-fault".to_vec());
    p.consts.push(b"503".to_vec());
    p
}

/// Every arrival of `ph` (the phase of an [`every_fault_plan`]) ended, none as an error, every
/// fault kind was injected, and the server saw exactly the injected `x-fault` headers and
/// malformed bodies.
#[track_caller]
pub fn assert_every_fault_injected(ph: &PhaseResult, fault_headers: u64, corrupt_bodies: u64) {
    assert_eq!(ph.request_count, ph.planned, "every arrival ended somehow");
    assert_eq!(
        ph.errors, 0,
        "injected faults are not errors: {:?}",
        ph.errors_by_class
    );
    for kind in ["reset", "abort", "corrupt", "delay", "header"] {
        assert!(injected(ph, kind) > 0, "{kind} injected: {:?}", ph.injected);
    }
    assert_eq!(fault_headers, injected(ph, "header"));
    assert_eq!(corrupt_bodies, injected(ph, "corrupt"));
}

/// How many requests of `ph` carried the fault `kind`.
pub fn injected(ph: &PhaseResult, kind: &str) -> u64 {
    *ph.injected.get(kind).unwrap_or(&0)
}
