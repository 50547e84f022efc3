//! The optional capacity model (`--capacity R/s`): an M/M/c server with a bounded queue, so
//! load tests meet a service with a known breaking point.
//!
//! `WORKERS` workers each take an exponentially distributed service time whose mean makes
//! their combined throughput `R`; a request waits for the first free worker in arrival order,
//! so latency rises as the rate nears `R`. A request that would wait longer than the time the
//! workers need to clear `QUEUE` requests (or `MIN_BACKLOG`, if longer) is shed at once with
//! 503: above `R` the queue fills and the excess is refused quickly, as a real server with a
//! bounded backlog does.
//!
//! Workers are kept in virtual time (the instant each one is next free), not as tasks or
//! permits: a request's start and finish are computed when it arrives and it then sleeps
//! until its finish. The timer's millisecond rounding therefore delays responses a little but
//! never lowers the throughput, which is what the configured capacity promises.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Parallel workers. Enough that the latency curve is M/M/c-shaped (flat, then rising steeply
/// near the capacity), few enough that each service time is several milliseconds at the
/// capacities a loopback test reaches.
pub(crate) const WORKERS: usize = 8;
/// Requests the backlog holds (waiting, not in service) before new ones are shed: the longest
/// admitted wait is the time the workers need to serve this many…
pub(crate) const QUEUE: f64 = 50.0;
/// …or this long, if longer: a stall of the host (a descheduled process, a busy neighbour)
/// delivers the arrivals of its length at once, and a server at a fast rate should not shed
/// them all for it.
const MIN_BACKLOG: Duration = Duration::from_millis(100);

/// What happens to one arriving request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Served: answer at this instant (after its wait and service).
    Served { done: Instant },
    /// The backlog is full: answer 503 now.
    Shed,
}

pub(crate) struct Capacity {
    /// When each worker is next free.
    free_at: Mutex<Vec<Instant>>,
    mean_service: Duration,
    max_wait: Duration,
}

impl Capacity {
    /// A server whose workers together complete `rps` requests per second (`rps` > 0, checked
    /// by the configuration).
    pub(crate) fn new(rps: f64, now: Instant) -> Capacity {
        let mean_service = Duration::from_secs_f64(WORKERS as f64 / rps);
        Capacity {
            free_at: Mutex::new(vec![now; WORKERS]),
            mean_service,
            max_wait: Duration::from_secs_f64(QUEUE / rps).max(MIN_BACKLOG),
        }
    }

    /// A service time drawn from the exponential distribution with the workers' mean.
    pub(crate) fn draw_service(&self) -> Duration {
        // 1 - U is in (0, 1]: its logarithm is finite.
        let u: f64 = 1.0 - rand::random::<f64>();
        self.mean_service.mul_f64(-u.ln())
    }

    /// Admits a request arriving at `now` that needs `service`, or sheds it.
    pub(crate) fn admit(&self, now: Instant, service: Duration) -> Admission {
        // A poisoned lock only means another request panicked mid-update of plain instants.
        let mut free_at = self
            .free_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some((worker, &free)) = free_at.iter().enumerate().min_by_key(|(_, at)| **at) else {
            return Admission::Shed;
        };
        let start = free.max(now);
        if start - now > self.max_wait {
            return Admission::Shed;
        }
        let done = start + service;
        free_at[worker] = done;
        Admission::Served { done }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn requests_wait_for_the_first_free_worker() {
        let t0 = Instant::now();
        let capacity = Capacity::new(1000.0, t0);
        // Every worker busy for 10 ms: the next arrival waits for the first to finish.
        for _ in 0..WORKERS {
            assert_eq!(
                capacity.admit(t0, 10 * MS),
                Admission::Served { done: t0 + 10 * MS }
            );
        }
        assert_eq!(
            capacity.admit(t0 + MS, 5 * MS),
            Admission::Served { done: t0 + 15 * MS }
        );
        // A worker free long ago starts at the arrival, not back then.
        let later = t0 + 1000 * MS;
        assert_eq!(
            capacity.admit(later, 2 * MS),
            Admission::Served {
                done: later + 2 * MS
            }
        );
    }

    #[test]
    fn a_full_backlog_sheds_and_the_throughput_is_the_capacity() {
        let rps = 500.0;
        let t0 = Instant::now();
        let capacity = Capacity::new(rps, t0);
        let mean = Duration::from_secs_f64(WORKERS as f64 / rps);
        // Twice the capacity, all at once: the workers plus the backlog are admitted, the
        // rest shed.
        let offered = 2 * (WORKERS + QUEUE as usize);
        let served: Vec<Instant> = (0..offered)
            .filter_map(|_| match capacity.admit(t0, mean) {
                Admission::Served { done } => Some(done),
                Admission::Shed => None,
            })
            .collect();
        let expected = WORKERS + QUEUE as usize;
        assert!(
            served.len().abs_diff(expected) <= WORKERS,
            "{} served, about {expected} expected",
            served.len()
        );
        // They finish at the configured rate.
        let last = served.iter().max().expect("some served");
        let rate = served.len() as f64 / (*last - t0).as_secs_f64();
        assert!((rate - rps).abs() / rps < 0.1, "{rate}/s");
    }

    #[test]
    fn service_times_average_the_mean() {
        let capacity = Capacity::new(800.0, Instant::now());
        let n = 20_000;
        let total: Duration = (0..n).map(|_| capacity.draw_service()).sum();
        let mean = total.as_secs_f64() / f64::from(n);
        let expected = WORKERS as f64 / 800.0;
        assert!((mean - expected).abs() / expected < 0.05, "{mean}");
    }
}
