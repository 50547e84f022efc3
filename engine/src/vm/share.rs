//! An agent's part of a distributed run: which slice of the rate, of `seq()` and of CSV rows
//! it owns, so that n agents together send what one agent would have sent alone.

use super::VmError;

/// Agent `index` of `count` sends `rate_fraction` of every phase's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentShare {
    pub index: u32,
    pub count: u32,
    pub rate_fraction: f64,
    /// Where this agent's `seq()` range starts: 0, or a fresh range for an agent that joined a
    /// run mid-way, whose slice's low values others may already have drawn.
    pub seq_base: u64,
}

impl AgentShare {
    /// A single agent running the whole plan.
    pub fn solo() -> AgentShare {
        AgentShare {
            index: 0,
            count: 1,
            rate_fraction: 1.0,
            seq_base: 0,
        }
    }

    /// Agent `index` of `count` with an equal share of the rate.
    pub fn equal(index: u32, count: u32) -> Result<AgentShare, VmError> {
        let share = AgentShare {
            index,
            count,
            rate_fraction: 1.0 / count.max(1) as f64,
            seq_base: 0,
        };
        share.validate()?;
        Ok(share)
    }

    pub fn validate(&self) -> Result<(), VmError> {
        if self.count == 0 {
            return Err(VmError::InvalidShare("agent count is 0".into()));
        }
        if self.index >= self.count {
            return Err(VmError::InvalidShare(format!(
                "agent index {} is not below the agent count {}",
                self.index, self.count
            )));
        }
        if !self.rate_fraction.is_finite() || !(0.0..=1.0).contains(&self.rate_fraction) {
            return Err(VmError::InvalidShare(format!(
                "rate fraction {} is not within 0..=1",
                self.rate_fraction
            )));
        }
        Ok(())
    }

    /// The `k`-th value (k = 0, 1, …) of `seq()` on this agent: agents interleave, so values
    /// never collide across agents (and agents with another `seq_base` draw another range).
    pub fn seq_value(&self, k: u64) -> u64 {
        k.wrapping_mul(self.count as u64)
            .wrapping_add(self.index as u64)
            .wrapping_add(self.seq_base)
    }

    /// The row of a dataset of `rows` rows used by this agent's `k`-th draw (k = 0, 1, …).
    ///
    /// Agent i owns rows i, i+n, i+2n … and wraps around within them, so agents never send the
    /// same row. With fewer rows than agents that is impossible: then every agent walks all
    /// the rows, each starting at a different one.
    pub fn csv_row(&self, rows: usize, k: u64) -> usize {
        if rows == 0 {
            return 0;
        }
        let n = self.count.max(1) as u64;
        let i = self.index as u64;
        let rows = rows as u64;
        if rows < n {
            return ((i + k) % rows) as usize;
        }
        // rows ≥ n > i, so this agent owns at least one row.
        let owned = (rows - i).div_ceil(n);
        (i + (k % owned) * n) as usize
    }

    /// The row of this agent's `k`-th draw from a `unique` feeder: row i + k·n while that is
    /// in the file, so that no agent draws a row another (or itself) drew; `None` once its rows
    /// are used up (at once for an agent past the row count).
    pub fn unique_row(&self, rows: usize, k: u64) -> Option<usize> {
        let row = k
            .checked_mul(self.count.max(1) as u64)?
            .checked_add(self.index as u64)?;
        (row < rows as u64).then_some(row as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn solo_owns_everything() {
        let s = AgentShare::solo();
        assert_eq!((s.index, s.count, s.rate_fraction), (0, 1, 1.0));
        assert!(s.validate().is_ok());
        let rows: Vec<usize> = (0..7).map(|k| s.csv_row(3, k)).collect();
        assert_eq!(rows, vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(s.seq_value(5), 5);
    }

    #[test]
    fn invalid_shares_are_rejected() {
        assert!(AgentShare::equal(0, 0).is_err());
        assert!(AgentShare::equal(3, 3).is_err());
        let bad = AgentShare {
            index: 0,
            count: 1,
            rate_fraction: f64::NAN,
            seq_base: 0,
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn fewer_rows_than_agents_share_rows() {
        let rows: Vec<usize> = (0..4)
            .map(|i| AgentShare::equal(i, 4).map(|s| s.csv_row(3, 0)))
            .collect::<Result<_, _>>()
            .expect("valid shares");
        assert_eq!(rows, vec![0, 1, 2, 0]);
        let agent = AgentShare::equal(2, 4).expect("valid share");
        let walked: HashSet<usize> = (0..3).map(|k| agent.csv_row(3, k)).collect();
        assert_eq!(walked.len(), 3);
    }

    proptest! {
        #[test]
        fn unique_rows_are_drawn_once_across_agents(count in 1u32..12, rows in 0usize..100) {
            let mut seen = vec![false; rows];
            for index in 0..count {
                let share = AgentShare::equal(index, count).expect("valid share");
                let mut k = 0;
                while let Some(row) = share.unique_row(rows, k) {
                    prop_assert!(!seen[row], "row {} twice", row);
                    seen[row] = true;
                    k += 1;
                }
                // Once out, always out.
                prop_assert_eq!(share.unique_row(rows, k + 7), None);
            }
            prop_assert!(seen.iter().all(|&s| s), "every row drawn");
        }

        #[test]
        fn seq_values_are_unique_across_agents(count in 1u32..16, per_agent in 1u64..200) {
            let mut seen = HashSet::new();
            for index in 0..count {
                let share = AgentShare::equal(index, count).expect("valid share");
                for k in 0..per_agent {
                    prop_assert!(seen.insert(share.seq_value(k)));
                }
            }
            // Together the agents hand out exactly 0 .. count*per_agent.
            prop_assert_eq!(seen.len() as u64, count as u64 * per_agent);
            prop_assert!(seen.iter().all(|&v| v < count as u64 * per_agent));
        }

        #[test]
        fn csv_rows_are_disjoint_and_cover(count in 1u32..12, rows in 1usize..100) {
            prop_assume!(rows >= count as usize);
            let mut owner = vec![None; rows];
            for index in 0..count {
                let share = AgentShare::equal(index, count).expect("valid share");
                for k in 0..(2 * rows as u64) {
                    let row = share.csv_row(rows, k);
                    prop_assert!(row < rows);
                    match owner[row] {
                        None => owner[row] = Some(index),
                        Some(o) => prop_assert_eq!(o, index),
                    }
                }
            }
            prop_assert!(owner.iter().all(Option::is_some));
        }
    }
}
