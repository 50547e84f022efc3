//! One arrival's work: a scenario iteration (a single request for a top-level `request`). Each
//! request step is built by the VM, possibly given an injected fault, sent, judged by its
//! expects and captures, and recorded. Step `k+1` is intended to go when step `k` ended plus
//! any think time, so waiting for a connection shows as lag there too.
//!
//! An arrival counts as started when its first step gets a connection slot (or its first think
//! step begins); one cut off by the end of the run before that has not started. An iteration ends `completed` (every step
//! succeeded), `failed` (a step failed; the rest are `skipped`), or neither when an injected
//! fault or the end of the run cut it short (the rest are `skipped` as well).
//!
//! A request sent after its phase's end (queued or waiting for a connection past it) is also
//! counted as such, and so is its arrival when it was the iteration's first step: the phase's
//! achieved rate counts only what went out within it.

use super::exchange::{self, Answer, Exchanged, SendMode};
use super::inject::{corrupt_body, Injected};
use super::timeline::after_us;
use super::worker::Worker;
use crate::http::Want;
use crate::record::{ErrorClass, Outcome, Timing};
use crate::request_log::Entry;
use crate::response_check::FailureClass;
use crate::vm::{Iteration, StepKind, WireEdit};
use http::HeaderMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepEnd {
    /// Succeeded; the next step is intended at this instant.
    Next(Instant),
    /// Ran and failed.
    Failed,
    /// Ran, and an injected fault ended the iteration (not an error).
    Injected,
    /// Did not run: the run is ending.
    Interrupted,
}

thread_local! {
    /// The headers of an answer nobody asked the headers of.
    static NO_HEADERS: HeaderMap = HeaderMap::new();
}

/// Runs `f` with the answer's headers, or an empty map when they were not read.
fn with_headers<T>(headers: Option<&HeaderMap>, f: impl FnOnce(&HeaderMap) -> T) -> T {
    match headers {
        Some(h) => f(h),
        None => NO_HEADERS.with(f),
    }
}

fn failure_class(c: FailureClass) -> ErrorClass {
    match c {
        FailureClass::Status => ErrorClass::Status,
        FailureClass::Expect => ErrorClass::Expect,
        FailureClass::Capture => ErrorClass::Capture,
    }
}

/// Runs one iteration of `scenario`, intended to start at `intended`. False if the run ended
/// before it could start (the caller decides whether that is a dropped arrival).
pub async fn run(w: &Rc<Worker>, phase: usize, scenario: u32, intended: Instant) -> bool {
    // Boxed: an open-loop arrival's task awaits this, and tokio moves a task's future several
    // times while spawning it; a small task future makes that cheap, and the iteration's
    // state is allocated (and moved) once, here.
    Box::pin(run_timed(w, phase, scenario, intended))
        .await
        .started
}

/// How an iteration went, for the caller.
pub struct Ran {
    /// False if the run ended before the iteration could start.
    pub started: bool,
    /// When it completed, if it did: the end of its last answer (the clock is not read again
    /// for it), or the end of its last think time.
    pub ended: Option<Instant>,
    /// It did not start because a `unique` feeder ran out of rows (counted as `exhausted`).
    pub exhausted: bool,
}

/// [`run`], also telling when the iteration completed.
pub async fn run_timed(w: &Rc<Worker>, phase: usize, scenario: u32, intended: Instant) -> Ran {
    let mut it = w.take_iteration();
    let drawn = {
        let mut vm = w.vm.borrow_mut();
        w.program.reset_iteration(&mut vm, scenario, &mut it)
    };
    if drawn.is_err() {
        // A `unique` feeder has no row left here: the iteration never starts, and says why.
        w.rec.borrow_mut().exhausted(phase);
        w.return_iteration(it);
        return Ran {
            started: false,
            ended: None,
            exhausted: true,
        };
    }
    let steps = w.program.step_count(scenario);
    let mut started = false;
    let mut at = intended;
    // Request steps before this index ran; the ones from here on did not.
    let mut ran_upto = 0;
    let mut end = None;
    // Whether `at` is the end of an answer (the last step was a request), not a deadline.
    let mut at_is_now = false;
    let mut step = 0;
    while step < steps {
        if w.winding_down() {
            end = Some(StepEnd::Interrupted);
            break;
        }
        match w.program.step_kind(scenario, step) {
            Some(StepKind::Think { .. }) => {
                if !started {
                    begin(w, phase, scenario);
                    started = true;
                    if w.after_phase_end(phase, Instant::now()) {
                        w.rec
                            .borrow_mut()
                            .arrival_after_end(phase, scenario as usize);
                    }
                }
                let pause = w
                    .program
                    .think_time_us(&mut w.vm.borrow_mut(), scenario, step)
                    .unwrap_or(0);
                at = after_us(at, pause);
                // Boxed, like every wait off the request path, to keep the future small.
                if !Box::pin(w.sleep_until(at)).await {
                    end = Some(StepEnd::Interrupted);
                    break;
                }
                at_is_now = false;
            }
            Some(StepKind::Request) => {
                let result =
                    request_step(w, phase, scenario, step, at, &mut it, &mut started).await;
                if result != StepEnd::Interrupted {
                    ran_upto = step + 1;
                }
                match result {
                    StepEnd::Next(done) => {
                        at = done;
                        at_is_now = true;
                    }
                    other => {
                        end = Some(other);
                        break;
                    }
                }
            }
            None => {}
        }
        step += 1;
    }
    let mut ended = None;
    match end {
        None => {
            let now = if at_is_now { at } else { Instant::now() };
            let time = us(now.saturating_duration_since(intended));
            w.rec
                .borrow_mut()
                .iteration_ended(phase, scenario as usize, true, time);
            ended = Some(now);
        }
        Some(_) if !started => {}
        Some(e) => {
            let mut rec = w.rec.borrow_mut();
            for s in ran_upto..steps {
                if let Some(r) = w.layout.request_of(scenario, s) {
                    rec.skipped(phase, r as usize);
                }
            }
            if e == StepEnd::Failed {
                rec.iteration_ended(phase, scenario as usize, false, 0);
            }
        }
    }
    w.return_iteration(it);
    Ran {
        started,
        ended,
        exhausted: false,
    }
}

fn begin(w: &Worker, phase: usize, scenario: u32) {
    let mut rec = w.rec.borrow_mut();
    rec.started(phase);
    rec.iteration_started(phase, scenario as usize);
}

/// Counts the request (and, for an iteration's first, its arrival) as sent after its phase's
/// end when `sent` is past it. A request that never reached the wire counts by when it failed.
fn count_late(w: &Worker, phase: usize, scenario: u32, request: usize, first: bool, sent: Instant) {
    if w.after_phase_end(phase, sent) {
        let mut rec = w.rec.borrow_mut();
        rec.request_after_end(phase, request);
        if first {
            rec.arrival_after_end(phase, scenario as usize);
        }
    }
}

async fn request_step(
    w: &Rc<Worker>,
    phase: usize,
    scenario: u32,
    step: u32,
    at: Instant,
    it: &mut Iteration,
    started: &mut bool,
) -> StepEnd {
    let Some(request) = w.layout.request_of(scenario, step).map(|r| r as usize) else {
        return StepEnd::Next(at);
    };
    // A reference into the worker's injectors: the step's future stays small.
    let fault: Option<&Injected> = w
        .injectors
        .get(phase)
        .and_then(|inj| inj.pick(w.vm.borrow_mut().rng()));
    if let Some(Injected::Delay { us }) = fault {
        if !Box::pin(w.sleep_until(after_us(Instant::now(), *us))).await {
            return StepEnd::Interrupted;
        }
    }
    let pool = &w.pools[w.layout.requests[request].host];
    // The schedule lag ends here, when the generator gets to the request: waiting for a
    // connection after it (all busy with a slow target) is the pool's limit, counted apart,
    // not the generator's lateness.
    let begun = Instant::now();
    let mut lease = match pool.try_lease() {
        Some(l) => l,
        None => {
            let waited = Box::pin(async {
                tokio::select! {
                    l = pool.lease() => l,
                    _ = w.interrupted() => None,
                }
            })
            .await;
            match waited {
                Some(l) => {
                    w.rec
                        .borrow_mut()
                        .pool_wait(phase, request, us(begun.elapsed()));
                    l
                }
                None => return StepEnd::Interrupted,
            }
        }
    };
    // This step starts the iteration: when it goes out is when the arrival was sent.
    let first = !*started;
    if first {
        begin(w, phase, scenario);
        *started = true;
    }
    let how = match fault {
        Some(Injected::Abort) => SendMode::Abort,
        Some(Injected::Reset) => SendMode::Reset,
        _ => SendMode::Normal,
    };
    // In a block: nothing of the writing stays in the future across the exchange.
    let written = {
        let edit = match fault {
            // The malformed body goes with its own, correct length.
            Some(Injected::Corrupt) => WireEdit {
                header: None,
                body: Some(|len| corrupt_body(len.max(64))),
            },
            Some(Injected::Header { name, value }) => WireEdit {
                header: Some((name, value)),
                body: None,
            },
            _ => WireEdit::default(),
        };
        w.program
            .write_request(it, scenario, step, &edit, lease.request_buf())
            .ok()
    };
    let head_request = match written {
        Some(head) => head,
        None => {
            // A request the VM cannot render (say, a captured value that is not a valid
            // header) never reaches the wire: a client-side failure.
            count_late(w, phase, scenario, request, first, Instant::now());
            w.rec.borrow_mut().exchange(
                phase,
                request,
                None,
                Outcome::Failed {
                    class: ErrorClass::Io,
                    status: None,
                },
            );
            return StepEnd::Failed;
        }
    };
    // Only when logging (and sampled): the request line is copied, the rest is not.
    let logged = w
        .log
        .as_ref()
        .filter(|l| l.sampled())
        .map(|_| Logged::of(lease.written()));
    let want = Want {
        headers: w.program.needs_headers(scenario, step),
        body: w.program.needs_body(scenario, step),
    };
    let timeout = w
        .program
        .request_timeout(scenario, step)
        .unwrap_or(w.timeout);
    let done = exchange::perform(lease, head_request, how, timeout, want).await;
    count_late(
        w,
        phase,
        scenario,
        request,
        first,
        done.sent.unwrap_or(done.done),
    );

    let response_us = us(done.done.saturating_duration_since(at));
    let timing = done.sent.map(|sent| Timing {
        response_us,
        service_us: us(done.done.saturating_duration_since(sent)),
        lag_us: us(begun.saturating_duration_since(at)),
    });
    let mut entry = logged.map(|l| l.entry(phase, request, at, &done));
    let mut note = |outcome| {
        if let (Some(log), Some(mut e)) = (&w.log, entry.take()) {
            e.outcome = outcome;
            log.send(e);
        }
    };
    if let Some(f) = fault {
        let outcome = Outcome::Injected { kind: f.kind() };
        note(outcome);
        w.rec.borrow_mut().exchange(phase, request, None, outcome);
        // Captures still run on an answer, so the iteration can go on when they hold.
        return match done.answer {
            Answer::Response {
                status,
                headers,
                body,
                ..
            } => {
                let check = with_headers(headers.as_deref(), |headers| {
                    w.program.check_response(
                        it,
                        scenario,
                        step,
                        status,
                        headers,
                        &body,
                        response_us,
                    )
                });
                match check {
                    Ok(()) => StepEnd::Next(done.done),
                    Err(_) => StepEnd::Injected,
                }
            }
            Answer::Unanswered | Answer::Failed(_) => StepEnd::Injected,
        };
    }
    match done.answer {
        Answer::Response {
            status,
            headers,
            body,
            ..
        } => {
            let check = with_headers(headers.as_deref(), |headers| {
                w.program
                    .check_response(it, scenario, step, status, headers, &body, response_us)
            });
            let outcome = match &check {
                Ok(()) => Outcome::Success { status },
                Err(f) => Outcome::Failed {
                    class: failure_class(f.class),
                    status: Some(status),
                },
            };
            note(outcome);
            w.rec.borrow_mut().exchange(phase, request, timing, outcome);
            if check.is_ok() {
                StepEnd::Next(done.done)
            } else {
                StepEnd::Failed
            }
        }
        Answer::Failed(e) => {
            let class = e.class();
            // A timeout's time is real (the answer took at least that long); other failures
            // have no meaningful response time.
            let timing = if class == ErrorClass::Timeout {
                timing
            } else {
                None
            };
            let outcome = Outcome::Failed {
                class,
                status: None,
            };
            note(outcome);
            w.rec.borrow_mut().exchange(phase, request, timing, outcome);
            StepEnd::Failed
        }
        Answer::Unanswered => StepEnd::Injected,
    }
}

/// What the request log needs of a request before it goes: its line and size.
struct Logged {
    line: Box<[u8]>,
    bytes: u64,
}

impl Logged {
    fn of(written: &[u8]) -> Logged {
        let first = written
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(written.len());
        // `GET /path HTTP/1.1` without its version.
        let line = &written[..first];
        let line = match line.iter().rposition(|&b| b == b' ') {
            Some(space) if line[space..].starts_with(b" HTTP/") => &line[..space],
            _ => line,
        };
        Logged {
            line: line.into(),
            bytes: written.len() as u64,
        }
    }

    /// The entry, its outcome to be filled in.
    fn entry(self, phase: usize, request: usize, intended: Instant, done: &Exchanged) -> Entry {
        Entry {
            phase: phase as u32,
            request: request as u32,
            intended,
            sent: done.sent,
            done: done.done,
            line: self.line,
            request_bytes: self.bytes,
            response_bytes: match &done.answer {
                Answer::Response { body_bytes, .. } => Some(*body_bytes),
                _ => None,
            },
            outcome: Outcome::Success { status: 0 },
        }
    }
}
