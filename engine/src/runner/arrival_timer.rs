//! Waiting for an open-loop arrival's intended send instant, to the microsecond.
//!
//! tokio's timer counts whole milliseconds and rounds every deadline up to the next one (and
//! its park timeout up again), so an arrival woken by it goes out 0–2 ms late: at any rate, the
//! generator's own error would sit in every response time. On Linux the dispatcher waits on a
//! `timerfd` instead, armed for the arrival's exact instant and registered with the worker's
//! reactor: the kernel's high-resolution timer wakes the worker when the instant comes, at the
//! cost of one system call per wait, and the worker stays free for answers meanwhile (no
//! spinning, so no core burnt at low rates). Where no timerfd can be had, tokio's timer does it.
//!
//! What precision costs is wake-ups: tokio's ticks send the arrivals of a millisecond
//! together, one wake-up for all (and their answers come back together), where exact instants
//! wake the worker for every one. On a virtual machine a wake-up costs some 10–20 µs, as much
//! as a request, so the timer fires at most once every [`MIN_SPACING`]: up to 2,000 arrivals a
//! second per worker each go out on time, and above that they go in small batches at most
//! 500 µs late, still two to four times closer than tokio's ticks. The spacing is a trade of
//! precision for CPU: at 30,000/s on one core, 500 µs cost ~8 % less generator CPU than
//! 200 µs (schedule lag p50 0.4 ms instead of 0.2 ms; docs/performance.md).

use super::worker::Worker;
use std::time::{Duration, Instant};

/// The least time between two firings of one worker's timer.
pub const MIN_SPACING: Duration = Duration::from_micros(500);

/// One worker's timer for its arrivals.
pub struct ArrivalTimer {
    #[cfg(target_os = "linux")]
    fd: Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>,
    /// The instant the timer was last set to fire at.
    last: Option<Instant>,
}

/// When to fire for an arrival due at `due`, the timer having last fired for `last`.
fn fire_at(due: Instant, last: Option<Instant>) -> Instant {
    match last {
        // Spaced from the instant planned, not from the (later) wake-up, so that wake-up
        // latency does not add up.
        Some(last) => due.max(super::timeline::after(last, MIN_SPACING)),
        None => due,
    }
}

impl ArrivalTimer {
    /// A timer on the current runtime's reactor (tokio's timer when none can be made).
    pub fn new() -> ArrivalTimer {
        ArrivalTimer {
            #[cfg(target_os = "linux")]
            fd: precise::timer_fd(),
            last: None,
        }
    }

    /// Sleeps until `t`, like [`Worker::sleep_until`]: false if a stop or wind-down
    /// interrupted it (or came before).
    pub async fn sleep(&mut self, w: &Worker, t: Instant) -> bool {
        if w.winding_down() {
            return false;
        }
        if Instant::now() >= t {
            return true;
        }
        tokio::select! {
            _ = self.until(t) => !w.winding_down(),
            _ = w.interrupted() => false,
        }
    }

    /// Resolves once `t` has come (never before it), but not sooner than [`MIN_SPACING`]
    /// after the instant it last fired for.
    async fn until(&mut self, t: Instant) {
        let t = fire_at(t, self.last);
        self.last = Some(t);
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            if precise::until(fd, t).await.is_ok() {
                return;
            }
            // A timer that fails once is not trusted again.
            self.fd = None;
        }
        tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await;
    }
}

#[cfg(target_os = "linux")]
mod precise {
    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };
    use std::io;
    use std::os::fd::OwnedFd;
    use std::time::Instant;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    pub fn timer_fd() -> Option<AsyncFd<OwnedFd>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()?;
        // SAFETY: an `OwnedFd` is a valid, open descriptor that always gives the same number,
        // and it stays inside the `AsyncFd` (only ever borrowed) until both are dropped.
        unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()
    }

    /// Arms the timer for `t` and waits for it. Relative arming: `Instant` is the monotonic
    /// clock, but its value is not public; the nanoseconds between reading the clock and the
    /// system call are the only error. Arming again resets the expiry count, so the timer is
    /// never read; a readiness left over from an earlier, abandoned wait is told apart by the
    /// clock.
    pub async fn until(fd: &AsyncFd<OwnedFd>, t: Instant) -> io::Result<()> {
        loop {
            let left = t.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let spec = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec::try_from(left).map_err(|_| io::ErrorKind::InvalidInput)?,
            };
            timerfd_settime(fd.get_ref(), TimerfdTimerFlags::empty(), &spec)?;
            let mut ready = fd.readable().await?;
            ready.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn on_runtime<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn firings_are_spaced_by_the_minimum() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let min = MIN_SPACING.as_micros() as u64;
        assert_eq!(fire_at(at(5), None), at(5));
        // Due well after the last firing: on time.
        assert_eq!(fire_at(at(3 * min), Some(at(0))), at(3 * min));
        assert_eq!(fire_at(at(min), Some(at(0))), at(min));
        // Due sooner: at the minimum spacing, never before the arrival.
        assert_eq!(fire_at(at(min / 4), Some(at(0))), at(min));
        assert_eq!(fire_at(at(0), Some(at(0))), at(min));
        // Arrivals every min/2: the dispatcher waits only for those not yet due when it
        // woke; one firing every `min` sends two, each at most min/2 late.
        let step = min / 2;
        let (mut last, mut now, mut firings) = (None, t0, 0);
        for k in 1..=100u64 {
            let due = at(k * step);
            if due <= now {
                assert!(now - due <= MIN_SPACING);
                continue;
            }
            let fire = fire_at(due, last);
            assert!(fire >= due);
            assert!(fire - due <= Duration::from_micros(step));
            if let Some(l) = last {
                assert_eq!(fire - l, MIN_SPACING);
            }
            (last, now, firings) = (Some(fire), fire, firings + 1);
        }
        // At step, 3·step, …, 99·step, and 101·step for the last arrival.
        assert_eq!(firings, 51);
    }

    #[test]
    fn never_wakes_before_the_instant() {
        on_runtime(async {
            let mut timer = ArrivalTimer::new();
            #[cfg(target_os = "linux")]
            assert!(timer.fd.is_some(), "a timerfd is available on Linux");
            for us in [0u64, 1, 50, 300, 1_000, 2_500] {
                let t = Instant::now() + Duration::from_micros(us);
                timer.until(t).await;
                assert!(Instant::now() >= t, "woke before {us} µs");
            }
            // An instant already past resolves at once.
            timer.until(Instant::now() - Duration::from_millis(1)).await;
        });
    }

    #[test]
    fn an_abandoned_wait_does_not_end_the_next_one_early() {
        on_runtime(async {
            let mut timer = ArrivalTimer::new();
            // Abandoned before it fires: the timer fires later, unobserved.
            let short = Instant::now() + Duration::from_micros(500);
            let _ = tokio::time::timeout(Duration::ZERO, timer.until(short)).await;
            std::thread::sleep(Duration::from_millis(2));
            // Its readiness is still pending; the next wait must not take it for its own.
            let t = Instant::now() + Duration::from_millis(3);
            timer.until(t).await;
            assert!(Instant::now() >= t);
        });
    }
}
