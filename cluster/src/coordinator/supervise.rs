//! Following a running run to its result, for the leading coordinator: every agent's deltas
//! merged (counted in the live view at once, summed per second of the run for the series and
//! the record), done markers read, lost agents rebalanced, agents that join given a vacated
//! share, `abort` thresholds judged on the merged data, then the result and its record.

use ptl_engine::result::generator::{GeneratorLoad, LoadSummary, Second};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_engine::record::Recorded;
use zookeeper_client::Client;

use crate::access::Node;
use crate::agent::registry;
use crate::agent::DoneMarker;
use crate::coordinator::accounting::{self, Unreported};
use crate::coordinator::joining::{self, Busy};
use crate::coordinator::merge_mark::{self, AgentMark, MergeMark, Span, FOLD_EVERY};
use crate::coordinator::merged_record;
use crate::coordinator::merged_windows::MergedWindows;
use crate::coordinator::publish::publish;
use crate::coordinator::report_lag::ReportLag;
use crate::coordinator::scale_hook::{self, ScaleHook};
use crate::coordinator::strain::{Measured, Strain};
use crate::coordinator::{refusal, CoordinatorConfig, LiveView, SummaryInput};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::observe::cursor::{self, AgentCursor, StoredDelta};
use crate::run::assignment::{self, Assignment, Share};
use crate::run::pauses;
use crate::run::{self, DegradedWindow, LossPolicy, RunPhase, RunSpec};
use crate::zk;
use crate::zk::clock;
use crate::zk::layout;

/// An agent that has not reported for this long is shown as silent in the live view (it
/// reports every second), well before its session times out and its share is rebalanced.
const SILENT_AFTER_MS: i64 = 2000;
/// How often the agents' done markers are read during a run.
const DONE_READ_EVERY: Duration = Duration::from_secs(1);

/// The run being followed and what following it needs.
pub(crate) struct RunContext<'a> {
    pub client: &'a Client,
    pub config: &'a CoordinatorConfig,
    pub id: &'a RunId,
    pub spec: &'a RunSpec,
    pub plan: &'a Plan,
    /// Agents taking part in this leader's runs, which are not free to join another.
    pub busy: &'a Busy,
}

/// One agent's part of the run as the coordinator follows it.
pub(crate) struct Member {
    id: AgentId,
    /// Its start, ZooKeeper clock, Unix ms: its window `k` began `k` seconds after it.
    start_at_ms: i64,
    /// The second of the run its window 0 falls in (its staggered start, rounded).
    offset_s: u64,
    /// A joiner sends nothing before this second of the run.
    joined_s: u64,
    /// Its delta nodes merged.
    seen: AgentCursor,
    /// Its latest window, held back until a later one comes or its done marker says how long
    /// that last one was, with its node's name.
    held: Option<(u64, Recorded, String)>,
    /// Its nodes handed to the merged windows and not folded yet, with the second each went
    /// into (non-decreasing: nodes are released in order, and late ones go to the open second).
    released: VecDeque<(u64, String)>,
    /// What of it is folded into the merge mark's history.
    folded: AgentMark,
    /// Each merged node not folded yet: its window and requests (for the mark's counts).
    node_counts: BTreeMap<String, (u64, u64)>,
    done: Option<DoneMarker>,
    lost: bool,
    /// Its share of the rate when it was last assigned one.
    rate_fraction: f64,
    /// Its newest window merged.
    last_window: Option<u64>,
    /// When a delta of it was last merged (ZooKeeper clock, Unix ms; its start before any).
    last_seen_ms: i64,
    /// When it was seen gone (ZooKeeper clock, Unix ms); `None` for one lost before this
    /// coordinator took the run over.
    lost_at_ms: Option<i64>,
    /// When the coordinator stopped waiting for it, still sending, its done marker not written
    /// (the run's grace ran out).
    given_up_at_ms: Option<i64>,
    /// Its saturation second by second, from its deltas' schedule lag and CPU (a coordinator
    /// that took the run over sees only the seconds merged since).
    load: LoadSummary,
    /// Whether it has been saturated lately, and by how much it fell short.
    strain: Strain,
}

impl Member {
    pub(crate) fn of(share: &Share, run_start_ms: i64) -> Member {
        let joined_s = share
            .joined_at_ms
            .map_or(0, |at| (at - run_start_ms).max(0) as u64 / 1000);
        Member {
            id: share.agent.clone(),
            start_at_ms: run_start_ms + share.start_offset_ms as i64,
            offset_s: (share.start_offset_ms + 500) / 1000,
            joined_s,
            seen: AgentCursor::default(),
            held: None,
            released: VecDeque::new(),
            folded: AgentMark::default(),
            node_counts: BTreeMap::new(),
            done: None,
            lost: false,
            load: LoadSummary::default(),
            strain: Strain::default(),
            rate_fraction: share.rate_fraction,
            last_window: None,
            last_seen_ms: run_start_ms + share.start_offset_ms as i64,
            lost_at_ms: None,
            given_up_at_ms: None,
        }
    }

    /// Where its reports stop: the end of its newest window merged (ZooKeeper clock, Unix ms).
    fn reported_until_ms(&self) -> i64 {
        self.start_at_ms + self.last_window.map_or(0, |w| (w as i64 + 1) * 1000)
    }

    /// Lost without saying `done`, or still sending when the coordinator stopped waiting: what
    /// it may have sent after its last report is unreported.
    fn unreported(&self, run_start_ms: i64) -> Option<Unreported> {
        if self.done.is_some() {
            return None;
        }
        let gone_at = match (self.lost, self.given_up_at_ms) {
            (true, _) => self.lost_at_ms,
            (false, Some(at)) => Some(at),
            // Neither lost nor given up on: it said done, or the run goes on.
            (false, None) => return None,
        };
        Some(Unreported {
            agent: self.id.0.clone(),
            rate_fraction: self.rate_fraction,
            reported_until_ms: self.reported_until_ms() - run_start_ms,
            lost_at_ms: gone_at.map_or(i64::MAX, |at| at - run_start_ms),
            still_sending: !self.lost,
        })
    }

    /// One recorded lost in an earlier epoch.
    pub(crate) fn lost(mut self) -> Member {
        self.lost = true;
        self
    }

    /// Said done before the run's end, handing its share over, and not rebalanced yet.
    fn handed_over(&self) -> bool {
        !self.lost && self.done.as_ref().is_some_and(|d| d.handed_over)
    }

    /// Refused the run (its allow-list or rate cap), and not rebalanced yet: why.
    fn refused_now(&self) -> Option<String> {
        if self.lost {
            return None;
        }
        self.refusal()
    }

    /// Why it refused the run, if it did: `agent <id> refused the run: <reason>`.
    fn refusal(&self) -> Option<String> {
        let reason = self.done.as_ref()?.refused.as_ref()?;
        Some(format!("agent {} refused the run: {reason}", self.id))
    }

    fn finished(&self) -> bool {
        self.done.is_some() || self.lost
    }

    /// How this poll looks for its deltas not merged yet (1,000 agents' folders listed every
    /// 250 ms poll were 4,000 listings a second).
    ///
    /// A running agent writes one delta a second, so nothing is read until a poll before the
    /// next is due (a second after the last one was found, less a poll), then every poll until
    /// it comes: merged as soon as when reading every poll. Its windows come one after another,
    /// each named by its number, so the next is read by name. The folder is listed instead for
    /// the first delta, for a member finished or gone from the registry (what it wrote last is
    /// merged before it is accounted), and after two seconds without news (a window never
    /// written: a lost write, a pause), so nothing named otherwise is missed.
    fn fetch(&self, now_ms: i64, poll: Duration, alive: &HashSet<AgentId>) -> Fetch {
        let gone = self.finished() || !alive.contains(&self.id);
        let since = now_ms - self.last_seen_ms;
        match self.last_window {
            _ if !gone && since < 1000 - poll.as_millis() as i64 => Fetch::Nothing,
            Some(w) if !self.finished() && since <= 2 * 1000 => Fetch::ByName(w + 1),
            _ => Fetch::List,
        }
    }

    /// Seconds of the run before this one are complete as far as this agent goes.
    fn horizon(&self) -> u64 {
        if self.finished() {
            return u64::MAX;
        }
        let window = self.held.as_ref().map_or(0, |(window, _, _)| *window);
        (self.offset_s + window).max(self.joined_s)
    }

    /// Hands the held window over, `seconds` long.
    fn release(&mut self, windows: &mut MergedWindows, seconds: f64) -> Result<(), ClusterError> {
        if let Some((window, recorded, node)) = self.held.take() {
            let second = windows
                .add(self.offset_s + window, seconds, &recorded)
                .map_err(|e| ClusterError::malformed("interval delta", &self.id.0, e))?;
            self.released.push_back((second, node));
        }
        Ok(())
    }

    /// Its released nodes that went into seconds before `next` (all handed over): moves its
    /// mark past them and returns them, to delete once the mark is written.
    fn fold(&mut self, next: u64) -> Vec<String> {
        let mut nodes = Vec::new();
        while self
            .released
            .front()
            .is_some_and(|(second, _)| *second < next)
        {
            if let Some((_, node)) = self.released.pop_front() {
                self.folded.node = node.clone();
                nodes.push(node);
            }
        }
        nodes
    }

    /// How long its last window was: from its window's start to when its engine returned.
    fn last_window_seconds(&self) -> f64 {
        let ended = self.done.as_ref().and_then(|d| d.ended_at_ms);
        match (ended, &self.held) {
            (Some(ended), Some((window, _, _))) => {
                let since_start = (ended - self.start_at_ms) as f64 / 1000.0;
                (since_start - *window as f64).clamp(0.0, 1.0)
            }
            _ => 1.0,
        }
    }
}

/// Follows a running run to its end: merges every delta, rebalances lost agents, gives joiners
/// a vacated share, judges `abort` thresholds, writes the live view, then the final result.
pub(crate) async fn follow(
    run: &RunContext<'_>,
    mut current: Assignment,
    mut members: Vec<Member>,
) -> Result<(), ClusterError> {
    let RunContext {
        client,
        config,
        id,
        spec,
        plan,
        busy,
    } = *run;
    let _free = joining::BusyRun { busy, run: id };
    for member in members.iter().filter(|m| !m.finished()) {
        busy.take(&member.id, id);
    }
    let joinable = joining::joinable(plan, spec);
    let growable = joining::rows_may_be_shared(plan);
    // Whether any epoch left part of the plan to no agent, for the verdict.
    let mut short_of_capacity = current.shortfall() > 0.0;
    let mut scale_hook = ScaleHook::new(config.scale_hook.clone());
    let start_at_ms = current.start_at_ms;
    let mut windows = MergedWindows::new(plan);
    let mut live = LiveView {
        epoch: current.epoch,
        agents: members.len(),
        requests: 0,
        errors: 0,
        dropped: 0,
        deltas: BTreeMap::new(),
        agent_requests: BTreeMap::new(),
        updated_at_ms: clock::now_ms(),
        started_at_ms: start_at_ms,
        p50_ms: 0.0,
        p99_ms: 0.0,
        paused: false,
        silent: BTreeMap::new(),
        shortfall_rps: 0.0,
        report_lag_ms: None,
    };
    let plan_ms = plan.duration_us() / 1000;
    let last_offset_ms = current
        .shares
        .iter()
        .chain(&current.departed)
        .map(|s| s.start_offset_ms)
        .max()
        .unwrap_or(0);
    // Agents get the grace from the plan's end, and from now: a coordinator that resumes a
    // run late (after ZooKeeper was away) leaves agents time to deliver what they buffered.
    let grace_ms = config.finish_grace.as_millis() as i64;
    let give_up_at = (start_at_ms + (last_offset_ms + plan_ms) as i64 + grace_ms)
        .max(clock::now_ms() + grace_ms);
    let mut stop_reason = None;
    let mut stopped_at_ms = None;
    // A run taken over while stopping is not stopped again.
    let mut aborted = run::state(client, id).await?.phase == RunPhase::Stopping;
    let mut pause_windows;
    let mut mark = restore(client, id, &mut members, &mut windows, &mut live).await?;
    let reader = zk::connect(&config.zk).await?;
    let mut folded_at = tokio::time::Instant::now();
    let mut registry = registry::Followed::default();
    let mut report_lag = ReportLag::default();
    let mut done_read_at: Option<tokio::time::Instant> = None;

    loop {
        // The plan's end moves by every pause: nothing is given up on, or refused, for them.
        pause_windows = pauses::windows(client, id).await?;
        live.paused = pauses::is_paused(&pause_windows);
        windows.set_pauses(pauses::clock(&pause_windows, start_at_ms));
        let paused_so_far = pauses::paused_ms(&pause_windows, start_at_ms, clock::now_ms());
        // The registry first: an agent that wrote its done marker and then went is seen gone
        // here, so its marker is read below, before it could be counted lost.
        let registered = registry.refresh(client).await?;
        let alive: HashSet<AgentId> = registered.iter().map(|a| a.id.clone()).collect();
        // Listed before merging: an agent done (or gone) by now has all its deltas written.
        // Done markers matter at the end: read once a second (a thousand agents' markers are
        // a thousand reads), and at once when an agent not done has left the registry.
        let gone = members
            .iter()
            .any(|m| !m.finished() && !alive.contains(&m.id));
        let done: BTreeMap<String, Vec<u8>> =
            if gone || done_read_at.is_none_or(|at| at.elapsed() >= DONE_READ_EVERY) {
                done_read_at = Some(tokio::time::Instant::now());
                zk::written_children(client, &layout::run_done(id))
                    .await?
                    .into_iter()
                    .collect()
            } else {
                BTreeMap::new()
            };
        for member in members.iter_mut().filter(|m| m.done.is_none()) {
            if let Some(data) = done.get(&member.id.0) {
                let path = layout::agent_done(id, &member.id);
                let marker: DoneMarker = serde_json::from_slice(data)
                    .map_err(|e| ClusterError::malformed("agent done", &path, e))?;
                member.done = Some(marker);
                busy.free(&member.id);
            }
        }
        // Agents' deltas are read over a session of their own: ZooKeeper serves a session's
        // requests in order, so on the leader's session they would wait behind its writes
        // (the live view every poll, the folds). `sync` first: that session's server then
        // holds every delta the registry and done markers just read imply.
        reader
            .sync("/")
            .await
            .map_err(|e| ClusterError::zk("sync", "/", e))?;
        let merged = merge_all_new(
            &reader,
            id,
            &mut members,
            &mut windows,
            &mut live,
            config.poll,
            &alive,
        )
        .await?;
        for m in merged {
            report_lag.record(m.window_end_ms, m.created_ms, m.merged_ms);
        }
        live.report_lag_ms = report_lag.summary();
        for member in members.iter_mut() {
            if member.done.is_some() {
                let seconds = member.last_window_seconds();
                member.release(&mut windows, seconds)?;
            } else if member.lost {
                member.release(&mut windows, 1.0)?;
            }
        }
        // Gone before saying done, done early because it shut down and handed its share
        // over, or refused to send (its allow-list or rate cap): the others take the share.
        let newly_lost: Vec<AgentId> = members
            .iter()
            .filter(|m| {
                (!alive.contains(&m.id) && !m.finished())
                    || m.handed_over()
                    || m.refused_now().is_some()
            })
            .map(|m| m.id.clone())
            .collect();
        let refusals: BTreeMap<AgentId, String> = members
            .iter()
            .filter_map(|m| m.refused_now().map(|r| (m.id.clone(), r)))
            .collect();
        if !newly_lost.is_empty() {
            let now = clock::now_ms();
            // From where each lost share stopped: the end of its last reported interval.
            let mut stopped_at = BTreeMap::new();
            for member in members.iter_mut().filter(|m| newly_lost.contains(&m.id)) {
                member.lost = true;
                member.lost_at_ms = Some(now);
                if let Some(share) = current.share_of(&member.id) {
                    member.rate_fraction = share.rate_fraction;
                }
                stopped_at.insert(member.id.clone(), member.reported_until_ms().min(now));
                member.release(&mut windows, 1.0)?;
                busy.free(&member.id);
            }
            let survivors: Vec<AgentId> = members
                .iter()
                .filter(|m| !m.lost)
                .map(|m| m.id.clone())
                .collect();
            let mut until = None;
            if !refusals.is_empty()
                && (survivors.is_empty() || spec.on_agent_loss == LossPolicy::Abort)
            {
                // Nobody left to send, or a loss fails the run: it fails with the reason.
                let reason = refusals.values().cloned().collect::<Vec<_>>().join("; ");
                run::stop(client, id, &reason).await?;
            }
            match spec.on_agent_loss {
                LossPolicy::Rebalance => {
                    if let Some(next) =
                        assignment::rebalance(&current, &survivors, now, plan.peak_rate())
                    {
                        current = next;
                        publish(client, id, &current).await?;
                        until = Some(now);
                    }
                }
                LossPolicy::Continue => {}
                LossPolicy::Abort => {
                    run::stop(client, id, "an agent was lost").await?;
                }
            }
            let epoch = current.epoch;
            run::update_state(client, id, |s| {
                for agent in &newly_lost {
                    s.degraded.push(DegradedWindow {
                        agent: agent.0.clone(),
                        from_ms: stopped_at.get(agent).copied().unwrap_or(now),
                        until_ms: until,
                        epoch,
                        reason: refusals.get(agent).cloned(),
                    });
                }
                true
            })
            .await?;
            live.epoch = epoch;
        } else if stopped_at_ms.is_none() {
            // Not in the same round as a loss: survivors first hear of the rebalance alone.
            let effective_at = clock::now_ms() + spec.start_delay_ms as i64;
            if effective_at < start_at_ms + (last_offset_ms + plan_ms) as i64 + paused_so_far {
                let mut joined = Vec::new();
                if joinable {
                    joined.extend(
                        admit_joiner(run, &mut current, &members, registered, effective_at).await?,
                    );
                }
                let strained = strained(&members);
                if joined.is_empty()
                    && growable
                    && (current.shortfall() > 0.0 || strained.agents > 0)
                {
                    joined =
                        add_capacity(run, &mut current, &members, registered, effective_at).await?;
                    if !joined.is_empty() {
                        // Shares changed: saturation is judged afresh on the new ones.
                        members.iter_mut().for_each(|m| m.strain.reset());
                    }
                }
                for member in joined {
                    busy.take(&member.id, id);
                    members.push(member);
                }
                live.agents = members.len();
                live.epoch = current.epoch;
            }
        }
        let strained = strained(&members);
        live.shortfall_rps =
            scale_hook::shortfall_rps(&current, plan.peak_rate().unwrap_or(0.0), &strained);
        scale_hook.ask(
            id,
            scale_hook::wanted_agents(&current, plan.peak_rate(), &strained),
        );
        short_of_capacity |= current.shortfall() > 0.0;
        let horizon = members
            .iter()
            .map(Member::horizon)
            .min()
            .unwrap_or(u64::MAX);
        if windows.advance(horizon) {
            if let Some(progress) = windows.progress() {
                (live.p50_ms, live.p99_ms) = (progress.p50_ms, progress.p99_ms);
            }
            // `abort` thresholds are judged here, on everything merged, never per agent.
            if !aborted {
                if let Some(expr) = windows.crossed_abort(plan) {
                    aborted = true;
                    run::stop(client, id, &format!("threshold {expr} crossed")).await?;
                }
            }
        }
        if folded_at.elapsed() >= FOLD_EVERY {
            folded_at = tokio::time::Instant::now();
            let cap = config.history_intervals;
            fold(client, id, &mut mark, &mut members, &mut windows, cap).await?;
        }
        live.updated_at_ms = clock::now_ms();
        live.silent = members
            .iter()
            .filter(|m| !m.finished() && live.updated_at_ms - m.last_seen_ms > SILENT_AFTER_MS)
            .map(|m| {
                let silent_s = (live.updated_at_ms - m.last_seen_ms) as f64 / 1000.0;
                (m.id.0.clone(), silent_s)
            })
            .collect();
        zk::put_json(
            client,
            &layout::run_live(id),
            &live,
            "live view",
            Node::Coordinated,
        )
        .await?;

        let state = run::state(client, id).await?;
        if state.phase == RunPhase::Stopping {
            stop_reason = state.reason.clone();
            stopped_at_ms.get_or_insert(clock::now_ms());
        }
        if members.iter().all(Member::finished) {
            break;
        }
        if clock::now_ms() > give_up_at + paused_so_far {
            stop_reason = Some("agents did not finish in time".into());
            let now = clock::now_ms();
            stopped_at_ms.get_or_insert(now);
            for member in members.iter_mut() {
                if !member.finished() {
                    member.given_up_at_ms = Some(now);
                }
                member.release(&mut windows, 1.0)?;
            }
            break;
        }
        tokio::time::sleep(config.poll).await;
    }

    // As `ptl run` reports it: up to the stop, or to the end of the schedule; the agents'
    // own end when they ended earlier.
    let ended_at_ms = members
        .iter()
        .filter_map(|m| m.done.as_ref().and_then(|d| d.ended_at_ms))
        .max()
        .unwrap_or_else(clock::now_ms);
    let end_ms = stopped_at_ms.map_or(ended_at_ms, |s: i64| s.min(ended_at_ms));
    let paused_total = pauses::paused_ms(&pause_windows, start_at_ms, end_ms).max(0) as u64;
    let duration_ms =
        ((end_ms - start_at_ms).max(0) as u64).min(last_offset_ms + plan_ms + paused_total);
    let duration = Duration::from_millis(duration_ms);
    let (merged, series) = windows.finish();
    let mut result = (config.summarise)(&SummaryInput {
        plan,
        spec,
        recorded: &merged,
        started_at_ms: start_at_ms,
        duration,
        stop_reason: stop_reason.clone(),
        series: &series,
        pauses: &pause_windows,
    });
    // Within the run: a loss noticed after its end (by a coordinator that took over late)
    // still covers only the run's own time.
    let run_s = result.duration_s;
    result.degraded = run::state(client, id)
        .await?
        .degraded
        .iter()
        .map(|w| {
            let mut w = w.from_start(start_at_ms);
            w.from_s = w.from_s.clamp(0.0, run_s);
            w.until_s = w.until_s.map(|u| u.clamp(w.from_s, run_s));
            w
        })
        .collect();
    let unreported: Vec<Unreported> = members
        .iter()
        .filter_map(|m| m.unreported(start_at_ms))
        .collect();
    let fenced = members
        .iter()
        .filter_map(|m| m.done.as_ref())
        .map(|d| d.fenced)
        .sum();
    // An agent that failed or refused its part, and one whose rate cap held back a larger
    // share it was given, sent less than planned.
    let errors = members.iter().filter_map(|m| {
        let error = m.done.as_ref()?.error.as_ref()?;
        Some(format!("{}: {error}", m.id))
    });
    let caps = members.iter().filter_map(|m| {
        let capped = m.done.as_ref()?.capped.as_ref()?;
        Some(format!("{}: capped: {capped}", m.id))
    });
    // Arrivals left to no agent are counted by the accounting; this says why.
    let capacity = short_of_capacity.then(|| {
        let declared: f64 = current
            .shares
            .iter()
            .chain(&current.departed)
            .filter_map(|s| s.capacity)
            .sum();
        format!(
            "capacity shortfall: the agents' declared capacity ({declared:.0}/s at most) was below \
             the plan's peak rate ({:.0}/s), so part of the plan was assigned to no agent",
            plan.peak_rate().unwrap_or(0.0)
        )
    });
    // Still sending when the coordinator stopped waiting: what it sent after its last report
    // merged is counted unreported, and the run says it is incomplete.
    let given_up = members
        .iter()
        .filter(|m| m.given_up_at_ms.is_some())
        .map(|m| {
            format!(
                "{}: had not finished its part when the coordinator stopped waiting (its reports \
             end at {:.1} s)",
                m.id,
                (m.reported_until_ms() - start_at_ms) as f64 / 1000.0
            )
        });
    let notes = errors.chain(caps).chain(capacity).chain(given_up).collect();
    let accounting = accounting::account(plan, &result, &unreported, fenced, members.len(), notes);
    let verdict = accounting
        .degraded
        .then(|| format!("degraded: {}", accounting.reasons.join("; ")));
    result.accounting = Some(accounting);
    result.signed_by = spec.signature.as_ref().map(|s| s.signer());
    result.generator = Some(GeneratorLoad::of_agents(
        members
            .iter()
            .map(|m| (m.id.0.clone(), m.load.clone()))
            .collect(),
    ));
    merged_record::store(client, id, &merged, start_at_ms, duration).await?;
    zk::put_json(
        client,
        &layout::run_result(id),
        &result,
        "run result",
        Node::Coordinated,
    )
    .await?;
    run::update_state(client, id, |s| {
        s.phase = RunPhase::Done;
        if s.reason.is_none() {
            s.reason = stop_reason.clone();
        }
        s.verdict = verdict.clone();
        true
    })
    .await?;
    Ok(())
}

/// Picks the run up where the merge mark says it was folded (a coordinator resuming it): the
/// folded seconds replayed into the collector, each agent's cursor and counts moved to its
/// mark, and the nodes a crash left at or below it deleted. A new run has no mark.
async fn restore(
    client: &Client,
    id: &RunId,
    members: &mut [Member],
    windows: &mut MergedWindows,
    live: &mut LiveView,
) -> Result<MergeMark, ClusterError> {
    let Some((mark, spans)) = merge_mark::read(client, id).await? else {
        return Ok(MergeMark::default());
    };
    windows.set_pauses(pauses::clock(
        &pauses::windows(client, id).await?,
        live.started_at_ms,
    ));
    for span in &spans {
        windows
            .replay(span)
            .map_err(|e| ClusterError::malformed("batch", &layout::run_merged(id), e))?;
    }
    (live.requests, live.errors, live.dropped) = (mark.requests, mark.errors, mark.dropped);
    for member in members.iter_mut() {
        let Some(folded) = mark.agents.get(&member.id.0) else {
            continue;
        };
        member.seen.advance(folded.node.clone());
        member.last_window = folded.last_window;
        live.deltas.insert(member.id.0.clone(), folded.deltas);
        live.agent_requests
            .insert(member.id.0.clone(), folded.requests);
        member.folded = folded.clone();
        let left = merge_mark::folded_left(client, id, &member.id, &folded.node).await?;
        merge_mark::delete(client, &left).await?;
    }
    Ok(mark)
}

/// Folds the seconds handed over since the last fold into the history and the merge mark, then
/// deletes the agents' nodes they hold (see [`merge_mark`]).
async fn fold(
    client: &Client,
    id: &RunId,
    mark: &mut MergeMark,
    members: &mut [Member],
    windows: &mut MergedWindows,
    history_intervals: usize,
) -> Result<(), ClusterError> {
    let batch = windows.take_handed();
    if batch.is_empty() {
        return Ok(());
    }
    let next = windows.next_second();
    let mut doomed = Vec::new();
    let mut next_mark = mark.clone();
    for Span { recorded, .. } in &batch {
        next_mark.requests += recorded.request.iter().map(|r| r.completed).sum::<u64>();
        next_mark.errors += recorded
            .request
            .iter()
            .map(|r| r.error_total())
            .sum::<u64>();
        next_mark.dropped += recorded.phase.iter().map(|p| p.dropped).sum::<u64>();
    }
    let mut folded = Vec::new();
    for member in members.iter_mut() {
        let nodes = member.fold(next);
        if nodes.is_empty() {
            continue;
        }
        let dir = layout::agent_reports(id, &member.id);
        doomed.extend(nodes.iter().map(|n| format!("{dir}/{n}")));
        folded.push((member.id.0.clone(), member.folded.node.clone(), nodes));
    }
    // The folded nodes' own counts, read back from the deltas merged (kept per node below).
    for (agent, node, nodes) in folded {
        let entry = next_mark.agents.entry(agent.clone()).or_default();
        entry.node = node;
        entry.deltas += nodes.len() as u64;
        for n in &nodes {
            if let Some(member) = members.iter_mut().find(|m| m.id.0 == agent) {
                if let Some((window, requests)) = member.node_counts.remove(n) {
                    entry.requests += requests;
                    entry.last_window = entry.last_window.max(Some(window));
                }
            }
        }
        if let Some(member) = members.iter_mut().find(|m| m.id.0 == agent) {
            member.folded = entry.clone();
        }
    }
    next_mark.next_second = next;
    let merged = merge_mark::fold(client, id, &mut next_mark, &batch, history_intervals).await?;
    *mark = next_mark;
    if merged > 0 {
        crate::coordinator::failpoint::hit("coordinator-after-merging-history");
    }
    crate::coordinator::failpoint::hit("coordinator-after-merge-mark");
    merge_mark::delete(client, &doomed).await
}

/// Gives an idle registered agent the share of a lost one, if the run has such a vacancy, at a
/// new epoch effective at `effective_at`; returns the new member.
async fn admit_joiner(
    run: &RunContext<'_>,
    current: &mut Assignment,
    members: &[Member],
    registered: &[registry::RegisteredAgent],
    effective_at: i64,
) -> Result<Option<Member>, ClusterError> {
    let lost: HashSet<AgentId> = members
        .iter()
        .filter(|m| m.lost)
        .map(|m| m.id.clone())
        .collect();
    let Some(vacated) = joining::vacancy(current, &lost) else {
        return Ok(None);
    };
    let ids: HashSet<AgentId> = members.iter().map(|m| m.id.clone()).collect();
    let Some(joiner) = joining::pick(registered, &ids, run.busy, |a| {
        refusal(a, run.spec).is_some()
    }) else {
        return Ok(None);
    };
    let keep_fractions = run.spec.on_agent_loss == LossPolicy::Continue;
    let next = assignment::admit(
        current,
        &joiner.id,
        joiner.info.capacity,
        &vacated,
        effective_at,
        keep_fractions,
        run.plan.peak_rate(),
    );
    let Some(share) = next.share_of(&joiner.id).cloned() else {
        return Ok(None);
    };
    publish(run.client, run.id, &next).await?;
    *current = next;
    if keep_fractions {
        // The lost agent's share is sent again: its degraded window ends here.
        run::update_state(run.client, run.id, |s| {
            for w in s.degraded.iter_mut() {
                if w.agent == vacated.agent.0 && w.until_ms.is_none() {
                    w.until_ms = Some(effective_at);
                }
            }
            true
        })
        .await?;
    }
    Ok(Some(Member::of(&share, current.start_at_ms)))
}

/// Spreads the run over every idle registered agent that may join, when the agents' declared
/// capacities leave part of the plan to nobody: scaling up adds rate. Returns the new members.
async fn add_capacity(
    run: &RunContext<'_>,
    current: &mut Assignment,
    members: &[Member],
    registered: &[registry::RegisteredAgent],
    effective_at: i64,
) -> Result<Vec<Member>, ClusterError> {
    let ids: HashSet<AgentId> = members.iter().map(|m| m.id.clone()).collect();
    let joiners: Vec<(AgentId, Option<f64>)> = registered
        .iter()
        .filter(|a| !ids.contains(&a.id) && !run.busy.contains(&a.id))
        .filter(|a| refusal(a, run.spec).is_none())
        .map(|a| (a.id.clone(), a.info.capacity))
        .collect();
    if joiners.is_empty() {
        return Ok(Vec::new());
    }
    let next = assignment::grow(current, &joiners, effective_at, run.plan.peak_rate());
    publish(run.client, run.id, &next).await?;
    *current = next;
    Ok(joiners
        .iter()
        .filter_map(|(id, _)| current.share_of(id))
        .map(|share| Member::of(share, current.start_at_ms))
        .collect())
}

/// The members still sending (not done, not lost) that are measured saturated.
fn strained(members: &[Member]) -> Measured {
    Measured::of(members.iter().filter(|m| !m.finished()).map(|m| &m.strain))
}

/// Every member's deltas not merged yet, read with the reads of all members in flight together
/// (`zk::pipelined`), then decoded and merged one by one, member by member in order: a node is
/// a few kB as stored but its decoded histograms take tens, so a thousand agents' backlog is
/// held as bytes.
async fn merge_all_new(
    client: &Client,
    id: &RunId,
    members: &mut [Member],
    windows: &mut MergedWindows,
    live: &mut LiveView,
    poll: Duration,
    alive: &HashSet<AgentId>,
) -> Result<Vec<MergedReport>, ClusterError> {
    let now = clock::now_ms();
    // By index: a closure over `&Member` arguments trips the `Send` check of the spawned run.
    let view: &[Member] = members;
    let fetched = zk::pipelined(0..view.len(), |i| async move {
        let member = &view[i];
        match member.fetch(now, poll, alive) {
            Fetch::Nothing => Ok(Vec::new()),
            Fetch::ByName(window) => fetch_by_name(client, id, member, window).await,
            Fetch::List => fetch_new(client, id, member).await,
        }
    })
    .await;
    let mut merged = Vec::new();
    for (member, new) in members.iter_mut().zip(fetched) {
        merged.extend(merge_new(id, member, new?, windows, live)?);
    }
    Ok(merged)
}

/// How a poll looks for a member's new deltas ([`Member::fetch`]).
enum Fetch {
    /// None can be due yet.
    Nothing,
    /// Read its nodes by name from this window on.
    ByName(u64),
    /// List its folder.
    List,
}

/// When a merged delta's second ended, its node was created and it was merged (Unix ms).
struct MergedReport {
    window_end_ms: i64,
    created_ms: i64,
    merged_ms: i64,
}

/// The member's delta nodes from window `window` on, read by name until one is not written:
/// one round trip per delta and one more, instead of a listing and then the reads.
async fn fetch_by_name(
    client: &Client,
    id: &RunId,
    member: &Member,
    mut window: u64,
) -> Result<Vec<(String, StoredDelta)>, ClusterError> {
    let mut new = Vec::new();
    loop {
        let node = layout::report_node_name(window);
        match cursor::read_delta_if_written(client, id, &member.id, &node).await? {
            Some(stored) => new.push((node, stored)),
            None => return Ok(new),
        }
        window += 1;
    }
}

/// The member's delta nodes after its cursor, as stored, oldest first.
async fn fetch_new(
    client: &Client,
    id: &RunId,
    member: &Member,
) -> Result<Vec<(String, StoredDelta)>, ClusterError> {
    let mut new = Vec::new();
    for node in member.seen.unread(client, id, &member.id).await? {
        let stored = cursor::read_delta_bytes(client, id, &member.id, &node).await?;
        new.push((node, stored));
    }
    Ok(new)
}

/// Merges the agent's deltas not merged yet: counted in the live view at once, handed to the
/// per-second windows one behind (see [`Member::held`]).
fn merge_new(
    id: &RunId,
    member: &mut Member,
    new: Vec<(String, StoredDelta)>,
    windows: &mut MergedWindows,
    live: &mut LiveView,
) -> Result<Vec<MergedReport>, ClusterError> {
    let mut merged = Vec::with_capacity(new.len());
    for (node, stored) in new {
        let delta = cursor::decode_node(id, &member.id, &node, &stored.bytes)?;
        merged.push(MergedReport {
            window_end_ms: member.start_at_ms + (delta.window as i64 + 1) * 1000,
            created_ms: stored.created_ms,
            merged_ms: clock::now_ms(),
        });
        let requests: u64 = delta.recorded.request.iter().map(|r| r.completed).sum();
        live.requests += requests;
        live.errors += delta
            .recorded
            .request
            .iter()
            .map(|r| r.error_total())
            .sum::<u64>();
        live.dropped += delta.recorded.phase.iter().map(|p| p.dropped).sum::<u64>();
        *live.deltas.entry(member.id.0.clone()).or_default() += 1;
        member.last_window = member.last_window.max(Some(delta.window));
        member.last_seen_ms = clock::now_ms();
        let second = Second::of(&delta.recorded);
        member.load.add(&second);
        member.strain.add(&second, &delta.recorded);
        *live.agent_requests.entry(member.id.0.clone()).or_default() += requests;
        member.release(windows, 1.0)?;
        member
            .node_counts
            .insert(node.clone(), (delta.window, requests));
        member.held = Some((delta.window, delta.recorded, node.clone()));
        member.seen.advance(node);
    }
    Ok(merged)
}
