//! Who generates which part of a run's load: each agent's share of every phase's rate, in
//! proportion to its declared capacity, numbered by epoch so a rebalance supersedes the shares
//! before it. Pure functions: the coordinator writes the result to `/runs/<id>/assignment`.
//!
//! `index`/`count` partition the values that must stay unique across the cluster (`seq()`, CSV
//! rows): agent `index` draws the values `≡ index (mod count)`. A rebalance keeps every
//! survivor's `index` and `count`, so values stay disjoint from those the lost agent drew. An
//! agent that joins mid-run draws `seq()` from a fresh range ([`SEQ_RANGE`]), since the low
//! values of any slice it could take may have been drawn already.
//!
//! When every agent declares a capacity and together they cannot carry the plan's peak rate,
//! each is given only what it declared it can carry: the fractions then sum below 1, and the
//! rest is the run's capacity shortfall, planned but assigned to nobody (and counted as such in
//! the result), until agents join and [`grow`] spreads the plan over them all.

use serde::{Deserialize, Serialize};

use crate::ids::AgentId;

/// One agent's part of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub agent: AgentId,
    /// Slice of the cluster-unique value spaces this agent draws.
    pub index: u32,
    pub count: u32,
    /// Fraction of every phase's rate (and of closed-model users) this agent generates.
    pub rate_fraction: f64,
    /// The weight the fraction came from (declared capacity, or the stand-in for none).
    pub weight: f64,
    /// Added to the run's start instant when the plan asks for a staggered start.
    pub start_offset_ms: u64,
    /// For an agent that joined mid-run: when its share began (ZooKeeper clock, Unix ms). It
    /// starts at the run's start like everyone, sending nothing until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at_ms: Option<i64>,
    /// The arrivals per second the agent declared it can carry (`ptl agent --capacity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// Where the agent's `seq()` values start (0, or a joiner's fresh range).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq_base: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The size of each `seq()` range: joiners of the `g`-th growth draw from `g × 2^48` on, so
/// ranges meet only after 2.8 × 10^14 values (a run at 10 million requests a second draws that
/// many in 325 days).
pub const SEQ_RANGE: u64 = 1 << 48;

/// The shares in force from `effective_at_ms` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// 0 for the first assignment, +1 for every rebalance.
    pub epoch: u32,
    /// The run's start instant, ZooKeeper clock, Unix milliseconds (the same in every epoch).
    pub start_at_ms: i64,
    /// When these shares take over from the previous epoch's (equals `start_at_ms` at epoch 0).
    pub effective_at_ms: i64,
    pub shares: Vec<Share>,
    /// Shares of agents lost in earlier epochs, as they last were: with `shares`, everyone who
    /// took part in the run (a coordinator taking over a run reads its members from here).
    #[serde(default)]
    pub departed: Vec<Share>,
    /// `seq()` ranges handed to joiners so far: the next joiner draws from
    /// `(seq_ranges + 1) × SEQ_RANGE`.
    #[serde(default)]
    pub seq_ranges: u32,
}

impl Assignment {
    pub fn share_of(&self, agent: &AgentId) -> Option<&Share> {
        self.shares.iter().find(|s| &s.agent == agent)
    }

    /// The epoch after this one, from `effective_at_ms` on, with these shares.
    fn next(
        &self,
        effective_at_ms: i64,
        shares: Vec<Share>,
        departed: Vec<Share>,
        seq_ranges: u32,
    ) -> Assignment {
        Assignment {
            epoch: self.epoch + 1,
            start_at_ms: self.start_at_ms,
            effective_at_ms,
            shares,
            departed,
            seq_ranges,
        }
    }

    /// The part of the plan's rate assigned to no agent (0 unless the agents' declared
    /// capacities fall short of the plan's peak).
    pub fn shortfall(&self) -> f64 {
        let assigned: f64 = self.shares.iter().map(|s| s.rate_fraction).sum();
        let short = 1.0 - assigned;
        // The fractions of a full assignment sum to 1 up to rounding.
        if short > 1e-9 {
            short
        } else {
            0.0
        }
    }
}

/// A declared capacity ptl can use: finite and above 0.
fn declared(capacity: Option<f64>) -> Option<f64> {
    capacity.filter(|v| v.is_finite() && *v > 0.0)
}

/// Holds each agent to what it declared it can carry of `peak_rate`, when every agent declared
/// a capacity (an agent of unknown capacity could take the rest, so nothing is capped then).
fn cap(shares: &mut [Share], peak_rate: Option<f64>) {
    let Some(peak) = peak_rate.filter(|p| p.is_finite() && *p > 0.0) else {
        return;
    };
    let capacities: Option<Vec<f64>> = shares.iter().map(|s| declared(s.capacity)).collect();
    let Some(capacities) = capacities else {
        return;
    };
    for (share, capacity) in shares.iter_mut().zip(capacities) {
        share.rate_fraction = share.rate_fraction.min(capacity / peak);
    }
}

/// The weight of an agent without a usable declared capacity: the mean of the declared ones (or
/// 1 when none declares), so it is neither starved nor favoured.
fn weights(capacities: &[Option<f64>]) -> Vec<f64> {
    let usable = |c: &Option<f64>| declared(*c);
    let declared: Vec<f64> = capacities.iter().filter_map(usable).collect();
    let stand_in = if declared.is_empty() {
        1.0
    } else {
        declared.iter().sum::<f64>() / declared.len() as f64
    };
    capacities
        .iter()
        .map(|c| usable(c).unwrap_or(stand_in))
        .collect()
}

/// Fractions proportional to the weights; the last takes the rounding remainder so they sum to 1.
fn fractions(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut fractions: Vec<f64> = weights.iter().map(|w| w / total).collect();
    if let Some((last, rest)) = fractions.split_last_mut() {
        *last = (1.0 - rest.iter().sum::<f64>()).max(0.0);
    }
    fractions
}

/// The first assignment of a run over `agents` (in registration order) with their declared
/// capacities. `stagger_ms` spaces the agents' starts (0 for a simultaneous start).
/// `peak_rate` is the plan's highest planned rate, which declared capacities are held to.
pub fn assign(
    agents: &[(AgentId, Option<f64>)],
    start_at_ms: i64,
    stagger_ms: u64,
    peak_rate: Option<f64>,
) -> Assignment {
    let capacities: Vec<Option<f64>> = agents.iter().map(|(_, c)| *c).collect();
    let weights = weights(&capacities);
    let fractions = fractions(&weights);
    let count = agents.len() as u32;
    let mut shares: Vec<Share> = agents
        .iter()
        .zip(weights.iter().zip(fractions))
        .enumerate()
        .map(
            |(index, ((agent, capacity), (&weight, rate_fraction)))| Share {
                agent: agent.clone(),
                index: index as u32,
                count,
                rate_fraction,
                weight,
                start_offset_ms: stagger_ms.saturating_mul(index as u64),
                joined_at_ms: None,
                capacity: declared(*capacity),
                seq_base: 0,
            },
        )
        .collect();
    cap(&mut shares, peak_rate);
    Assignment {
        epoch: 0,
        start_at_ms,
        effective_at_ms: start_at_ms,
        shares,
        departed: Vec::new(),
        seq_ranges: 0,
    }
}

/// Everyone's fraction again from the weights, then held to declared capacities.
fn renormalise(shares: &mut [Share], peak_rate: Option<f64>) {
    let weights: Vec<f64> = shares.iter().map(|s| s.weight).collect();
    for (share, fraction) in shares.iter_mut().zip(fractions(&weights)) {
        share.rate_fraction = fraction;
    }
    cap(shares, peak_rate);
}

/// The next epoch after some agents were lost: the survivors take over the lost share in
/// proportion to their weights (up to their declared capacities), keeping their value-space
/// slices. `None` when no agent survives.
pub fn rebalance(
    previous: &Assignment,
    alive: &[AgentId],
    effective_at_ms: i64,
    peak_rate: Option<f64>,
) -> Option<Assignment> {
    let mut shares: Vec<Share> = previous
        .shares
        .iter()
        .filter(|s| alive.contains(&s.agent))
        .cloned()
        .collect();
    if shares.is_empty() {
        return None;
    }
    renormalise(&mut shares, peak_rate);
    let departed = previous
        .departed
        .iter()
        .chain(previous.shares.iter().filter(|s| !alive.contains(&s.agent)))
        .cloned()
        .collect();
    Some(previous.next(effective_at_ms, shares, departed, previous.seq_ranges))
}

/// The next epoch with `joiner` taking the value-space slice `vacated` left by a lost agent,
/// from `effective_at_ms` on. With `keep_fractions` (the `continue` policy: the others kept
/// their shares when the agent was lost) the joiner takes over exactly the vacated fraction and
/// the vacated share moves to `departed`; otherwise (after a rebalance) everyone's fraction is
/// renormalised by weight, the joiner's weight being its declared capacity or the mean of the
/// others'. The joiner draws `seq()` from a fresh range.
pub fn admit(
    previous: &Assignment,
    joiner: &AgentId,
    capacity: Option<f64>,
    vacated: &Share,
    effective_at_ms: i64,
    keep_fractions: bool,
    peak_rate: Option<f64>,
) -> Assignment {
    let mut shares: Vec<Share> = previous
        .shares
        .iter()
        .filter(|s| s.agent != vacated.agent)
        .cloned()
        .collect();
    let mut departed = previous.departed.clone();
    if previous.shares.iter().any(|s| s.agent == vacated.agent) {
        departed.push(vacated.clone());
    }
    let mut weights: Vec<Option<f64>> = shares.iter().map(|s| Some(s.weight)).collect();
    weights.push(capacity);
    let weight = *self::weights(&weights).last().unwrap_or(&1.0);
    let seq_ranges = previous.seq_ranges + 1;
    shares.push(Share {
        agent: joiner.clone(),
        index: vacated.index,
        count: vacated.count,
        rate_fraction: vacated.rate_fraction,
        weight,
        start_offset_ms: 0,
        joined_at_ms: Some(effective_at_ms),
        capacity: declared(capacity),
        seq_base: u64::from(seq_ranges) * SEQ_RANGE,
    });
    if keep_fractions {
        cap(&mut shares, peak_rate);
    } else {
        renormalise(&mut shares, peak_rate);
    }
    previous.next(effective_at_ms, shares, departed, seq_ranges)
}

/// The next epoch with `joiners` added for capacity, from `effective_at_ms` on: the plan is
/// spread over everyone again by weight, up to declared capacities. The joiners share one
/// fresh `seq()` range (slices `0..n` of it) and read CSV rows by those slices, so their rows may
/// repeat rows the first agents read.
pub fn grow(
    previous: &Assignment,
    joiners: &[(AgentId, Option<f64>)],
    effective_at_ms: i64,
    peak_rate: Option<f64>,
) -> Assignment {
    let mut shares = previous.shares.clone();
    let mut capacities: Vec<Option<f64>> = shares.iter().map(|s| Some(s.weight)).collect();
    capacities.extend(joiners.iter().map(|(_, c)| *c));
    let weights = weights(&capacities);
    let seq_ranges = previous.seq_ranges + 1;
    let count = joiners.len() as u32;
    for (index, ((agent, capacity), weight)) in joiners
        .iter()
        .zip(&weights[previous.shares.len()..])
        .enumerate()
    {
        shares.push(Share {
            agent: agent.clone(),
            index: index as u32,
            count,
            rate_fraction: 0.0,
            weight: *weight,
            start_offset_ms: 0,
            joined_at_ms: Some(effective_at_ms),
            capacity: declared(*capacity),
            seq_base: u64::from(seq_ranges) * SEQ_RANGE,
        });
    }
    renormalise(&mut shares, peak_rate);
    previous.next(
        effective_at_ms,
        shares,
        previous.departed.clone(),
        seq_ranges,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agents(capacities: &[Option<f64>]) -> Vec<(AgentId, Option<f64>)> {
        capacities
            .iter()
            .enumerate()
            .map(|(i, c)| (AgentId(format!("agent-{i:010}")), *c))
            .collect()
    }

    fn capacity() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            3 => (1.0f64..1_000_000.0).prop_map(Some),
            1 => Just(None),
            1 => prop_oneof![Just(Some(0.0)), Just(Some(-5.0)), Just(Some(f64::NAN)), Just(Some(f64::INFINITY))],
        ]
    }

    proptest! {
        #[test]
        fn shares_sum_to_one_and_follow_capacity(caps in prop::collection::vec(capacity(), 1..40)) {
            let a = assign(&agents(&caps), 1_000, 0, None);
            let sum: f64 = a.shares.iter().map(|s| s.rate_fraction).sum();
            prop_assert!((sum - 1.0).abs() < 1e-9, "sum {sum}");
            for s in &a.shares {
                prop_assert!(s.rate_fraction >= 0.0);
                prop_assert_eq!(s.count, caps.len() as u32);
            }
            // Proportional: fraction / weight is the same for everyone.
            let ratio = a.shares[0].rate_fraction / a.shares[0].weight;
            for s in &a.shares {
                prop_assert!((s.rate_fraction / s.weight - ratio).abs() <= 1e-9 * ratio.max(1.0), "{s:?}");
            }
            // Declared capacities are the weights themselves.
            for (s, c) in a.shares.iter().zip(&caps) {
                if let Some(c) = c.filter(|v| v.is_finite() && *v > 0.0) {
                    prop_assert_eq!(s.weight, c);
                }
            }
            // Slices are a permutation of 0..count: disjoint value spaces.
            let mut indices: Vec<u32> = a.shares.iter().map(|s| s.index).collect();
            indices.sort();
            prop_assert_eq!(indices, (0..caps.len() as u32).collect::<Vec<_>>());
        }

        #[test]
        fn rebalance_keeps_the_total_and_the_slices(
            caps in prop::collection::vec(capacity(), 2..20),
            lost in prop::collection::vec(any::<bool>(), 2..20),
        ) {
            let first = assign(&agents(&caps), 5_000, 10, None);
            let alive: Vec<AgentId> = first
                .shares
                .iter()
                .zip(lost.iter().chain(std::iter::repeat(&false)))
                .filter(|(_, &gone)| !gone)
                .map(|(s, _)| s.agent.clone())
                .collect();
            match rebalance(&first, &alive, 9_000, None) {
                None => prop_assert!(alive.is_empty()),
                Some(next) => {
                    prop_assert_eq!(next.epoch, 1);
                    prop_assert_eq!(next.start_at_ms, 5_000);
                    prop_assert_eq!(next.effective_at_ms, 9_000);
                    prop_assert_eq!(next.shares.len(), alive.len());
                    // The lost are kept as departed: together, everyone who took part.
                    prop_assert_eq!(next.shares.len() + next.departed.len(), first.shares.len());
                    prop_assert!(next.departed.iter().all(|d| !alive.contains(&d.agent)));
                    let sum: f64 = next.shares.iter().map(|s| s.rate_fraction).sum();
                    prop_assert!((sum - 1.0).abs() < 1e-9);
                    for s in &next.shares {
                        let before = first.share_of(&s.agent).expect("survivor was assigned");
                        prop_assert_eq!(s.index, before.index);
                        prop_assert_eq!(s.count, before.count);
                        // Nobody's share shrinks when others leave.
                        prop_assert!(s.rate_fraction >= before.rate_fraction - 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn a_joiner_takes_a_vacated_slice_and_its_share() {
        let first = assign(
            &agents(&[Some(1000.0), Some(1000.0), Some(2000.0)]),
            0,
            0,
            None,
        );
        let lost = first.shares[1].clone();
        let survivors = [first.shares[0].agent.clone(), first.shares[2].agent.clone()];
        let rebalanced = rebalance(&first, &survivors, 100, None).expect("survivors");
        let joiner = AgentId("agent-0000000009".into());

        // After a rebalance: fractions follow weight again, over three agents.
        let next = admit(
            &rebalanced,
            &joiner,
            Some(1000.0),
            &lost,
            5_000,
            false,
            None,
        );
        assert_eq!(next.epoch, 2);
        assert_eq!(next.effective_at_ms, 5_000);
        let share = next.share_of(&joiner).expect("joined");
        assert_eq!((share.index, share.count), (lost.index, lost.count));
        // Its seq() values come from a range nobody drew from.
        assert_eq!((share.seq_base, next.seq_ranges), (SEQ_RANGE, 1));
        assert_eq!(share.joined_at_ms, Some(5_000));
        assert_eq!(share.start_offset_ms, 0);
        let fractions: Vec<f64> = next.shares.iter().map(|s| s.rate_fraction).collect();
        assert_eq!(fractions, [0.25, 0.5, 0.25]);
        assert_eq!(next.departed, rebalanced.departed);

        // Under `continue` the lost share was never removed: the joiner takes exactly it.
        let next = admit(&first, &joiner, None, &lost, 5_000, true, None);
        assert!(next.share_of(&lost.agent).is_none());
        assert_eq!(next.departed, std::slice::from_ref(&lost));
        let share = next.share_of(&joiner).expect("joined");
        assert_eq!(share.rate_fraction, lost.rate_fraction);
        // No declared capacity: the mean of the others' weights.
        assert_eq!(share.weight, 1500.0);
        let sum: f64 = next.shares.iter().map(|s| s.rate_fraction).sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn capacity_ratio_is_the_share_ratio() {
        let a = assign(&agents(&[Some(1000.0), Some(3000.0)]), 0, 0, None);
        assert!((a.shares[0].rate_fraction - 0.25).abs() < 1e-12);
        assert!((a.shares[1].rate_fraction - 0.75).abs() < 1e-12);
    }

    #[test]
    fn staggered_starts_follow_the_index() {
        let a = assign(&agents(&[None, None, None]), 0, 40, None);
        let offsets: Vec<u64> = a.shares.iter().map(|s| s.start_offset_ms).collect();
        assert_eq!(offsets, [0, 40, 80]);
    }

    #[test]
    fn declared_capacity_below_the_peak_leaves_a_shortfall() {
        // Two agents of 100/s for a plan peaking at 600/s: each carries what it declared.
        let a = assign(&agents(&[Some(100.0), Some(100.0)]), 0, 0, Some(600.0));
        for share in &a.shares {
            assert!((share.rate_fraction - 1.0 / 6.0).abs() < 1e-12, "{share:?}");
        }
        assert!((a.shortfall() - 2.0 / 3.0).abs() < 1e-12);
        // Enough capacity: proportional, nothing short.
        let a = assign(&agents(&[Some(100.0), Some(500.0)]), 0, 0, Some(600.0));
        assert_eq!(a.shortfall(), 0.0);
        // An agent of unknown capacity may take the rest: nothing is capped.
        let a = assign(&agents(&[Some(100.0), None]), 0, 0, Some(600.0));
        assert_eq!(a.shortfall(), 0.0);
    }

    proptest! {
        #[test]
        fn growth_adds_rate_up_to_capacity_and_fresh_seq_ranges(
            first in prop::collection::vec(1.0f64..1000.0, 1..6),
            added in prop::collection::vec(1.0f64..1000.0, 1..6),
            peak in 1.0f64..10_000.0,
        ) {
            let declared: Vec<Option<f64>> = first.iter().copied().map(Some).collect();
            let before = assign(&agents(&declared), 0, 0, Some(peak));
            let joiners: Vec<(AgentId, Option<f64>)> = added
                .iter()
                .enumerate()
                .map(|(i, c)| (AgentId(format!("agent-9{i:09}")), Some(*c)))
                .collect();
            let after = grow(&before, &joiners, 7_000, Some(peak));
            prop_assert_eq!(after.epoch, 1);
            prop_assert!(after.shortfall() <= before.shortfall() + 1e-12);
            let total: f64 = first.iter().chain(&added).sum();
            let assigned: f64 = after.shares.iter().map(|s| s.rate_fraction).sum();
            prop_assert!((assigned - (total / peak).min(1.0)).abs() < 1e-9, "{assigned}");
            for share in &after.shares {
                let capacity = share.capacity.expect("declared");
                prop_assert!(share.rate_fraction * peak <= capacity * (1.0 + 1e-9));
            }
            // Survivors keep their slices; joiners draw seq() from one new range, disjointly.
            for (old, new) in before.shares.iter().zip(&after.shares) {
                prop_assert_eq!((old.index, old.count, old.seq_base), (new.index, new.count, new.seq_base));
            }
            let mut seen = std::collections::HashSet::new();
            for share in &after.shares {
                for k in 0..50u64 {
                    let value = share.seq_base + k * share.count as u64 + share.index as u64;
                    prop_assert!(seen.insert(value), "{value} drawn twice");
                }
            }
        }
    }
}
