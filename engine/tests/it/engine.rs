//! The engine against real HTTP servers on 127.0.0.1: rates, ramps, coordinated omission,
//! failure injection, dead targets, thresholds and stopping. Loads are small and short; the
//! assertions are on counts (exact by construction) or on wide latency margins.

use crate::engine_support::*;
use ptl_bytecode::plan::*;
use ptl_engine::coordination::stop_channel;
use ptl_engine::{run_blocking, RunOptions};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn opts() -> RunOptions {
    RunOptions {
        workers: Some(2),
        ..RunOptions::default()
    }
}

#[test]
fn an_open_rate_sends_exactly_the_planned_arrivals() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 500.0, 2.0)]);
    let out = run_blocking(&plan, opts()).expect("runs");
    let r = &out.result;
    let p = &r.phases[0];
    // Uniform arrivals at 500/s for 2 s: 1000 planned, all sent, all answered.
    assert!((999..=1001).contains(&p.planned), "planned {}", p.planned);
    assert_eq!(p.dropped, 0);
    assert_eq!(p.request_count, p.planned);
    assert_eq!(p.errors, 0, "{:?}", p.errors_by_class);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), p.request_count);
    assert!((p.target_rps - 500.0).abs() < 1e-6);
    assert!(
        (p.achieved_rps - 500.0).abs() < 5.0,
        "achieved {}",
        p.achieved_rps
    );
    // A rate that is kept goes out within the phase (the last arrival is 2 ms before its
    // end: a few may miss it on a busy machine, no more).
    assert!(p.sent_after_end <= 5, "sent after end {}", p.sent_after_end);
    assert_eq!(
        p.achieved_rps,
        (p.request_count - p.sent_after_end) as f64 / p.duration_s
    );
    assert_eq!(p.requests.len(), 1);
    assert_eq!(
        p.requests[0].status_codes.get("200"),
        Some(&p.request_count)
    );
    assert!(!r.stopped_early);
    assert_eq!(r.total.requests, p.request_count);
    assert_eq!(r.plan_hash.len(), 64);
}

#[test]
fn a_ramp_follows_its_shape_second_by_second() {
    let _serial = serial();
    let srv = server();
    let mut ramp = rate("ramp", 0.0, 0.0);
    ramp.load = Load::Ramp {
        from: 0.0,
        to: 600.0,
        duration_us: 3 * SECOND,
    };
    let out = run_blocking(&plan(&srv.url(), vec![ramp]), opts()).expect("runs");
    let r = &out.result;
    // ∫ 200 t dt over each second: 100, 300, 500; total 900.
    assert!((899..=901).contains(&r.phases[0].planned));
    let counts: Vec<f64> = r.series.iter().take(3).map(|p| p.achieved_rps).collect();
    assert_eq!(counts.len(), 3, "{:?}", r.series);
    for (got, want) in counts.iter().zip([100.0, 300.0, 500.0]) {
        // Window edges are the orchestrator's ticks, a few ms off the schedule's seconds.
        assert!((got - want).abs() <= want * 0.1 + 10.0, "series {counts:?}");
    }
    assert!(counts[0] < counts[1] && counts[1] < counts[2]);
    assert!(r.series[1].target_rps > 250.0 && r.series[1].target_rps < 350.0);
}

#[test]
fn a_stalled_target_shows_in_response_time_but_not_in_service_time() {
    let _serial = serial();
    let srv = server();
    let mut p = plan(&srv.url(), vec![rate("steady", 1000.0, 3.0)]);
    // Few connections: only the handful of requests on the wire when the target stalls have
    // a long service time; everything behind them waits in the client for a connection.
    p.connections = 8;
    p.max_inflight = 10_000;
    p.overflow = Overflow::Queue;
    p.timeout_us = 5 * SECOND;
    srv.stall(Duration::from_millis(1000), Duration::from_millis(1000));
    let out = run_blocking(&p, opts()).expect("runs");
    let ph = &out.result.phases[0];
    assert_eq!(ph.errors, 0, "{:?}", ph.errors_by_class);
    assert_eq!(ph.dropped, 0);
    assert!(
        (2999..=3001).contains(&ph.request_count),
        "{}",
        ph.request_count
    );
    assert!(
        ph.response_time_ms.expect("samples").p99 > 600.0,
        "response p99 {} should show the 1 s stall",
        ph.response_time_ms.expect("samples").p99
    );
    assert!(
        ph.service_time_ms.expect("samples").p99 < 250.0,
        "service p99 {} should not",
        ph.service_time_ms.expect("samples").p99
    );
    // They wait for a connection, not for the generator: counted as connection waits, and
    // not in the schedule lag (which ends when the generator gets to a request).
    let load = &out
        .result
        .generator
        .as_ref()
        .expect("generator load")
        .summary;
    assert!(
        load.pool_waits >= 500 && load.pool_wait_ms_mean > 200.0,
        "{load:?}"
    );
    assert!(
        ph.schedule_lag_ms.expect("samples").p50 < 50.0,
        "lag p50 {}",
        ph.schedule_lag_ms.expect("samples").p50
    );
    assert!(
        ph.service_time_ms.expect("samples").max > 600.0,
        "the stalled requests themselves were slow"
    );
}

#[test]
fn injected_faults_follow_their_shares_and_are_not_errors() {
    let _serial = serial();
    let srv = server();
    let mut phase = rate("chaos", 1000.0, 2.0);
    phase.injections = vec![
        Injection {
            fault: Fault::Abort,
            share: Ppm(200_000),
        },
        Injection {
            fault: Fault::Reset,
            share: Ppm(100_000),
        },
        Injection {
            fault: Fault::Header {
                name: ConstId(1),
                value: ConstId(2),
            },
            share: Ppm(100_000),
        },
        Injection {
            fault: Fault::Delay { us: 2_000 },
            share: Ppm(100_000),
        },
    ];
    let mut p = plan(&srv.url(), vec![phase]);
    p.consts.push(b"x-fault".to_vec());
    p.consts.push(b"503".to_vec());
    let out = run_blocking(&p, opts()).expect("runs");
    let ph = &out.result.phases[0];
    let n = ph.planned as f64;
    assert!((1999..=2001).contains(&ph.planned));
    assert_eq!(ph.request_count, ph.planned, "every arrival ended somehow");
    assert_eq!(
        ph.errors, 0,
        "injected faults are not errors: {:?}",
        ph.errors_by_class
    );
    let got = |k: &str| *ph.injected.get(k).unwrap_or(&0) as f64;
    for (kind, share) in [
        ("abort", 0.2),
        ("reset", 0.1),
        ("header", 0.1),
        ("delay", 0.1),
    ] {
        let sd = (n * share * (1.0 - share)).sqrt();
        assert!(
            (got(kind) - n * share).abs() < 5.0 * sd,
            "{kind}: {} of {n}",
            got(kind)
        );
    }
    let headers = srv.state.fault_headers.load(Ordering::Relaxed) as f64;
    assert_eq!(
        headers,
        got("header"),
        "the server saw each injected header"
    );
    // Organic requests are the only ones in the latency histograms.
    let organic = n - got("abort") - got("reset") - got("header") - got("delay");
    let hist =
        ptl_engine::result::summarize::response_histogram(&out.recorded, &out.layout, Some(0));
    assert_eq!(hist.len() as f64, organic);
}

#[test]
fn a_refused_connection_counts_connect_errors_and_finishes() {
    let _serial = serial();
    let p = plan(&dead_address(), vec![rate("dead", 100.0, 1.0)]);
    let began = Instant::now();
    let out = run_blocking(&p, opts()).expect("runs");
    assert!(began.elapsed() < Duration::from_secs(10));
    let ph = &out.result.phases[0];
    assert!((99..=101).contains(&ph.planned));
    assert_eq!(ph.request_count, ph.planned);
    assert_eq!(ph.errors, ph.planned);
    assert_eq!(ph.errors_by_class.get("connect"), Some(&ph.planned));
    assert_eq!(
        ph.response_time_ms, None,
        "no response time without a connection"
    );
}

#[test]
fn an_abort_threshold_stops_the_run_early() {
    let _serial = serial();
    let srv = server();
    srv.state.status.store(500, Ordering::Relaxed);
    let mut p = plan(&srv.url(), vec![rate("failing", 100.0, 20.0)]);
    p.thresholds = vec![threshold(
        "error_rate < 1%",
        Scope::All,
        Metric::ErrorRate,
        Cmp::Lt,
        0.01,
        true,
    )];
    let began = Instant::now();
    let out = run_blocking(&p, opts()).expect("runs");
    let r = &out.result;
    assert!(r.stopped_early);
    assert!(
        r.stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("error_rate < 1%"),
        "{:?}",
        r.stop_reason
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "stopped long before the 20 s phase ended"
    );
    assert!(r.duration_s < 10.0);
    assert!(r.phases[0].planned < 1000);
    assert!(!r.thresholds[0].passed);
    assert_eq!(r.thresholds[0].actual, Some(1.0));
    assert_eq!(
        r.phases[0].errors_by_class.get("status"),
        Some(&r.phases[0].request_count)
    );
}

#[test]
fn a_stop_signal_returns_partial_results() {
    let _serial = serial();
    let srv = server();
    let p = plan(
        &srv.url(),
        vec![rate("long", 200.0, 30.0), rate("never", 200.0, 5.0)],
    );
    let (handle, signal) = stop_channel();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        handle.stop("ctrl-c");
    });
    let out = run_blocking(
        &p,
        RunOptions {
            stop: Some(signal),
            ..opts()
        },
    )
    .expect("runs");
    stopper.join().expect("stopper");
    let r = &out.result;
    assert!(r.stopped_early);
    assert_eq!(r.stop_reason.as_deref(), Some("ctrl-c"));
    assert!(r.duration_s > 1.0 && r.duration_s < 5.0, "{}", r.duration_s);
    let first = &r.phases[0];
    assert!(
        first.planned > 150 && first.planned < 1000,
        "{}",
        first.planned
    );
    assert_eq!(first.request_count + first.dropped, first.planned);
    assert_eq!(r.phases[1].planned, 0);
    assert_eq!(r.phases[1].duration_s, 0.0);
}

#[test]
fn thresholds_pass_and_fail_on_the_measured_values() {
    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(5_000, Ordering::Relaxed);
    let mut p = plan(&srv.url(), vec![rate("base", 100.0, 1.0)]);
    p.thresholds = vec![
        threshold(
            "p99 < 1s",
            Scope::All,
            Metric::Percentile(99.0),
            Cmp::Lt,
            1e6,
            false,
        ),
        threshold(
            "base.p50 > 1s",
            Scope::Phase(0),
            Metric::Percentile(50.0),
            Cmp::Gt,
            1e6,
            false,
        ),
        threshold(
            "hit.error_rate < 1%",
            Scope::Scenario(0),
            Metric::ErrorRate,
            Cmp::Lt,
            0.01,
            false,
        ),
        threshold(
            "base.achieved_rate > 95%",
            Scope::Phase(0),
            Metric::AchievedRate,
            Cmp::Gt,
            0.95,
            false,
        ),
        threshold("max < 1ms", Scope::All, Metric::Max, Cmp::Lt, 1000.0, false),
    ];
    let out = run_blocking(&p, opts()).expect("runs");
    let t = &out.result.thresholds;
    let passed: Vec<bool> = t.iter().map(|t| t.passed).collect();
    assert_eq!(passed, vec![true, false, true, true, false], "{t:?}");
    let p50 = t[1].actual.expect("measured");
    assert!(
        (5.0..1000.0).contains(&p50),
        "p50 {p50} ms includes the 5 ms delay"
    );
    assert_eq!(t[2].actual, Some(0.0));
    // Arrivals sent within the phase over those planned (every one of them but, on a busy
    // machine, the last few).
    let ph = &out.result.phases[0];
    assert_eq!(
        t[3].actual,
        Some((ph.planned - ph.sent_after_end) as f64 / ph.planned as f64)
    );
    assert!(t[4].actual.expect("measured") >= 5.0);
}

#[test]
fn a_rate_that_cannot_be_kept_is_reported_not_hidden() {
    let _serial = serial();
    let srv = server();
    // Two connections, each busy at least 20 ms per request: no more than 102 requests can go
    // out in the phase's second, against 200 planned. Under `overflow queue` the rest wait
    // and go out after the phase's end.
    srv.state.delay_us.store(20_000, Ordering::Relaxed);
    let mut p = plan(&srv.url(), vec![rate("over", 200.0, 1.0)]);
    p.connections = 2;
    p.overflow = Overflow::Queue;
    p.timeout_us = 5 * SECOND;
    let achieved =
        |expr: &str, scope| threshold(expr, scope, Metric::AchievedRate, Cmp::Gt, 0.99, false);
    p.thresholds = vec![
        achieved("over.achieved_rate > 99%", Scope::Phase(0)),
        achieved("hit.achieved_rate > 99%", Scope::Scenario(0)),
        achieved("achieved_rate > 99%", Scope::All),
    ];
    let out = run_blocking(&p, opts()).expect("runs");
    let r = &out.result;
    let ph = &r.phases[0];
    assert!((199..=201).contains(&ph.planned), "planned {}", ph.planned);
    // Every arrival was sent in the end, none dropped, none failed...
    assert_eq!((ph.dropped, ph.errors), (0, 0), "{:?}", ph.errors_by_class);
    assert_eq!(ph.request_count, ph.planned);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), ph.request_count);
    // ...but about half of them after the phase's end, and those are not the rate achieved.
    assert!(
        ph.sent_after_end + 102 >= ph.planned,
        "sent after the end {} of {}",
        ph.sent_after_end,
        ph.planned
    );
    let in_time = ph.planned - ph.sent_after_end;
    assert_eq!(ph.achieved_rps, in_time as f64 / ph.duration_s);
    assert!(
        ph.achieved_rps < 0.6 * ph.target_rps,
        "achieved {} of {}",
        ph.achieved_rps,
        ph.target_rps
    );
    let req = &ph.requests[0];
    assert_eq!(
        (req.requests, req.sent_after_end),
        (ph.request_count, ph.sent_after_end)
    );
    assert_eq!(req.achieved_rps, ph.achieved_rps);
    assert_eq!(r.total.sent_after_end, ph.sent_after_end);
    assert_eq!(r.total.achieved_rps, in_time as f64 / r.duration_s);
    // `achieved_rate > 99%` fails, on the rate held within the phase, in every scope.
    let share = in_time as f64 / ph.planned as f64;
    for t in &r.thresholds {
        assert!(!t.passed, "{t:?}");
        assert_eq!(t.actual, Some(share), "{t:?}");
    }
}

#[test]
fn overflow_drop_counts_every_arrival_that_found_no_slot() {
    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(100_000, Ordering::Relaxed);
    let mut p = plan(&srv.url(), vec![rate("tight", 200.0, 1.0)]);
    p.max_inflight = 4;
    let out = run_blocking(&p, opts()).expect("runs");
    let ph = &out.result.phases[0];
    assert!(
        ph.dropped > 50,
        "4 slots of 100 ms cannot take 200/s: dropped {}",
        ph.dropped
    );
    assert_eq!(
        ph.request_count + ph.dropped,
        ph.planned,
        "nothing is silently skipped"
    );
    assert!(ph.achieved_rps < 100.0);
    let rate = ptl_engine::result::thresholds::measure(
        &out.layout,
        &out.recorded,
        Scope::Phase(0),
        Metric::DroppedRate,
    )
    .expect("measured");
    assert!((rate - ph.dropped as f64 / ph.planned as f64).abs() < 1e-9);
}

#[test]
fn closed_users_send_back_to_back() {
    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(2_000, Ordering::Relaxed);
    let users = users("users", 4, 1.0);
    let out = run_blocking(&plan(&srv.url(), vec![users]), opts()).expect("runs");
    let ph = &out.result.phases[0];
    assert_eq!(ph.planned, 0);
    assert_eq!(ph.target_rps, 0.0);
    assert_eq!(ph.errors, 0);
    // 4 users × 1 s / (≥ 2 ms per request): at most 2000, and surely more than a few dozen.
    assert!(
        ph.request_count > 50 && ph.request_count <= 2000,
        "{}",
        ph.request_count
    );
    assert!(ph.service_time_ms.expect("samples").p50 >= 2.0);
}

#[test]
fn a_failed_step_ends_its_iteration_and_skips_the_rest() {
    let _serial = serial();
    let srv = server();
    let mut p = plan(&srv.url(), vec![rate("journey", 50.0, 1.0)]);
    p.consts = vec![b"/login".to_vec(), b"/fail".to_vec(), b"/never".to_vec()];
    p.scenarios = vec![Scenario {
        name: "buy".into(),
        weight: 1,
        single_request: false,
        cookies: false,
        registers: 0,
        steps: vec![
            Step::Request(Request::get("login", ConstId(0))),
            Step::Think(Think::Uniform {
                min_us: 1_000,
                max_us: 2_000,
            }),
            Step::Request(Request::get("pay", ConstId(1))),
            Step::Request(Request::get("done", ConstId(2))),
        ],
    }];
    let out = run_blocking(&p, opts()).expect("runs");
    let ph = &out.result.phases[0];
    assert_eq!(ph.scenarios.len(), 1);
    let s = &ph.scenarios[0];
    assert!((49..=51).contains(&s.iterations));
    assert_eq!((s.completed, s.failed), (0, s.iterations));
    let names: Vec<&str> = s.steps.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["buy.login", "buy.pay", "buy.done"]);
    assert_eq!(s.steps[0].requests, s.iterations);
    assert_eq!(s.steps[0].errors, 0);
    assert_eq!(
        s.steps[1].errors_by_class.get("status"),
        Some(&s.iterations)
    );
    assert_eq!((s.steps[2].requests, s.steps[2].skipped), (0, s.iterations));
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), 2 * s.iterations);
    // The second step is intended when the first ended plus the think time.
    assert!(s.steps[1].schedule_lag_ms.expect("samples").p50 < 50.0);
}

#[test]
fn a_slow_target_gives_timeouts_measured_at_the_timeout() {
    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(1_000_000, Ordering::Relaxed);
    let mut p = plan(&srv.url(), vec![rate("slow", 20.0, 1.0)]);
    p.timeout_us = 200_000;
    let out = run_blocking(&p, opts()).expect("runs");
    let ph = &out.result.phases[0];
    assert!((19..=21).contains(&ph.planned));
    assert_eq!(ph.errors_by_class.get("timeout"), Some(&ph.planned));
    let rt = ph.response_time_ms.expect("timed-out requests are timed");
    assert!(
        rt.p50 >= 199.0 && rt.max < 1000.0,
        "timed out at the timeout: {rt:?}"
    );
}

#[test]
fn an_unresolvable_host_counts_connect_errors_and_finishes() {
    let _serial = serial();
    let mut p = plan(
        "http://no-such-host.invalid:8080",
        vec![rate("nowhere", 20.0, 1.0)],
    );
    p.timeout_us = 500_000;
    let began = Instant::now();
    let out = run_blocking(&p, opts()).expect("runs");
    assert!(began.elapsed() < Duration::from_secs(10));
    let ph = &out.result.phases[0];
    assert_eq!(ph.errors_by_class.get("connect"), Some(&ph.planned));
    assert_eq!(ph.request_count, ph.planned);
    // Nothing reached the wire, so nothing was timed: no latency, rather than 0 ms.
    assert_eq!(ph.response_time_ms, None);
    let json = serde_json::to_value(&out.result).expect("serialises");
    assert!(json["phases"][0]["response_time_ms"].is_null(), "{json}");
}

#[test]
fn progress_arrives_every_second_with_the_phase_and_rates() {
    use std::sync::{Arc, Mutex};
    let _serial = serial();
    let srv = server();
    let seen: Arc<Mutex<Vec<ptl_engine::Progress>>> = Arc::default();
    let sink = seen.clone();
    let out = run_blocking(
        &plan(&srv.url(), vec![rate("steady", 200.0, 2.5)]),
        RunOptions {
            progress: Some(Box::new(move |p| {
                sink.lock().expect("lock").push(p.clone())
            })),
            ..opts()
        },
    )
    .expect("runs");
    let seen = seen.lock().expect("lock");
    assert!(seen.len() >= 3, "{} snapshots", seen.len());
    assert_eq!(seen[0].phase.as_deref(), Some("steady"));
    assert!((seen[0].target_rps - 200.0).abs() < 1e-6);
    assert!(
        (seen[0].achieved_rps - 200.0).abs() < 25.0,
        "{}",
        seen[0].achieved_rps
    );
    assert!(seen[0].phase_left > Duration::from_millis(1000));
    assert!(seen
        .windows(2)
        .all(|w| w[0].requests <= w[1].requests && w[0].elapsed < w[1].elapsed));
    let last = seen.last().expect("one");
    assert_eq!(last.requests, out.result.total.requests);
}

/// The second a phase begins is mostly the previous phase's: the progress shown beside the new
/// phase's name carries the new phase's rates, not the old one's.
#[test]
fn progress_at_a_phase_boundary_shows_the_new_phases_rates() {
    use std::sync::{Arc, Mutex};
    let _serial = serial();
    let srv = server();
    let seen: Arc<Mutex<Vec<ptl_engine::Progress>>> = Arc::default();
    let sink = seen.clone();
    run_blocking(
        &plan(
            &srv.url(),
            vec![rate("slow", 50.0, 1.5), rate("fast", 400.0, 1.5)],
        ),
        RunOptions {
            progress: Some(Box::new(move |p| {
                sink.lock().expect("lock").push(p.clone())
            })),
            ..opts()
        },
    )
    .expect("runs");
    let seen = seen.lock().expect("lock");
    // The snapshot at 2 s: `fast` began at 1.5 s, half-way through that second.
    let first_fast = seen
        .iter()
        .find(|p| p.phase.as_deref() == Some("fast"))
        .expect("a snapshot in `fast`");
    assert!(
        (first_fast.target_rps - 400.0).abs() < 1e-6,
        "{first_fast:?}"
    );
    // The whole second's arrivals over the whole second would read 225/s.
    assert!(
        (first_fast.achieved_rps - 400.0).abs() < 80.0,
        "{first_fast:?}"
    );
}

#[test]
fn shipped_interval_deltas_add_up_to_the_run_exactly() {
    use ptl_engine::coordination::{BoxFuture, Coordination};
    use ptl_engine::record::{decode_delta, encode_delta, merge_delta, IntervalDelta, Recorded};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Shipping {
        deltas: Mutex<Vec<Vec<u8>>>,
    }
    impl Coordination for Shipping {
        fn share(&self) -> ptl_engine::vm::AgentShare {
            ptl_engine::vm::AgentShare::solo()
        }
        fn start(&self) -> BoxFuture<'_, Result<Instant, ptl_engine::error::RuntimeError>> {
            let at = Instant::now() + Duration::from_millis(50);
            Box::pin(async move { Ok(at) })
        }
        fn stopped(&self) -> BoxFuture<'_, String> {
            Box::pin(std::future::pending())
        }
        fn report(&self, delta: &IntervalDelta) {
            let bytes = encode_delta(delta).expect("encodes");
            self.deltas.lock().expect("lock").push(bytes);
        }
    }

    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(1_000, Ordering::Relaxed);
    let shipping = Arc::new(Shipping::default());
    let out = run_blocking(
        &plan(
            &srv.url(),
            vec![rate("a", 300.0, 1.0), rate("b", 150.0, 1.5)],
        ),
        RunOptions {
            coordination: Some(shipping.clone()),
            ..opts()
        },
    )
    .expect("runs");
    let (p, r, s) = out.recorded.dims();
    let mut merged = Recorded::new(p, r, s);
    let deltas = shipping.deltas.lock().expect("lock");
    assert!(deltas.len() >= 3);
    for (i, bytes) in deltas.iter().enumerate() {
        let d = decode_delta(bytes).expect("decodes");
        assert_eq!(d.window, i as u64, "windows arrive in order");
        merge_delta(&mut merged, &d).expect("same shape");
    }
    assert_eq!(merged.phase, out.recorded.phase);
    for (a, b) in merged.request.iter().zip(&out.recorded.request) {
        assert_eq!(
            (a.completed, a.errors, a.dropped),
            (b.completed, b.errors, b.dropped)
        );
        let (x, y) = (a.latency.as_ref(), b.latency.as_ref());
        assert_eq!(x.map(|l| &l.response), y.map(|l| &l.response));
        assert_eq!(x.map(|l| &l.service), y.map(|l| &l.service));
        assert_eq!(x.map(|l| &l.lag), y.map(|l| &l.lag));
    }
    assert_eq!(
        out.result.phases[0].planned + out.result.phases[1].planned,
        525
    );
}

#[test]
fn absurd_lengths_neither_panic_nor_hang_once_stopped() {
    let _serial = serial();
    let srv = server();
    let mut p = plan(&srv.url(), vec![rate("forever", 50.0, 0.0)]);
    p.phases[0].load = Load::Rate {
        per_sec: 50.0,
        duration_us: u64::MAX,
    };
    p.timeout_us = u64::MAX;
    let (handle, signal) = stop_channel();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        handle.stop("enough");
    });
    let out = run_blocking(
        &p,
        RunOptions {
            stop: Some(signal),
            ..opts()
        },
    )
    .expect("runs");
    stopper.join().expect("stopper");
    assert!(out.result.stopped_early);
    assert!(out.result.phases[0].request_count > 10);
}
