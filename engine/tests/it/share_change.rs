//! A running engine whose share of the rate changes mid-phase (a cluster agent taking over a
//! lost agent's load) sends exactly the re-based schedule: each stretch at its own fraction,
//! whether a worker hears of a change after its time (a larger share: the arrivals due since
//! are sent at once) or before it. Counted against a real HTTP server on 127.0.0.1.

use crate::engine_support::*;
use ptl_engine::coordination::{BoxFuture, Coordination, ShareChange};
use ptl_engine::error::RuntimeError;
use ptl_engine::record::IntervalDelta;
use ptl_engine::vm::AgentShare;
use ptl_engine::{run_blocking, RunOptions};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Starts 100 ms after it is asked, with the share given; the test sends the changes.
struct Changing {
    share: AgentShare,
    started: Mutex<Option<Instant>>,
    changes: watch::Receiver<Vec<ShareChange>>,
}

impl Coordination for Changing {
    fn share(&self) -> AgentShare {
        self.share
    }
    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        let at = Instant::now() + Duration::from_millis(100);
        if let Ok(mut started) = self.started.lock() {
            *started = Some(at);
        }
        Box::pin(async move { Ok(at) })
    }
    fn stopped(&self) -> BoxFuture<'_, String> {
        Box::pin(std::future::pending())
    }
    fn report(&self, _delta: &IntervalDelta) {}
    fn share_changes(&self) -> Option<watch::Receiver<Vec<ShareChange>>> {
        Some(self.changes.clone())
    }
}

#[test]
fn a_share_change_mid_phase_sends_the_rebased_count() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 400.0, 3.0)]);
    let (tx, rx) = watch::channel(Vec::new());
    let coordination = Arc::new(Changing {
        share: AgentShare {
            index: 0,
            count: 2,
            rate_fraction: 0.25,
            seq_base: 0,
        },
        started: Mutex::new(None),
        changes: rx,
    });
    let c = coordination.clone();
    let sender = std::thread::spawn(move || {
        let start = loop {
            if let Some(at) = c.started.lock().ok().and_then(|s| *s) {
                break at;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let sleep_until =
            |t: Instant| std::thread::sleep(t.saturating_duration_since(Instant::now()));
        // Doubled from 1.2 s on, heard only at 1.5 s: the arrivals due meanwhile go at once.
        sleep_until(start + Duration::from_millis(1500));
        tx.send_modify(|v| {
            v.push(ShareChange {
                at: start + Duration::from_millis(1200),
                rate_fraction: 0.5,
            })
        });
        // Cut to an eighth from 2.4 s on, heard ahead of time at 2.0 s.
        sleep_until(start + Duration::from_millis(2000));
        tx.send_modify(|v| {
            v.push(ShareChange {
                at: start + Duration::from_millis(2400),
                rate_fraction: 0.125,
            })
        });
        // Keep the sender until the run is over, so the engine sees no early hang-up.
        sleep_until(start + Duration::from_millis(3500));
    });
    let out = run_blocking(
        &plan,
        RunOptions {
            workers: Some(2),
            coordination: Some(coordination),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    sender.join().expect("sender");
    let p = &out.result.phases[0];
    // 400/s × (0.25 × 1.2 s + 0.5 × 1.2 s + 0.125 × 0.6 s) = 120 + 240 + 30.
    let expected = 390u64;
    assert!(
        p.planned.abs_diff(expected) <= 1,
        "planned {} for a re-based {expected}",
        p.planned
    );
    assert_eq!(p.dropped, 0);
    assert_eq!(p.request_count, p.planned);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), p.request_count);
}

#[test]
fn without_changes_the_share_holds() {
    let _serial = serial();
    let srv = server();
    let plan = plan(&srv.url(), vec![rate("steady", 400.0, 1.0)]);
    let (_tx, rx) = watch::channel(Vec::new());
    let out = run_blocking(
        &plan,
        RunOptions {
            workers: Some(2),
            coordination: Some(Arc::new(Changing {
                share: AgentShare {
                    index: 1,
                    count: 2,
                    rate_fraction: 0.25,
                    seq_base: 0,
                },
                started: Mutex::new(None),
                changes: rx,
            })),
            ..RunOptions::default()
        },
    )
    .expect("runs");
    let p = &out.result.phases[0];
    assert!(p.planned.abs_diff(100) <= 1, "planned {}", p.planned);
    assert_eq!(srv.state.hits.load(Ordering::Relaxed), p.request_count);
}
