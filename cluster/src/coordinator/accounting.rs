//! Where a cluster run's planned arrivals went, for its result ([`Accounting`]): the plan's own
//! count, what the agents' reports hold, what lost agents sent but never reported (estimated
//! from the schedule), and what nobody sent. A run that lost any of it is *degraded*, and says
//! why: a result never hides a loss.

use ptl_bytecode::Plan;
use ptl_engine::result::{Accounting, RunResult};
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::vm::AgentShare;

/// How long an agent goes between reports: what a lost agent may have sent after its last.
pub const REPORT_INTERVAL_MS: i64 = 1000;

/// A lost agent that never said `done`: its share and where its reports stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreported {
    pub agent: String,
    pub rate_fraction: f64,
    /// Run time (ms from the start) where its last reported interval ended.
    pub reported_until_ms: i64,
    /// Run time when the coordinator saw it gone: it sent nothing after that.
    pub lost_at_ms: i64,
    /// It was not gone but still sending when the coordinator stopped waiting for it (the
    /// run's grace ran out): it may have sent all the way to `lost_at_ms`, not only for one
    /// more reporting interval.
    pub still_sending: bool,
}

/// Planned arrivals of the whole plan (all agents) between two run times.
pub fn planned_between(timeline: &Timeline, from_ms: i64, until_ms: i64) -> f64 {
    let solo = AgentShare::solo();
    let (from_us, until_us) = (from_ms.max(0) as u64 * 1000, until_ms.max(0) as u64 * 1000);
    if until_us <= from_us {
        return 0.0;
    }
    timeline
        .phases
        .iter()
        .map(|p| {
            let at = |t_us: u64| p.planned_arrivals(&solo, t_us.saturating_sub(p.start_us));
            at(until_us) - at(from_us)
        })
        .sum()
}

/// The account of `result` (already rendered from the merged record), given the lost agents
/// that never reported their last interval, the arrivals agents dropped for want of their
/// lease, the agents that took part, and what agents said of their own part (an error, a
/// refusal, a rate cap), each a loss whatever the counts say.
pub fn account(
    plan: &Plan,
    result: &RunResult,
    lost: &[Unreported],
    fenced: u64,
    agents: usize,
    agent_notes: Vec<String>,
) -> Accounting {
    let timeline = Timeline::of(plan, &AgentShare::solo());
    let solo = AgentShare::solo();
    let planned: f64 = timeline
        .phases
        .iter()
        .zip(&result.phases)
        .map(|(p, r)| {
            let running_s = (r.duration_s - r.paused_ms as f64 / 1000.0).max(0.0);
            p.planned_arrivals(&solo, (running_s * 1e6) as u64)
        })
        .sum();
    let planned = planned.round() as u64;
    let reported: u64 = result.phases.iter().map(|p| p.planned).sum();
    let unreported: f64 = lost
        .iter()
        .map(|l| {
            let until = if l.still_sending {
                l.lost_at_ms
            } else {
                (l.reported_until_ms + REPORT_INTERVAL_MS).min(l.lost_at_ms)
            };
            l.rate_fraction * planned_between(&timeline, l.reported_until_ms, until)
        })
        .sum();
    let unreported = unreported.round() as u64;
    let lost_share = planned.saturating_sub(reported + unreported);
    // Each agent's schedule rounds its own count of each phase: that much is not a loss.
    let open_phases = timeline.phases.iter().filter(|p| p.is_open()).count();
    let rounding = (agents * open_phases) as u64;

    let mut reasons = Vec::new();
    for window in &result.degraded {
        reasons.push(match window.until_s {
            Some(until) => format!(
                "{} was lost: its share went unsent from {:.1} s to {:.1} s",
                window.agent, window.from_s, until
            ),
            None => format!(
                "{} was lost at {:.1} s and its share was not taken over",
                window.agent, window.from_s
            ),
        });
    }
    if fenced > 0 {
        reasons.push(format!(
            "{fenced} arrival(s) not sent by agents that could not prove their place in the run \
             (paused or cut off from ZooKeeper)"
        ));
    }
    if unreported > 0 {
        reasons.push(format!(
            "about {unreported} request(s) sent by lost agents were never reported"
        ));
    }
    // A stop takes effect on each agent a few milliseconds apart from when the coordinator
    // saw it: in a run stopped early, arrivals short of the plan are not a fault by themselves.
    if lost_share > rounding && !result.stopped_early {
        reasons.push(format!(
            "{lost_share} planned arrival(s) were sent by no agent"
        ));
    }
    reasons.extend(agent_notes);
    Accounting {
        planned,
        reported,
        fenced,
        unreported,
        lost_share,
        degraded: !reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_engine::record::{Layout, Recorded};
    use ptl_engine::result::{summarize, DegradedWindow};
    use ptl_test_support::plans;

    /// A result of `plan` (one phase) that ran `ran_s` and whose reports hold `reported`
    /// arrivals, rendered by the runtime's summary code.
    fn result_of(plan: &Plan, ran_s: f64, reported: u64) -> RunResult {
        let layout = Layout::of(plan);
        let recorded = Recorded::new(1, layout.requests.len(), layout.scenarios.len());
        let mut r = summarize::build(summarize::SummaryInput {
            plan,
            layout: &layout,
            recorded: &recorded,
            plan_hash: String::new(),
            started_at: std::time::UNIX_EPOCH,
            duration: std::time::Duration::from_secs_f64(ran_s),
            phase_seconds: vec![ran_s; plan.phases.len()],
            phase_target_rps: vec![0.0; plan.phases.len()],
            stop_reason: None,
            thresholds: Vec::new(),
            series: Vec::new(),
        });
        r.phases[0].planned = reported;
        r
    }

    #[test]
    fn a_clean_run_is_not_degraded() {
        let plan = plans::plan(
            "http://127.0.0.1:9",
            vec![plans::rate("steady", 300.0, 10.0)],
        );
        let r = result_of(&plan, 10.0, 3000);
        let a = account(&plan, &r, &[], 0, 3, Vec::new());
        assert_eq!((a.planned, a.reported, a.lost_share), (3000, 3000, 0));
        assert!(!a.degraded, "{a:?}");
    }

    #[test]
    fn a_lost_share_is_split_into_unreported_and_unsent() {
        let plan = plans::plan(
            "http://127.0.0.1:9",
            vec![plans::rate("steady", 300.0, 10.0)],
        );
        // A third of the load, lost: reports stop at 3 s, noticed at 5.5 s, taken over then.
        let mut r = result_of(&plan, 10.0, 3000 - 250);
        r.degraded.push(DegradedWindow {
            agent: "agent-1".into(),
            from_s: 3.0,
            until_s: Some(5.5),
            epoch: 1,
        });
        let lost = Unreported {
            agent: "agent-1".into(),
            rate_fraction: 1.0 / 3.0,
            reported_until_ms: 3000,
            lost_at_ms: 5500,
            still_sending: false,
        };
        let a = account(&plan, &r, &[lost], 0, 3, Vec::new());
        assert_eq!(a.planned, 3000);
        // One reporting interval of its 100/s.
        assert_eq!(a.unreported, 100);
        assert_eq!(a.lost_share, 150);
        assert_eq!(a.planned, a.reported + a.unreported + a.lost_share);
        assert!(a.degraded);
        assert_eq!(a.reasons.len(), 3, "{:?}", a.reasons);
    }

    #[test]
    fn a_run_stopped_early_plans_only_what_it_ran() {
        let plan = plans::plan(
            "http://127.0.0.1:9",
            vec![plans::rate("steady", 200.0, 10.0)],
        );
        let r = result_of(&plan, 2.5, 500);
        let a = account(&plan, &r, &[], 0, 1, Vec::new());
        assert_eq!(a.planned, 500);
        assert!(!a.degraded);
    }

    #[test]
    fn fenced_arrivals_make_a_run_degraded() {
        let plan = plans::plan(
            "http://127.0.0.1:9",
            vec![plans::rate("steady", 100.0, 10.0)],
        );
        let r = result_of(&plan, 10.0, 1000);
        let a = account(&plan, &r, &[], 40, 2, Vec::new());
        assert!(a.degraded);
        assert_eq!(a.fenced, 40);
    }

    #[test]
    fn planned_between_integrates_across_phases() {
        let plan = plans::plan(
            "http://127.0.0.1:9",
            vec![plans::rate("a", 100.0, 2.0), plans::rate("b", 300.0, 2.0)],
        );
        let t = Timeline::of(&plan, &AgentShare::solo());
        assert!((planned_between(&t, 1000, 3000) - 400.0).abs() < 1e-6);
        assert_eq!(planned_between(&t, 3000, 1000), 0.0);
    }
}
