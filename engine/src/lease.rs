//! The permission to send, for an agent of a cluster: a [`Lease`] a coordination renews while
//! it can prove its place in the run is still its own, and every worker asks before it starts an
//! iteration. `ptl run` has none and never waits on it.
//!
//! Why it exists: an agent that was paused (SIGSTOP, a GC or VM pause) or cut off from the
//! cluster may already have been replaced: its share handed to others. If it then woke and sent
//! the arrivals due while it slept, late, it would add a burst of load nobody planned on top of
//! its replacements'. So an arrival is sent only if the lease was held *continuously from its
//! intended instant until it is sent*; arrivals that fall in or straddle a lapse are counted as
//! dropped, never sent late. Three things lapse the lease:
//! - it was not renewed in time (a renewal proves the cluster heard from the agent at the
//!   instant its request left; the coordination picks a length that ends before the cluster
//!   could give the share away);
//! - the process itself stalled: a watchdog thread ticks every [`TICK`], and a gap longer than
//!   the stall bound (SIGSTOP, a pause of the whole machine) revokes the lease until a renewal
//!   sent *after* the stall is answered; a worker that wakes before the watchdog does sees the
//!   stale tick and holds too;
//! - [`Lease::revoke`]: the coordination knows its place is gone (its session expired).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often the watchdog looks at the clock.
pub const TICK: Duration = Duration::from_millis(50);

/// What a coordination hands the engine (see the module doc). Cheap to share.
#[derive(Debug)]
pub struct Lease {
    /// Every instant below is nanoseconds after this one.
    base: Instant,
    /// Sending is allowed until here (0: not held).
    valid_until: AtomicU64,
    /// Held continuously since here: an arrival intended earlier was due during a lapse.
    since: AtomicU64,
    /// The watchdog's last tick.
    last_tick: AtomicU64,
    /// A gap between ticks longer than this is a stall of the process.
    stall: Duration,
    revoked: AtomicBool,
    /// Arrivals dropped because the lease did not permit them.
    refused: AtomicU64,
    /// Renewals and stalls are rare and come from two threads: they take this lock; readers
    /// never do.
    writer: Mutex<Writer>,
}

#[derive(Debug, Default)]
struct Writer {
    /// Renewals sent before this instant (the end of the latest stall) prove nothing.
    stalled_until: u64,
    /// Stalls seen, for the agent's log.
    stalls: u64,
}

impl Lease {
    /// A lease not held yet, with a watchdog thread that lives as long as the lease. A gap of
    /// more than `stall` between two ticks revokes it until the next renewal.
    pub fn new(stall: Duration) -> Arc<Lease> {
        let base = Instant::now();
        let lease = Arc::new(Lease {
            base,
            valid_until: AtomicU64::new(0),
            since: AtomicU64::new(0),
            last_tick: AtomicU64::new(0),
            stall: stall.max(TICK * 2),
            revoked: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            writer: Mutex::new(Writer::default()),
        });
        let weak = Arc::downgrade(&lease);
        // Without a watchdog stalls go unnoticed (the renewal rule still holds).
        let _ = std::thread::Builder::new()
            .name("ptl-lease-watchdog".into())
            .spawn(move || watchdog(weak));
        lease
    }

    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// A renewal request that left at `sent_at` was answered: the lease holds until
    /// `sent_at + length`. Renewals from before the latest stall, or after a revoke, are
    /// ignored.
    pub fn renew(&self, sent_at: Instant, length: Duration) {
        let Ok(writer) = self.writer.lock() else {
            return;
        };
        let sent = self.ns(sent_at);
        if self.revoked.load(Ordering::Acquire) || sent < writer.stalled_until {
            return;
        }
        let until = sent.saturating_add(length.as_nanos() as u64);
        let current = self.valid_until.load(Ordering::Acquire);
        if current < sent {
            // It had lapsed when this renewal left (or was never held): it holds again from
            // then, and nothing due before is sent.
            self.since.store(sent, Ordering::Release);
        }
        if until > current {
            self.valid_until.store(until, Ordering::Release);
        }
    }

    /// The place is gone for good (the session behind the lease expired).
    pub fn revoke(&self) {
        self.revoked.store(true, Ordering::Release);
        self.valid_until.store(0, Ordering::Release);
    }

    pub fn revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Whether an arrival intended at `intended` may be sent now.
    pub fn permits(&self, intended: Instant) -> bool {
        let now = self.ns(Instant::now());
        self.held_at(now) && self.ns(intended) >= self.since.load(Ordering::Acquire)
    }

    /// Whether the lease is held now (a closed-model user may start an iteration).
    pub fn held(&self) -> bool {
        self.held_at(self.ns(Instant::now()))
    }

    fn held_at(&self, now: u64) -> bool {
        // A tick this old means the process has just woken from a stall the watchdog has not
        // seen yet.
        let tick = self.last_tick.load(Ordering::Acquire);
        if tick != 0 && now.saturating_sub(tick) > self.stall.as_nanos() as u64 {
            return false;
        }
        now <= self.valid_until.load(Ordering::Acquire)
    }

    /// Counts an arrival dropped because [`Lease::permits`] said no.
    pub fn refused_one(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Arrivals dropped for want of the lease, over the lease's life (every run under it).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Stalls the watchdog has seen.
    pub fn stalls(&self) -> u64 {
        self.writer.lock().map(|w| w.stalls).unwrap_or(0)
    }

    /// One watchdog tick at `now`.
    fn tick(&self, now: Instant) {
        let now = self.ns(now);
        let last = self.last_tick.load(Ordering::Acquire);
        if last != 0 && now.saturating_sub(last) > self.stall.as_nanos() as u64 {
            if let Ok(mut writer) = self.writer.lock() {
                writer.stalled_until = now;
                writer.stalls += 1;
                // Revoked before the tick moves on: a worker that sees the new tick sees this.
                self.valid_until.store(0, Ordering::Release);
            }
        }
        self.last_tick.store(now.max(1), Ordering::Release);
    }
}

fn watchdog(lease: Weak<Lease>) {
    loop {
        match lease.upgrade() {
            Some(lease) => lease.tick(Instant::now()),
            None => return,
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn lease() -> Arc<Lease> {
        // A watchdog bound no test's own pauses come near.
        Lease::new(Duration::from_secs(3600))
    }

    #[test]
    fn nothing_is_sent_before_the_first_renewal() {
        let l = lease();
        assert!(!l.held());
        assert!(!l.permits(Instant::now()));
        l.renew(Instant::now(), SECOND);
        assert!(l.held());
        assert!(l.permits(Instant::now()));
    }

    #[test]
    fn a_lapse_drops_what_was_due_before_the_renewal_that_ends_it() {
        let l = lease();
        let t0 = Instant::now();
        l.renew(t0, Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        // Lapsed: nothing goes, whenever it was due.
        assert!(!l.permits(t0));
        assert!(!l.permits(Instant::now()));
        // A renewal sent now ends the lapse; arrivals due before it stay unsent.
        let renewed = Instant::now();
        l.renew(renewed, SECOND);
        assert!(!l.permits(t0), "due before the lapse, still pending");
        assert!(l.permits(renewed));
        assert!(l.permits(Instant::now()));
    }

    #[test]
    fn renewals_while_held_keep_what_is_pending() {
        let l = lease();
        let t0 = Instant::now();
        l.renew(t0, SECOND);
        l.renew(Instant::now(), SECOND);
        assert!(l.permits(t0), "held continuously since t0");
        // An answer that arrives out of order never shortens the lease.
        l.renew(t0, Duration::from_millis(1));
        assert!(l.held());
    }

    #[test]
    fn a_revoked_lease_is_never_held_again() {
        let l = lease();
        l.renew(Instant::now(), SECOND);
        l.revoke();
        assert!(!l.held());
        l.renew(Instant::now(), SECOND);
        assert!(!l.held());
        assert!(l.revoked());
    }

    #[test]
    fn a_stall_revokes_until_a_renewal_sent_after_it() {
        let l = lease();
        let t0 = Instant::now();
        l.renew(t0, Duration::from_secs(60));
        l.tick(t0);
        // The process sleeps past the stall bound between two ticks.
        let woke = t0 + l.stall + SECOND;
        l.tick(woke);
        assert!(!l.held(), "a stall revokes the lease");
        assert_eq!(l.stalls(), 1);
        // A renewal that left before the stall ended proves nothing.
        l.renew(t0, Duration::from_secs(60));
        assert!(!l.held());
        l.renew(woke, Duration::from_secs(60));
        assert!(l.permits(woke));
        assert!(!l.permits(t0), "due before the stall: never sent late");
    }

    #[test]
    fn a_stale_tick_holds_a_worker_that_wakes_before_the_watchdog() {
        let l = Lease::new(TICK * 2);
        l.renew(Instant::now(), Duration::from_secs(60));
        l.tick(Instant::now());
        let now = l.ns(Instant::now());
        assert!(l.held_at(now));
        // Read as a worker would that woke from a stall before the watchdog ticked again.
        let woken = now + (l.stall + SECOND).as_nanos() as u64;
        assert!(!l.held_at(woken));
    }
}
