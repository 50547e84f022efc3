//! Think times end to end against a real server on 127.0.0.1: closed-model users thinking a
//! uniform range or an exponential time, and a scenario with an exponential think step, run and
//! complete. The distributions themselves are checked on seeded draws (`vm::think`), not by
//! timing a run.

use crate::engine_support::*;
use ptl_bytecode::plan::*;
use ptl_engine::{run_blocking, RunOptions};
use std::sync::atomic::Ordering;

fn opts() -> RunOptions {
    RunOptions {
        workers: Some(2),
        ..RunOptions::default()
    }
}

fn closed(name: &str, think: Think) -> Phase {
    Phase::new(
        name,
        Load::Users {
            users: 4,
            duration_us: SECOND / 2,
            think,
        },
    )
}

#[test]
fn closed_users_with_ranged_and_exponential_think_times_run_and_complete() {
    let _serial = serial();
    let srv = server();
    let ranged = closed(
        "ranged",
        Think::Uniform {
            min_us: 2_000,
            max_us: 6_000,
        },
    );
    let bursty = closed("bursty", Think::Exponential { mean_us: 4_000 });
    let out = run_blocking(&plan(&srv.url(), vec![ranged, bursty]), opts()).expect("runs");
    let r = &out.result;
    assert!(!r.stopped_early);
    for p in &r.phases {
        assert_eq!(p.errors, 0, "{}: {:?}", p.name, p.errors_by_class);
        assert!(p.request_count >= 4, "{}: {}", p.name, p.request_count);
    }
    // A user that pauses at least 2 ms after each iteration starts at most 251 in 0.5 s: a
    // bound by construction, whatever the machine's speed (back to back, loopback answers
    // tens of thousands).
    assert!(
        r.phases[0].request_count <= 4 * 251,
        "{}",
        r.phases[0].request_count
    );
    // 500 exponential pauses of mean 4 ms add up to 2 s, give or take 0.1 s: 4 users cannot
    // fit 2,000 iterations in 0.5 s.
    assert!(
        r.phases[1].request_count < 2_000,
        "{}",
        r.phases[1].request_count
    );
    let sent: u64 = r.phases.iter().map(|p| p.request_count).sum();
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), sent);
}

#[test]
fn a_scenario_with_an_exponential_think_step_completes_its_iterations() {
    let _serial = serial();
    let srv = server();
    let mut p = plan(&srv.url(), vec![rate("open", 40.0, 0.5)]);
    p.scenarios = vec![Scenario {
        name: "browse".into(),
        weight: 1,
        single_request: false,
        cookies: false,
        registers: 0,
        steps: vec![
            Step::Request(Request::get("home", ConstId(0))),
            Step::Think(Think::Exponential { mean_us: 5_000 }),
            Step::Request(Request::get("again", ConstId(0))),
        ],
    }];
    let out = run_blocking(&p, opts()).expect("runs");
    let s = &out.result.phases[0].scenarios[0];
    assert!((19..=21).contains(&s.iterations), "{}", s.iterations);
    assert_eq!((s.completed, s.failed), (s.iterations, 0));
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), 2 * s.iterations);
}
