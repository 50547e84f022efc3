//! Pausing and resuming a running engine: the schedules hold (the target receives nothing while
//! paused, server-side instants), continue where they were (the plan's exact count, phases
//! keeping their running time), and the result lists the pauses and leaves them out of the
//! achieved rates. Stops while paused end the run at once. Counted against a real HTTP server
//! on 127.0.0.1; windows are checked with margins of a tenth of a second or more.

use crate::engine_support::*;
use ptl_bytecode::plan::{Cmp, Metric, Scope};
use ptl_engine::coordination::{
    pause_channel, stop_channel, BoxFuture, Coordination, Pause, PauseHandle,
};
use ptl_engine::error::RuntimeError;
use ptl_engine::record::IntervalDelta;
use ptl_engine::runner::ProgressFn;
use ptl_engine::vm::AgentShare;
use ptl_engine::{run_blocking, Progress, RunOptions, RunOutcome};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const MS: Duration = Duration::from_millis(1);

fn sleep_until(t: Instant) {
    thread::sleep(t.saturating_duration_since(Instant::now()));
}

/// The instant the server saw its first request (a few ms after the run start).
fn first_hit(srv: &TestServer) -> Instant {
    loop {
        if let Some(&t) = arrivals(srv).first() {
            return t;
        }
        thread::sleep(2 * MS);
    }
}

fn arrivals(srv: &TestServer) -> Vec<Instant> {
    srv.state
        .arrived
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Requests the server received within `[from, to)`.
fn received_between(srv: &TestServer, from: Instant, to: Instant) -> usize {
    arrivals(srv)
        .iter()
        .filter(|&&t| t >= from && t < to)
        .count()
}

/// Every progress snapshot, for the test to read afterwards.
fn recorder() -> (Arc<Mutex<Vec<Progress>>>, ProgressFn) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let f = Box::new(move |p: &Progress| {
        s.lock().unwrap_or_else(|e| e.into_inner()).push(p.clone());
    });
    (seen, f)
}

/// Pauses `after` the first request for `length` (resumes unless `None`); returns when the
/// pause and the resume were asked for.
fn pause_later(
    srv: &TestServer,
    handle: PauseHandle,
    after: Duration,
    length: Option<Duration>,
) -> thread::JoinHandle<(Instant, Option<Instant>)> {
    let state = srv.state.clone();
    let addr = srv.addr;
    thread::spawn(move || {
        let srv = TestServer { addr, state };
        sleep_until(first_hit(&srv) + after);
        assert!(handle.pause(), "the run was not paused yet");
        let at = Instant::now();
        let until = length.map(|l| {
            thread::sleep(l);
            assert!(handle.resume(), "the run was paused");
            Instant::now()
        });
        (at, until)
    })
}

fn ms_between(a: Instant, b: Instant) -> u64 {
    b.saturating_duration_since(a).as_millis() as u64
}

#[test]
fn a_paused_rate_phase_holds_then_sends_the_plans_count() {
    let _serial = serial();
    let srv = server();
    let mut plan = plan(&srv.url(), vec![rate("steady", 400.0, 3.0)]);
    plan.thresholds = vec![
        threshold(
            "steady.achieved_rate > 99%",
            Scope::Phase(0),
            Metric::AchievedRate,
            Cmp::Gt,
            0.99,
            false,
        ),
        threshold(
            "dropped_rate < 0.1%",
            Scope::All,
            Metric::DroppedRate,
            Cmp::Lt,
            0.001,
            false,
        ),
    ];
    let (handle, rx) = pause_channel();
    let (seen, progress) = recorder();
    let pauser = pause_later(&srv, handle, 1500 * MS, Some(1000 * MS));
    let out = run_blocking(
        &plan,
        RunOptions {
            workers: Some(2),
            pauses: Some(rx),
            progress: Some(progress),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    let (at, until) = pauser.join().expect("pauser");
    let until = until.expect("resumed");
    let r = &out.result;
    let p = &r.phases[0];

    // Nothing reaches the target while paused (requests in flight at the pause land within
    // the first milliseconds), and the schedule goes on after it.
    assert_eq!(received_between(&srv, at + 100 * MS, until), 0);
    assert!(received_between(&srv, until, until + 2000 * MS) > 400);
    // Exactly the plan's count: nothing dropped, late or lost to the pause.
    assert_eq!(p.planned, 1200);
    assert_eq!(p.request_count, 1200);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), 1200);
    assert_eq!(p.dropped, 0);
    // The phase's end moved with the pause: the 400 arrivals after it are in time (the last
    // one or two may miss the end by a hair on a busy machine, as without a pause).
    assert!(p.sent_after_end <= 5, "sent after end {}", p.sent_after_end);
    // Latency is measured from the moved instants: the resumed arrivals are not a second late.
    assert!(
        p.schedule_lag_ms.expect("samples").p99 < 300.0,
        "lag {:?}",
        p.schedule_lag_ms
    );

    // The run lasts its 3 s plus the pause, and the rate is over the running time.
    let paused_ms = ms_between(at, until);
    assert!(
        (3.8..4.7).contains(&r.duration_s),
        "duration {}",
        r.duration_s
    );
    assert!((3.8..4.7).contains(&p.duration_s), "phase {}", p.duration_s);
    assert!(
        p.paused_ms.abs_diff(paused_ms) <= 50,
        "{} vs {paused_ms}",
        p.paused_ms
    );
    assert!(
        (370.0..430.0).contains(&p.achieved_rps),
        "{}",
        p.achieved_rps
    );
    assert!(
        (370.0..430.0).contains(&r.total.achieved_rps),
        "{}",
        r.total.achieved_rps
    );
    assert_eq!(r.pauses.len(), 1);
    let w = r.pauses[0];
    let end_ms = w.end_ms.expect("resumed");
    assert!((end_ms - w.start_ms).abs_diff(paused_ms) <= 50, "{w:?}");
    assert!((1300..1800).contains(&w.start_ms), "{w:?}");

    // The series marks the paused seconds and plans nothing for them.
    let paused_s: f64 = r.series.iter().map(|s| s.paused).sum();
    assert!(
        (paused_s - paused_ms as f64 / 1000.0).abs() < 0.1,
        "{paused_s}"
    );
    for s in r.series.iter().filter(|s| s.paused > 0.0) {
        let expected = 400.0 * (1.0 - s.paused);
        assert!((s.target_rps - expected).abs() < 1.0, "{s:?}");
    }
    // Rate thresholds do not fail because of the pause.
    assert!(r.thresholds.iter().all(|t| t.passed), "{:?}", r.thresholds);
    let json = serde_json::to_value(r).expect("serialises");
    assert_eq!(json["pauses"][0]["end_ms"], end_ms);
    assert_eq!(json["phases"][0]["paused_ms"], p.paused_ms);

    // A snapshot inside the pause says so, and its phase still has time left.
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    let during = seen.iter().find(|s| s.paused).expect("a paused snapshot");
    assert_eq!(during.phase.as_deref(), Some("steady"));
    assert!(during.phase_left > 1000 * MS, "{during:?}");
    assert!(!seen.last().is_some_and(|s| s.paused));
}

#[test]
fn closed_model_users_hold_between_iterations() {
    let _serial = serial();
    let srv = server();
    srv.state.delay_us.store(2_000, Ordering::Relaxed);
    let users = users("users", 4, 2.0);
    let (handle, rx) = pause_channel();
    let pauser = pause_later(&srv, handle, 700 * MS, Some(800 * MS));
    let out = run_blocking(
        &plan(&srv.url(), vec![users]),
        RunOptions {
            workers: Some(2),
            pauses: Some(rx),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    let (at, until) = pauser.join().expect("pauser");
    let until = until.expect("resumed");
    let p = &out.result.phases[0];
    // Each user finishes the iteration it is in (one 2 ms request), then holds. The margin
    // is for the server thread's own scheduling on a loaded 2-core machine (100 ms was seen to
    // stamp 2 requests sent before the pause as arriving after it): 4 users that did not hold
    // would send ~1,000 requests in the 550 ms checked.
    assert_eq!(received_between(&srv, at + 250 * MS, until), 0);
    assert!(received_between(&srv, until, until + 500 * MS) > 10);
    // The phase keeps its 2 s of running time.
    let paused_ms = ms_between(at, until);
    assert!(
        p.paused_ms.abs_diff(paused_ms) <= 50,
        "{} vs {paused_ms}",
        p.paused_ms
    );
    let running = p.duration_s - p.paused_ms as f64 / 1000.0;
    assert!((1.9..2.4).contains(&running), "ran {running} s");
    assert_eq!(p.errors, 0);
}

#[test]
fn a_stop_while_paused_ends_the_run_at_once_with_partial_results() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("long", 200.0, 10.0)]);
    let (handle, rx) = pause_channel();
    let (stop, signal) = stop_channel();
    let pauser = pause_later(&srv, handle, 500 * MS, None);
    let stopper = {
        let state = srv.state.clone();
        let addr = srv.addr;
        thread::spawn(move || {
            let srv = TestServer { addr, state };
            sleep_until(first_hit(&srv) + 1000 * MS);
            stop.stop("test stop");
            Instant::now()
        })
    };
    let out = run_blocking(
        &plan,
        RunOptions {
            workers: Some(2),
            pauses: Some(rx),
            stop: Some(signal),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    let returned = Instant::now();
    let (at, _) = pauser.join().expect("pauser");
    let stopped = stopper.join().expect("stopper");
    let r = &out.result;
    // Promptly: a 10 s phase held by a pause would otherwise never end.
    assert!(ms_between(stopped, returned) < 3000);
    assert!(r.stopped_early);
    assert_eq!(r.stop_reason.as_deref(), Some("test stop"));
    assert_eq!(received_between(&srv, at + 100 * MS, returned), 0);
    let p = &r.phases[0];
    // Half a second of 200/s, give or take the pause's reaction time.
    assert!((80..=130).contains(&p.planned), "planned {}", p.planned);
    assert_eq!(p.request_count, p.planned);
    assert_eq!(r.pauses.len(), 1);
    assert_eq!(r.pauses[0].end_ms, None, "stopped while paused");
    let json = serde_json::to_value(r).expect("serialises");
    assert!(json["pauses"][0]["end_ms"].is_null());
    // Paused from the pause to the stop: the rate is over the half second that ran.
    assert!((400..700).contains(&p.paused_ms), "{}", p.paused_ms);
    assert!(
        (150.0..250.0).contains(&p.achieved_rps),
        "{}",
        p.achieved_rps
    );
}

/// A cluster-like coordination: starts 100 ms after asked, sends the pauses the test gives it,
/// and stops when the test says.
struct Controlled {
    started: Mutex<Option<Instant>>,
    pauses: watch::Receiver<Vec<Pause>>,
    stop: watch::Receiver<bool>,
}

impl Coordination for Controlled {
    fn share(&self) -> AgentShare {
        AgentShare::solo()
    }
    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        let at = Instant::now() + 100 * MS;
        *self.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
        Box::pin(async move { Ok(at) })
    }
    fn stopped(&self) -> BoxFuture<'_, String> {
        let mut stop = self.stop.clone();
        Box::pin(async move {
            let _ = stop.wait_for(|s| *s).await;
            "coordinator stop".to_string()
        })
    }
    fn report(&self, _delta: &IntervalDelta) {}
    fn pauses(&self) -> Option<watch::Receiver<Vec<Pause>>> {
        Some(self.pauses.clone())
    }
}

fn controlled() -> (
    Arc<Controlled>,
    watch::Sender<Vec<Pause>>,
    watch::Sender<bool>,
) {
    let (pauses_tx, pauses) = watch::channel(Vec::new());
    let (stop_tx, stop) = watch::channel(false);
    let c = Arc::new(Controlled {
        started: Mutex::new(None),
        pauses,
        stop,
    });
    (c, pauses_tx, stop_tx)
}

fn start_of(c: &Controlled) -> Instant {
    loop {
        if let Some(t) = *c.started.lock().unwrap_or_else(|e| e.into_inner()) {
            return t;
        }
        thread::sleep(2 * MS);
    }
}

fn run_controlled(plan: &ptl_bytecode::plan::Plan, c: Arc<Controlled>) -> RunOutcome {
    // A local pause channel is ignored when a coordination is given: this one never pauses.
    let (local, rx) = pause_channel();
    assert!(local.pause());
    run_blocking(
        plan,
        RunOptions {
            workers: Some(2),
            coordination: Some(c),
            pauses: Some(rx),
            ..RunOptions::default()
        },
    )
    .expect("runs")
}

#[test]
fn a_pause_heard_late_keeps_what_was_sent_and_the_count() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 400.0, 3.0)]);
    let (c, pauses, _stop) = controlled();
    let c2 = c.clone();
    let sender = thread::spawn(move || {
        let start = start_of(&c2);
        // Paused from 1.0 s to 1.5 s, but heard only at 1.3 s: what went out from 1.0 s to
        // 1.3 s stays sent, and the schedule resumes after those arrivals.
        sleep_until(start + 1300 * MS);
        pauses.send_replace(vec![Pause {
            at: start + 1000 * MS,
            until: Some(start + 1500 * MS),
        }]);
        sleep_until(start + 4000 * MS);
        start
    });
    let out = run_controlled(&plan, c);
    let start = sender.join().expect("sender");
    let r = &out.result;
    let p = &r.phases[0];
    assert_eq!(p.planned, 1200);
    assert_eq!(p.request_count, 1200);
    assert_eq!(p.dropped, 0);
    assert!(p.sent_after_end <= 5, "sent after end {}", p.sent_after_end);
    // Sent from 1.0 s until heard: kept.
    assert!(received_between(&srv, start + 1050 * MS, start + 1250 * MS) > 60);
    // Nothing after it was heard, through the pause, and through the stretch of plan time
    // already sent (resumed at 1.5 s, the next arrival was planned at 1.3 s: due at 1.8 s).
    assert_eq!(
        received_between(&srv, start + 1400 * MS, start + 1750 * MS),
        0
    );
    assert!(received_between(&srv, start + 1850 * MS, start + 2500 * MS) > 200);
    assert!((3.4..4.0).contains(&r.duration_s), "{}", r.duration_s);
    assert_eq!(r.pauses.len(), 1);
    assert_eq!(r.pauses[0].end_ms, Some(1500));
    assert!((490..=510).contains(&p.paused_ms), "{}", p.paused_ms);
}

#[test]
fn a_pause_never_resumed_holds_until_the_coordinators_stop() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 400.0, 3.0)]);
    let (c, pauses, stop) = controlled();
    let c2 = c.clone();
    let sender = thread::spawn(move || {
        let start = start_of(&c2);
        sleep_until(start + 500 * MS);
        pauses.send_replace(vec![Pause {
            at: start + 500 * MS,
            until: None,
        }]);
        // Well past the planned end: the run is still held.
        sleep_until(start + 3500 * MS);
        stop.send_replace(true);
        let stopped = Instant::now();
        // Keep the pause list alive until the run is over.
        sleep_until(start + 6000 * MS);
        (start, stopped)
    });
    let out = run_controlled(&plan, c);
    let returned = Instant::now();
    let (start, stopped) = sender.join().expect("sender");
    let r = &out.result;
    let p = &r.phases[0];
    assert!(returned >= stopped, "the run waited for the stop");
    assert!(ms_between(stopped, returned) < 3000);
    assert_eq!(r.stop_reason.as_deref(), Some("coordinator stop"));
    assert_eq!(received_between(&srv, start + 600 * MS, returned), 0);
    assert!((190..=215).contains(&p.planned), "planned {}", p.planned);
    assert_eq!(r.pauses.len(), 1);
    assert_eq!(r.pauses[0].start_ms, 500);
    assert_eq!(r.pauses[0].end_ms, None);
    assert!((2900..3600).contains(&p.paused_ms), "{}", p.paused_ms);
}

#[test]
fn a_pause_during_the_final_drain_changes_nothing() {
    let _serial = serial();
    let srv = server();
    // Answers take 600 ms, so the run drains for a while after its half-second schedule.
    srv.state.delay_us.store(600_000, Ordering::Relaxed);
    let plan = plan(&srv.url(), vec![rate("short", 20.0, 0.5)]);
    let (c, pauses, _stop) = controlled();
    let c2 = c.clone();
    let sender = thread::spawn(move || {
        let start = start_of(&c2);
        sleep_until(start + 700 * MS);
        pauses.send_replace(vec![Pause {
            at: start + 700 * MS,
            until: None,
        }]);
        sleep_until(start + 3000 * MS);
    });
    let out = run_controlled(&plan, c);
    sender.join().expect("sender");
    let r = &out.result;
    assert!(!r.stopped_early);
    assert!(r.pauses.is_empty(), "{:?}", r.pauses);
    assert_eq!(r.phases[0].paused_ms, 0);
    assert_eq!(r.phases[0].request_count, 10);
    assert!((r.duration_s - 0.5).abs() < 0.01, "{}", r.duration_s);
}

#[test]
fn a_coordination_without_pauses_leaves_the_local_ones_in_force() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 400.0, 3.0)]);
    let (handle, rx) = pause_channel();
    // Paused before the run starts: it holds from the start.
    assert!(handle.pause());
    let (stop, signal) = stop_channel();
    let stopper = thread::spawn(move || {
        thread::sleep(600 * MS);
        stop.stop("test stop");
    });
    let out = run_blocking(
        &plan,
        RunOptions {
            workers: Some(2),
            coordination: Some(Arc::new(ptl_engine::coordination::Embedded::default())),
            pauses: Some(rx),
            stop: Some(signal),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    stopper.join().expect("stopper");
    let r = &out.result;
    assert_eq!(r.phases[0].planned, 0);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), 0);
    assert_eq!(r.pauses.len(), 1);
    assert_eq!(r.pauses[0].start_ms, 0);
    assert_eq!(r.pauses[0].end_ms, None);
    assert_eq!(r.phases[0].achieved_rps, 0.0);
    drop(handle);
}
