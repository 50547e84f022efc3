//! Scenario selection: a cumulative weight table per phase, so a pick is one RNG draw and a
//! binary search.

use super::VmError;
use ptl_bytecode::plan::Plan;
use rand::rngs::SmallRng;
use rand::RngExt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mix {
    scenarios: Vec<u32>,
    /// `cumulative[i]` is the total weight of `scenarios[..=i]`; the last entry is positive.
    cumulative: Vec<u64>,
}

impl Mix {
    /// The plan's default mix: every scenario at its weight (all equal if every weight is 0).
    pub fn default_for(plan: &Plan) -> Result<Mix, VmError> {
        let entries: Vec<(u32, u32)> = plan
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s.weight))
            .collect();
        match Mix::from_entries(&entries) {
            Some(m) => Ok(m),
            None => {
                let equal: Vec<(u32, u32)> = entries.iter().map(|&(i, _)| (i, 1)).collect();
                Mix::from_entries(&equal).ok_or(VmError::NoScenarios)
            }
        }
    }

    /// A phase's mix: its override if it has one with a positive total, else `default`.
    pub fn for_phase(plan: &Plan, phase: usize, default: &Mix) -> Result<Mix, VmError> {
        let p = &plan.phases[phase];
        let Some(entries) = &p.mix else {
            return Ok(default.clone());
        };
        for &(s, _) in entries {
            if s as usize >= plan.scenarios.len() {
                return Err(VmError::MixScenarioOutOfRange {
                    phase: p.name.clone(),
                    scenario: s,
                });
            }
        }
        Ok(Mix::from_entries(entries).unwrap_or_else(|| default.clone()))
    }

    fn from_entries(entries: &[(u32, u32)]) -> Option<Mix> {
        let mut scenarios = Vec::with_capacity(entries.len());
        let mut cumulative = Vec::with_capacity(entries.len());
        let mut total = 0u64;
        for &(s, w) in entries.iter().filter(|&&(_, w)| w > 0) {
            total += w as u64;
            scenarios.push(s);
            cumulative.push(total);
        }
        (total > 0).then_some(Mix {
            scenarios,
            cumulative,
        })
    }

    pub fn pick(&self, rng: &mut SmallRng) -> u32 {
        if let [only] = self.scenarios.as_slice() {
            return *only;
        }
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.scenarios.get(i).copied().unwrap_or(0)
    }
}
