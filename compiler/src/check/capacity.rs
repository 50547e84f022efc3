//! Capacity arithmetic on a compiled plan: peak rates, planned arrivals, the mix, and by
//! Little's law how much a phase may have in flight if the target slows down to the timeout.
//! Shared by the warnings and by `ptl check --explain`.

use ptl_bytecode::{HttpVersion, Load, Phase, Plan, Scenario, Step, Think};

use crate::check::model::SizedByDefault;
use crate::check::settings::DEFAULT_CONNECTIONS;

/// Highest arrival rate of an open-loop phase, per second (`None` for pauses and closed phases).
pub fn peak_per_sec(load: &Load) -> Option<f64> {
    match *load {
        Load::Rate { per_sec, .. } => Some(per_sec),
        Load::Ramp { from, to, .. } => Some(from.max(to)),
        Load::Steps { from, to, by, .. } => {
            if by <= 0.0 {
                return Some(from);
            }
            let steps = ((to - from) / by).floor().max(0.0);
            Some(from + steps * by)
        }
        Load::Pause { .. } | Load::Users { .. } => None,
    }
}

/// Arrivals the phase plans to start (`None` for a closed phase: that depends on the target).
pub fn planned_arrivals(load: &Load) -> Option<f64> {
    let secs = |us: u64| us as f64 / 1e6;
    match *load {
        Load::Rate {
            per_sec,
            duration_us,
        } => Some(per_sec * secs(duration_us)),
        Load::Ramp {
            from,
            to,
            duration_us,
        } => Some((from + to) / 2.0 * secs(duration_us)),
        Load::Steps {
            from,
            to,
            by,
            every_us,
        } => {
            if by <= 0.0 {
                return Some(from * secs(every_us));
            }
            let steps = ((to - from) / by).floor().max(0.0) as u64 + 1;
            let sum: f64 = (0..steps).map(|k| from + k as f64 * by).sum();
            Some(sum * secs(every_us))
        }
        Load::Pause { .. } => Some(0.0),
        Load::Users { .. } => None,
    }
}

/// The phase's mix as `(scenario index, share)`, shares adding up to 1 (empty if all weights
/// are 0).
pub fn mix(plan: &Plan, phase: &Phase) -> Vec<(usize, f64)> {
    let weights: Vec<(usize, u32)> = match &phase.mix {
        Some(m) => m.iter().map(|&(s, w)| (s as usize, w)).collect(),
        None => plan
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.weight))
            .collect(),
    };
    let total: u64 = weights.iter().map(|&(_, w)| w as u64).sum();
    if total == 0 {
        return Vec::new();
    }
    weights
        .into_iter()
        .filter(|&(s, w)| w > 0 && s < plan.scenarios.len())
        .map(|(s, w)| (s, w as f64 / total as f64))
        .collect()
}

/// Whether some scenario of the phase's mix pauses between its steps (`think` inside it), so
/// its users are throttled even without a phase-wide think time.
pub fn mix_thinks(plan: &Plan, phase: &Phase) -> bool {
    mix(plan, phase).iter().any(|&(s, _)| {
        plan.scenarios[s]
            .steps
            .iter()
            .any(|step| matches!(step, Step::Think(t) if !t.is_none()))
    })
}

pub fn requests_per_iteration(scenario: &Scenario) -> usize {
    scenario
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Request(_)))
        .count()
}

/// The timeouts of one iteration's requests added, µs: each request's own, else the plan's.
pub fn timeouts_us(plan: &Plan, scenario: &Scenario) -> f64 {
    scenario
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Request(r) => Some(r.timeout_us.unwrap_or(plan.timeout_us) as f64),
            Step::Think(_) => None,
        })
        .sum()
}

/// Think time of one iteration, in µs, as its arrivals hold their slot: the longest of a
/// uniform range, the mean of an exponential (which has no longest; Little's law is about
/// means).
pub fn think_hold_us(scenario: &Scenario) -> u64 {
    scenario
        .steps
        .iter()
        .map(|s| match s {
            Step::Think(Think::Uniform { max_us, .. }) => *max_us,
            Step::Think(Think::Exponential { mean_us }) => *mean_us,
            Step::Request(_) => 0,
        })
        .fold(0, u64::saturating_add)
}

/// What a phase may need in flight at its peak rate if every response takes the timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Arrivals per second (requests, or scenario iterations).
    pub peak_per_sec: f64,
    /// Mean time one arrival stays in flight in that case, µs: the timeout for a request;
    /// its requests' timeouts plus its think times for a scenario.
    pub hold_us: f64,
    /// Arrivals in flight: `peak × hold` (Little's law). Counted against `max_inflight`.
    pub inflight: f64,
    /// Mean time one arrival holds a connection, µs: the timeouts of its requests.
    pub busy_us: f64,
    /// Requests in flight at once, each holding a connection (think time holds none).
    pub connections: f64,
}

pub fn demand(plan: &Plan, phase: &Phase) -> Option<Demand> {
    let peak = peak_per_sec(&phase.load)?;
    let mut hold = 0.0;
    let mut busy = 0.0;
    for (s, share) in mix(plan, phase) {
        let sc = &plan.scenarios[s];
        let timeouts = timeouts_us(plan, sc);
        hold += share * (timeouts + think_hold_us(sc) as f64);
        busy += share * timeouts;
    }
    Some(Demand {
        peak_per_sec: peak,
        hold_us: hold,
        inflight: peak * hold / 1e6,
        busy_us: busy,
        connections: peak * busy / 1e6,
    })
}

/// Most connections a default-sized pool opens (per agent, each opened only when needed):
/// 10,000 connections cost about 80 MiB (docs/performance.md); above it the plan says so.
pub const MAX_DEFAULT_CONNECTIONS: u32 = 10_000;

/// Sizes what the plan left to its defaults for the plan's busiest phase, by the same law as
/// the W0002/W0003 warnings: HTTP/1.1 connections for every request in flight if the target
/// slows down to the timeout (at least the default 100, at most
/// [`MAX_DEFAULT_CONNECTIONS`]; connections open on demand, so a fast target uses few), and
/// `max_inflight` for every arrival in flight, at least 10 per connection. So a plan that
/// uses only defaults can hold its rate through a slow target and checks clean; a plan whose
/// peak outgrows the caps is warned about. HTTP/2 connections carry 100 streams each: their
/// default count stays.
pub fn size_defaults(defaults: &SizedByDefault, plan: &mut Plan) {
    let (mut connections, mut inflight) = (0.0_f64, 0.0_f64);
    for d in plan.phases.iter().filter_map(|phase| demand(plan, phase)) {
        connections = connections.max(d.connections.ceil());
        inflight = inflight.max(d.inflight.ceil());
    }
    if defaults.connections && plan.http == HttpVersion::Http1 {
        plan.connections = (connections as u64)
            .clamp(DEFAULT_CONNECTIONS as u64, MAX_DEFAULT_CONNECTIONS as u64)
            as u32;
    }
    if defaults.max_inflight {
        let per_connection: u32 = match plan.http {
            HttpVersion::Http1 => 10,
            HttpVersion::Http2 => 100,
        };
        plan.max_inflight = plan
            .connections
            .saturating_mul(per_connection)
            .max(inflight.min(u32::MAX as f64) as u32);
    }
}

/// The cap on arrivals in flight during the phase.
pub fn max_inflight(plan: &Plan, phase: &Phase) -> u32 {
    phase.max_inflight.unwrap_or(plan.max_inflight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one_rate_plan(per_sec: f64, http: HttpVersion) -> Plan {
        let phase = Phase::new(
            "main",
            Load::Rate {
                per_sec,
                duration_us: 12_000_000,
            },
        );
        Plan {
            timeout_us: 10_000_000,
            connections: DEFAULT_CONNECTIONS,
            max_inflight: 1000,
            http,
            ..Plan::get_root("p", "http://127.0.0.1:9", "home", vec![phase])
        }
    }

    const ALL_DEFAULT: SizedByDefault = SizedByDefault {
        connections: true,
        max_inflight: true,
    };

    #[test]
    fn defaults_are_sized_for_the_peak_within_their_bounds() {
        let sized = |per_sec: f64| {
            let mut plan = one_rate_plan(per_sec, HttpVersion::Http1);
            size_defaults(&ALL_DEFAULT, &mut plan);
            (plan.connections, plan.max_inflight)
        };
        // 200/s × 10 s timeout = 2,000 requests in flight, each on its own connection.
        assert_eq!(sized(200.0), (2000, 20_000));
        // Never below the old defaults, never above the cap.
        assert_eq!(sized(5.0), (DEFAULT_CONNECTIONS, 1000));
        assert_eq!(sized(5000.0).0, MAX_DEFAULT_CONNECTIONS);
        assert_eq!(sized(5000.0).1, 100_000);
    }

    #[test]
    fn what_the_plan_sets_is_kept() {
        let mut plan = one_rate_plan(200.0, HttpVersion::Http1);
        plan.connections = 50;
        plan.max_inflight = 70;
        size_defaults(&SizedByDefault::default(), &mut plan);
        assert_eq!((plan.connections, plan.max_inflight), (50, 70));
        // Only max_inflight left to its default: sized on the connections the plan chose.
        size_defaults(
            &SizedByDefault {
                connections: false,
                max_inflight: true,
            },
            &mut plan,
        );
        assert_eq!((plan.connections, plan.max_inflight), (50, 2000));
        // HTTP/2 connections carry streams: their count is not sized.
        let mut h2 = one_rate_plan(200.0, HttpVersion::Http2);
        size_defaults(&ALL_DEFAULT, &mut h2);
        assert_eq!(h2.connections, DEFAULT_CONNECTIONS);
        assert_eq!(h2.max_inflight, 10_000);
    }

    #[test]
    fn peaks() {
        assert_eq!(
            peak_per_sec(&Load::Ramp {
                from: 0.0,
                to: 50.0,
                duration_us: 1
            }),
            Some(50.0)
        );
        assert_eq!(
            peak_per_sec(&Load::Steps {
                from: 10.0,
                to: 95.0,
                by: 10.0,
                every_us: 1
            }),
            Some(90.0)
        );
        assert_eq!(peak_per_sec(&Load::Pause { duration_us: 1 }), None);
    }

    #[test]
    fn planned_counts() {
        let rate = Load::Rate {
            per_sec: 100.0,
            duration_us: 60_000_000,
        };
        assert_eq!(planned_arrivals(&rate), Some(6000.0));
        let ramp = Load::Ramp {
            from: 0.0,
            to: 100.0,
            duration_us: 60_000_000,
        };
        assert_eq!(planned_arrivals(&ramp), Some(3000.0));
        // 10, 20, 30 per second, 10 s each.
        let steps = Load::Steps {
            from: 10.0,
            to: 30.0,
            by: 10.0,
            every_us: 10_000_000,
        };
        assert_eq!(planned_arrivals(&steps), Some(600.0));
    }

    proptest! {
        #[test]
        fn steps_plan_matches_their_duration(from in 0u32..100, n in 0u32..50, by in 1u32..20, every_s in 1u64..60) {
            let (from, by) = (from as f64, by as f64);
            let to = from + n as f64 * by;
            let load = Load::Steps { from, to, by, every_us: every_s * 1_000_000 };
            // The plan covers every step for its whole length, as the engine's duration does.
            prop_assert_eq!(load.duration_us(), (n as u64 + 1) * every_s * 1_000_000);
            let planned = planned_arrivals(&load).unwrap();
            let expected = (n as f64 + 1.0) * (from + to) / 2.0 * every_s as f64;
            prop_assert!((planned - expected).abs() < 1e-6 * expected.max(1.0));
            prop_assert_eq!(peak_per_sec(&load), Some(to));
        }

        #[test]
        fn ramp_plan_is_the_mean_rate(from in 0u32..10_000, to in 0u32..10_000, secs in 1u64..3600) {
            let load = Load::Ramp { from: from as f64, to: to as f64, duration_us: secs * 1_000_000 };
            let planned = planned_arrivals(&load).unwrap();
            let peak = peak_per_sec(&load).unwrap();
            prop_assert!(planned <= peak * secs as f64 + 1e-6);
            prop_assert!((planned - (from + to) as f64 / 2.0 * secs as f64).abs() < 1e-6);
        }
    }
}
