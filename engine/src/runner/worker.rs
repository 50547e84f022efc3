//! One engine worker: an OS thread running a single-threaded tokio runtime that owns its share
//! of everything — its slice of the arrivals, its part of the connection pool and of the
//! in-flight cap, its VM state and its recorder — so the hot path takes no lock and never
//! crosses threads (the shape of wrk's thread-per-core design). The orchestrator talks to it
//! through three channels: the start instant, the stop signal, and harvest requests, which the
//! worker answers with what it recorded since the previous one.

use super::inflight::{Arrival, Inflight, QUEUE_LIMIT};
use super::inject::Injector;
use super::timeline::{after, split, Timeline};
use super::worker_pauses::{self, Holds};
use super::{closed_loop, iteration, open_loop};
use crate::coordination::{Pause, ShareChange};
use crate::http::{Endpoint, Pool};
use crate::lease::Lease;
use crate::record::{Layout, Recorded};
use crate::vm::{AgentShare, Iteration, Program, VmWorker};
use ptl_bytecode::plan::Load;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// A harvest request: the worker replies with everything recorded since the last one.
pub type Harvest = oneshot::Sender<Recorded>;

/// What a worker thread needs, moved into it at spawn.
pub struct WorkerSetup {
    pub index: usize,
    pub count: usize,
    pub program: Arc<Program>,
    pub layout: Arc<Layout>,
    pub timeline: Arc<Timeline>,
    pub share: AgentShare,
    pub injectors: Arc<Vec<Injector>>,
    pub vm: VmWorker,
    /// Where requests go, by host index: the plan's `target`, then its other hosts. Each
    /// gets its own connection pool.
    pub endpoints: Vec<EndpointSetup>,
    /// Checked on every DNS answer a connection uses.
    pub policy: Arc<crate::target_policy::TargetPolicy>,
    /// This worker's part of the agent's connections.
    pub connections: usize,
    /// HTTP/1.1 (a request per connection at a time) or HTTP/2 (streams on the connections).
    pub http: ptl_bytecode::HttpVersion,
    /// The plan's `timeout`, for requests without their own.
    pub timeout: Duration,
    /// The longest timeout any request has: what the drain at the end waits for.
    pub longest_timeout: Duration,
    /// Changes of the agent's share mid-run, from the coordination (a cluster rebalance).
    pub share_changes: Option<watch::Receiver<Vec<ShareChange>>>,
    /// The run's pauses (a dashboard's or the cluster's pause and resume).
    pub pauses: Option<watch::Receiver<Vec<Pause>>>,
    /// A cluster agent's permission to send.
    pub lease: Option<Arc<Lease>>,
    /// The request log's sink for this worker, when the run keeps one.
    pub log: Option<crate::request_log::Logger>,
}

/// One host requests go to, as every worker connects to it.
#[derive(Clone)]
pub struct EndpointSetup {
    pub host: String,
    pub port: u16,
    /// For an `https://` target.
    pub tls: Option<crate::http::TlsTarget>,
}

impl EndpointSetup {
    /// Every target of `program`, by host index, with its TLS settings.
    pub fn all(
        program: &Program,
        http: ptl_bytecode::HttpVersion,
        tls: &crate::http::TlsOptions,
    ) -> Result<Vec<EndpointSetup>, crate::error::RuntimeError> {
        program
            .targets()
            .map(|(scheme, authority)| {
                let host = authority.host().to_string();
                let tls = crate::http::tls::for_target(scheme, &host, tls)
                    .map_err(|e| crate::error::RuntimeError::InvalidOptions(e.to_string()))?;
                let tls = match http {
                    ptl_bytecode::HttpVersion::Http1 => tls,
                    ptl_bytecode::HttpVersion::Http2 => tls.map(|t| t.for_http2()),
                };
                let port = authority
                    .port_u16()
                    .unwrap_or(if tls.is_some() { 443 } else { 80 });
                Ok(EndpointSetup { host, port, tls })
            })
            .collect()
    }
}

/// A worker's report that it has finished its work: nothing is in flight any more. It then
/// keeps answering harvests until the orchestrator hangs up, so every recording travels the
/// same way and lands in the window the orchestrator assigns.
pub type Finished = Result<(), String>;

/// The orchestrator's side of one worker.
pub struct WorkerHandle {
    pub start: Option<oneshot::Sender<Instant>>,
    pub harvest: mpsc::UnboundedSender<Harvest>,
    pub done: oneshot::Receiver<Finished>,
}

/// Starts a worker thread. It waits for the start instant; if the start sender is dropped
/// it ends at once with nothing recorded.
pub fn spawn(
    setup: WorkerSetup,
    stop: watch::Receiver<Option<String>>,
) -> std::io::Result<WorkerHandle> {
    let (start_tx, start_rx) = oneshot::channel();
    let (harvest_tx, harvest_rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = oneshot::channel();
    // Detached: the thread ends by itself once the orchestrator hangs up.
    std::thread::Builder::new()
        .name(format!("ptl-worker-{}", setup.index))
        .spawn(move || {
            let index = setup.index;
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&rt, run(setup, start_rx, stop, harvest_rx, done_tx));
                }
                Err(e) => {
                    let _ = done_tx.send(Err(format!(
                        "worker {index}: cannot build its runtime: {e}"
                    )));
                }
            }
        })?;
    Ok(WorkerHandle {
        start: Some(start_tx),
        harvest: harvest_tx,
        done: done_rx,
    })
}

/// A worker's shared state, owned by its thread.
pub struct Worker {
    pub index: usize,
    pub count: usize,
    pub program: Arc<Program>,
    pub layout: Arc<Layout>,
    pub timeline: Arc<Timeline>,
    pub share: AgentShare,
    pub injectors: Arc<Vec<Injector>>,
    pub vm: RefCell<VmWorker>,
    pub rec: RefCell<Recorded>,
    /// A pool per host, by host index (see [`crate::record::RequestSlot::host`]).
    pub pools: Vec<Rc<Pool>>,
    pub timeout: Duration,
    longest_timeout: Duration,
    pub inflight: Inflight,
    pub share_changes: Option<watch::Receiver<Vec<ShareChange>>>,
    /// The run's pauses as this worker knows them: every planned instant goes through them.
    pub holds: Holds,
    lease: Option<Arc<Lease>>,
    pub log: Option<crate::request_log::Logger>,
    active: Cell<usize>,
    idle: Notify,
    stopped: Cell<bool>,
    winding_down: Cell<bool>,
    interrupt: Notify,
    spare: RefCell<Vec<Iteration>>,
}

impl Worker {
    pub fn stopped(&self) -> bool {
        self.stopped.get()
    }

    /// Whether an iteration intended at `intended` may start now: always, unless this is a
    /// cluster agent whose lease lapsed since then (see [`Lease`]).
    pub fn may_send(&self, intended: Instant) -> bool {
        self.lease.as_ref().is_none_or(|l| l.permits(intended))
    }

    /// Whether `t` is past the end of `phase` (moved by the pauses so far): what is sent then
    /// is not part of the phase's achieved rate.
    pub fn after_phase_end(&self, phase: usize, t: Instant) -> bool {
        self.timeline
            .phases
            .get(phase)
            .and_then(|p| self.holds.wall(p.end_us()))
            .is_some_and(|end| t > end)
    }

    /// No new scenario steps may start (the run is stopping or past its drain time).
    pub fn winding_down(&self) -> bool {
        self.winding_down.get()
    }

    fn stop(&self) {
        self.stopped.set(true);
        self.winding_down.set(true);
        self.interrupt.notify_waiters();
    }

    fn wind_down(&self) {
        self.winding_down.set(true);
        self.interrupt.notify_waiters();
    }

    /// Sleeps until `t`. False if interrupted by a stop or wind-down (or already stopped).
    pub async fn sleep_until(&self, t: Instant) -> bool {
        if self.winding_down.get() {
            return false;
        }
        if Instant::now() >= t {
            return true;
        }
        // Created before the flag is read again: a stop in between is not missed.
        let interrupted = self.interrupt.notified();
        if self.winding_down.get() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => !self.winding_down.get(),
            _ = interrupted => false,
        }
    }

    /// Resolves when the worker is told to stop or wind down.
    pub async fn interrupted(&self) {
        if self.winding_down.get() {
            return;
        }
        let interrupted = self.interrupt.notified();
        if self.winding_down.get() {
            return;
        }
        interrupted.await;
    }

    pub fn take_iteration(&self) -> Iteration {
        self.spare.borrow_mut().pop().unwrap_or_default()
    }

    pub fn return_iteration(&self, it: Iteration) {
        let mut spare = self.spare.borrow_mut();
        if spare.len() < 1024 {
            spare.push(it);
        }
    }

    /// One more task (iteration chain or virtual user) that the end of the run waits for.
    pub fn task_started(&self) {
        self.active.set(self.active.get() + 1);
    }

    pub fn task_ended(&self) {
        let n = self.active.get().saturating_sub(1);
        self.active.set(n);
        if n == 0 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no task is left, or `deadline`. True if none is left.
    async fn wait_idle(&self, deadline: Instant) -> bool {
        loop {
            if self.active.get() == 0 {
                return true;
            }
            let idle = self.idle.notified();
            if self.active.get() == 0 {
                return true;
            }
            tokio::select! {
                _ = idle => {}
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                    return self.active.get() == 0;
                }
            }
        }
    }

    /// An arrival the lease did not permit (see [`Worker::may_send`]) is held back: not
    /// sent, not in this agent's record (the cluster may have given the share to another agent
    /// by then), counted by the lease for the agent's account.
    pub fn hold_back(&self) {
        if let Some(lease) = &self.lease {
            lease.refused_one();
        }
    }

    /// Counts an arrival that will never run.
    pub fn drop_arrival(&self, a: &Arrival) {
        let first = self.layout.first_request(a.scenario).map(|r| r as usize);
        self.rec
            .borrow_mut()
            .dropped(a.phase, a.scenario as usize, first);
    }

    /// Starts an admitted arrival, and after it every queued arrival that inherits its slot.
    pub fn launch(self: &Rc<Self>, first: Arrival) {
        self.task_started();
        let w = self.clone();
        tokio::task::spawn_local(async move {
            let mut current = first;
            loop {
                if !iteration::run(&w, current.phase, current.scenario, current.intended).await {
                    w.drop_arrival(&current);
                }
                let next = loop {
                    match w.inflight.release() {
                        Some(n) if w.winding_down() => w.drop_arrival(&n),
                        // Already planned when it was queued: dropped, as at the end.
                        Some(n) if !w.may_send(n.intended) => w.drop_arrival(&n),
                        other => break other,
                    }
                };
                match next {
                    Some(n) => current = n,
                    None => break,
                }
            }
            w.task_ended();
        });
    }
}

async fn run(
    setup: WorkerSetup,
    start: oneshot::Receiver<Instant>,
    mut stop: watch::Receiver<Option<String>>,
    mut harvest: mpsc::UnboundedReceiver<Harvest>,
    done: oneshot::Sender<Finished>,
) {
    let (phases, requests, scenarios) = (
        setup.layout.phases.len(),
        setup.layout.requests.len(),
        setup.layout.scenarios.len(),
    );
    // As many HTTP/2 streams as this worker may ever have in flight: the phases' caps bound
    // them, not the connections.
    let streams = setup
        .timeline
        .phases
        .iter()
        .map(|p| split(p.max_inflight as u64, setup.count, setup.index) as usize)
        .max()
        .unwrap_or(1)
        .max(setup.connections);
    let pools = setup
        .endpoints
        .into_iter()
        .map(|e| {
            let endpoint = Endpoint::new(&e.host, e.port)
                .with_tls(e.tls)
                .with_policy(setup.policy.clone());
            match setup.http {
                ptl_bytecode::HttpVersion::Http1 => {
                    Pool::new(endpoint, setup.connections, setup.timeout)
                }
                ptl_bytecode::HttpVersion::Http2 => {
                    Pool::new_h2(endpoint, setup.connections, streams, setup.timeout)
                }
            }
        })
        .collect();
    let w = Rc::new(Worker {
        index: setup.index,
        count: setup.count,
        program: setup.program,
        layout: setup.layout,
        timeline: setup.timeline,
        share: setup.share,
        injectors: setup.injectors,
        vm: RefCell::new(setup.vm),
        rec: RefCell::new(Recorded::new(phases, requests, scenarios)),
        pools,
        timeout: setup.timeout,
        longest_timeout: setup.longest_timeout,
        inflight: Inflight::new(QUEUE_LIMIT),
        share_changes: setup.share_changes,
        holds: Holds::default(),
        lease: setup.lease,
        log: setup.log,
        active: Cell::new(0),
        idle: Notify::new(),
        stopped: Cell::new(false),
        winding_down: Cell::new(false),
        interrupt: Notify::new(),
        spare: RefCell::new(Vec::new()),
    });

    let hw = w.clone();
    let harvester = tokio::task::spawn_local(async move {
        while let Some(reply) = harvest.recv().await {
            let taken = hw.rec.borrow_mut().take();
            let _ = reply.send(taken);
        }
    });
    let sw = w.clone();
    tokio::task::spawn_local(async move {
        loop {
            if stop.borrow_and_update().is_some() {
                sw.stop();
                return;
            }
            if stop.changed().await.is_err() {
                return;
            }
        }
    });

    if let Ok(run_start) = start.await {
        w.holds.start(run_start, w.timeline.total_us);
        if let Some(pauses) = setup.pauses {
            worker_pauses::follow(w.clone(), pauses);
        }
        drive(&w).await;
    }
    let _ = done.send(Ok(()));
    let _ = harvester.await;
}

/// Runs the phases in order, then lets what is in flight finish. Phases start and end at
/// their plan instants, moved by the pauses.
async fn drive(w: &Rc<Worker>) {
    let timeline = w.timeline.clone();
    for phase in &timeline.phases {
        if !worker_pauses::sleep_until_plan(w, phase.start_us).await {
            break;
        }
        let cap = split(phase.max_inflight as u64, w.count, w.index) as usize;
        w.inflight.set_limits(cap, phase.overflow);
        match phase.load {
            Load::Users { users, think, .. } => {
                // Agents split the users as evenly as workers do.
                let agent = split(users as u64, w.share.count as usize, w.share.index as usize);
                let mine = split(agent, w.count, w.index) as usize;
                closed_loop::run(w, phase, mine, think).await;
            }
            Load::Pause { .. } => {
                worker_pauses::sleep_until_plan(w, phase.end_us()).await;
            }
            Load::Rate { .. } | Load::Ramp { .. } | Load::Steps { .. } => {
                open_loop::run(w, phase).await;
            }
        }
        if w.stopped() {
            break;
        }
    }
    // Requests in flight finish (each bounded by the timeout) and queued arrivals may still
    // start until one timeout after the end; then no new step starts, queued arrivals are
    // dropped, and one more timeout bounds the rest.
    // A step that got its connection just before the wind-down may still connect (one
    // timeout) and then wait for its answer (another).
    let grace = 2 * w.longest_timeout + Duration::from_secs(1);
    if !w.stopped() {
        w.wait_idle(after(Instant::now(), w.longest_timeout)).await;
    }
    w.wind_down();
    for a in w.inflight.take_queue() {
        w.drop_arrival(&a);
    }
    w.wait_idle(after(Instant::now(), grace)).await;
}
