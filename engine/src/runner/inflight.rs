//! Admission of arrivals: the `max_inflight` cap of one worker (its share of the agent's cap)
//! and the overflow policy. An arrival that finds no free slot is either dropped (counted,
//! never silently skipped) or queued in arrival order and started late, its response time
//! still measured from its intended send time. The queue is bounded; an arrival that finds it
//! full is counted as dropped.

use ptl_bytecode::plan::Overflow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Instant;

/// Hard bound on queued arrivals per worker, so a stalled target cannot grow memory without
/// limit under `overflow queue`.
pub const QUEUE_LIMIT: usize = 1_000_000;

/// An arrival waiting for (or given) a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub phase: usize,
    pub scenario: u32,
    pub intended: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A slot was taken: start now.
    Start,
    Queued,
    Dropped,
}

#[derive(Debug)]
pub struct Inflight {
    cap: Cell<usize>,
    overflow: Cell<Overflow>,
    in_flight: Cell<usize>,
    queue: RefCell<VecDeque<Arrival>>,
    queue_limit: usize,
}

impl Inflight {
    pub fn new(queue_limit: usize) -> Inflight {
        Inflight {
            cap: Cell::new(1),
            overflow: Cell::new(Overflow::Drop),
            in_flight: Cell::new(0),
            queue: RefCell::new(VecDeque::new()),
            queue_limit,
        }
    }

    /// Limits of the phase that starts now. Queued arrivals of earlier phases keep their place.
    pub fn set_limits(&self, cap: usize, overflow: Overflow) {
        self.cap.set(cap.max(1));
        self.overflow.set(overflow);
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Decides what happens to a new arrival. Arrivals already queued go first: a new one
    /// never overtakes them.
    pub fn admit(&self, arrival: Arrival) -> Admission {
        let mut queue = self.queue.borrow_mut();
        if self.in_flight.get() < self.cap.get() && queue.is_empty() {
            self.in_flight.set(self.in_flight.get() + 1);
            return Admission::Start;
        }
        match self.overflow.get() {
            Overflow::Drop => Admission::Dropped,
            Overflow::Queue if queue.len() < self.queue_limit => {
                queue.push_back(arrival);
                Admission::Queued
            }
            Overflow::Queue => Admission::Dropped,
        }
    }

    /// A started arrival finished. Returns the queued arrival that inherits its slot, if the
    /// cap allows one.
    pub fn release(&self) -> Option<Arrival> {
        let n = self.in_flight.get().saturating_sub(1);
        if n < self.cap.get() {
            if let Some(next) = self.queue.borrow_mut().pop_front() {
                return Some(next);
            }
        }
        self.in_flight.set(n);
        None
    }

    /// Empties the queue (the run is ending): these arrivals are dropped.
    pub fn take_queue(&self) -> VecDeque<Arrival> {
        std::mem::take(&mut *self.queue.borrow_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arrival(phase: usize) -> Arrival {
        Arrival {
            phase,
            scenario: 0,
            intended: Instant::now(),
        }
    }

    #[test]
    fn drop_counts_what_does_not_fit() {
        let f = Inflight::new(10);
        f.set_limits(2, Overflow::Drop);
        assert_eq!(f.admit(arrival(0)), Admission::Start);
        assert_eq!(f.admit(arrival(0)), Admission::Start);
        assert_eq!(f.admit(arrival(0)), Admission::Dropped);
        assert_eq!(f.release(), None);
        assert_eq!(f.admit(arrival(0)), Admission::Start);
    }

    #[test]
    fn queue_keeps_order_and_hands_slots_over() {
        let f = Inflight::new(2);
        f.set_limits(1, Overflow::Queue);
        assert_eq!(f.admit(arrival(0)), Admission::Start);
        assert_eq!(f.admit(arrival(1)), Admission::Queued);
        assert_eq!(f.admit(arrival(2)), Admission::Queued);
        assert_eq!(f.admit(arrival(3)), Admission::Dropped, "queue is bounded");
        assert_eq!(f.release().map(|a| a.phase), Some(1));
        assert_eq!(f.in_flight(), 1, "the slot passed to the queued arrival");
        assert_eq!(f.release().map(|a| a.phase), Some(2));
        assert_eq!(f.release(), None);
        assert_eq!(f.in_flight(), 0);
    }

    proptest! {
        // Whatever the sequence of arrivals and completions, in-flight never exceeds the cap
        // and every arrival is started, queued or dropped exactly once.
        #[test]
        fn never_over_the_cap(cap in 1usize..8, ops in proptest::collection::vec(any::<bool>(), 0..300), queue in any::<bool>()) {
            let f = Inflight::new(5);
            f.set_limits(cap, if queue { Overflow::Queue } else { Overflow::Drop });
            let (mut started, mut queued, mut dropped, mut running) = (0usize, 0usize, 0usize, 0usize);
            for arrive in ops {
                if arrive {
                    match f.admit(arrival(0)) {
                        Admission::Start => { started += 1; running += 1; }
                        Admission::Queued => queued += 1,
                        Admission::Dropped => dropped += 1,
                    }
                } else if running > 0 {
                    running -= 1;
                    if f.release().is_some() { running += 1; started += 1; queued -= 1; }
                }
                prop_assert!(running <= cap);
                prop_assert_eq!(running, f.in_flight());
                prop_assert_eq!(queued, f.queued());
            }
            prop_assert!(started + queued + dropped > 0 || f.in_flight() == 0);
        }
    }
}
