//! A connection's answer deadline without a timer per request. One `Sleep` per connection is
//! kept armed no later than the deadline of the exchange in progress; since deadlines only
//! move forward as requests follow each other, a new exchange usually finds it armed early
//! enough and costs no timer work at all. When the sleep fires before the real deadline it is
//! moved to it, which happens about once per timeout period per connection. The timeout still
//! fires at the exact deadline (at the timer's millisecond resolution, as `tokio::time`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Default)]
pub struct Deadline {
    /// Created on first use (a `Sleep` needs the runtime).
    sleep: Option<Pin<Box<Sleep>>>,
    at: Option<Instant>,
    /// The waker of the exchange in progress is registered with the sleep: until it fires,
    /// polling it again is a check of its state.
    registered: bool,
}

impl Deadline {
    /// The exchange starting now must end by `at`.
    pub fn arm(&mut self, at: Instant) {
        self.at = Some(at);
        self.registered = false;
        match &mut self.sleep {
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
            Some(s) if s.deadline() > at => s.as_mut().reset(at),
            Some(_) => {}
        }
    }

    /// Ready once the armed deadline has passed. An exchange is polled by one task only, so
    /// the waker registered at its first poll stays the right one.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let (Some(sleep), Some(at)) = (&mut self.sleep, self.at) else {
            return Poll::Pending;
        };
        if self.registered && !sleep.is_elapsed() {
            return Poll::Pending;
        }
        self.registered = true;
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= at {
                return Poll::Ready(());
            }
            // It fired for an earlier exchange's deadline: move it to this one's.
            sleep.as_mut().reset(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn expired(d: &mut Deadline) -> Instant {
        std::future::poll_fn(|cx| d.poll_expired(cx)).await;
        Instant::now()
    }

    #[tokio::test(start_paused = true)]
    async fn fires_at_the_armed_deadline() {
        let mut d = Deadline::default();
        let t0 = Instant::now();
        d.arm(t0 + Duration::from_millis(100));
        assert_eq!(expired(&mut d).await - t0, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_deadline_is_honoured_after_an_early_firing() {
        let mut d = Deadline::default();
        let t0 = Instant::now();
        d.arm(t0 + Duration::from_millis(100));
        // The next exchange (the first one ended in time) has a later deadline: the sleep
        // stays at 100 ms, fires there, and must not end this exchange before 250 ms.
        d.arm(t0 + Duration::from_millis(250));
        assert_eq!(expired(&mut d).await - t0, Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_moves_the_sleep_back() {
        let mut d = Deadline::default();
        let t0 = Instant::now();
        d.arm(t0 + Duration::from_millis(500));
        d.arm(t0 + Duration::from_millis(20));
        assert_eq!(expired(&mut d).await - t0, Duration::from_millis(20));
    }

    #[tokio::test(start_paused = true)]
    async fn an_unarmed_deadline_never_fires() {
        let mut d = Deadline::default();
        let pending = std::future::poll_fn(|cx| Poll::Ready(d.poll_expired(cx))).await;
        assert!(pending.is_pending());
    }
}
