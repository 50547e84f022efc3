//! How much of a run's merged past stays in ZooKeeper while it runs: at most about `cap`
//! intervals, whatever the run's length, the way the result's series bounds its points
//! (`ptl_engine::record::series`). Each interval is one node under `merged/`: seconds
//! `first..first + count` of the run, summed over every agent (histograms add, so a wide
//! interval is as exact as the seconds it replaces). While a run is young an interval is one
//! second; once more than `cap` blocks of `width` seconds exist, the width doubles and the
//! intervals sharing a block are merged, a few per fold. So the footprint stops growing after
//! the first `cap` seconds, and the per-interval HdrHistogram log of a long run has wider
//! intervals: an hour with the default 64 gives 64-second ones.
//!
//! Pure decisions over [`Interval`]s; `merge_mark` reads and writes the nodes.

use serde::{Deserialize, Serialize};

/// The default `cap` (`ptl coordinator --history-intervals`).
pub const DEFAULT_INTERVALS: usize = 64;

/// One node of the history: batch node `node` holds seconds `first..first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    pub node: u32,
    pub first: u64,
    pub count: u64,
}

impl Interval {
    /// The last second it holds.
    pub fn last(&self) -> u64 {
        self.first + self.count.max(1) - 1
    }
}

/// The block of `width` seconds that `second` falls in.
pub fn block(second: u64, width: u64) -> u64 {
    second / width.max(1)
}

/// The width to merge towards: doubled until the blocks the intervals touch are at most
/// `cap`. Never narrower than `width`: blocks only ever nest.
pub fn widen(intervals: &[Interval], width: u64, cap: usize) -> u64 {
    let mut width = width.max(1);
    while blocks(intervals, width) > cap.max(1) {
        width = width.saturating_mul(2);
    }
    width
}

/// Distinct blocks of `width` seconds the intervals start in.
fn blocks(intervals: &[Interval], width: u64) -> usize {
    let mut n = 0;
    let mut last = None;
    for i in intervals {
        let b = block(i.first, width);
        if last != Some(b) {
            n += 1;
            last = Some(b);
        }
    }
    n
}

/// The oldest pair of neighbours `(i, i + 1)` that lie in one block of `width`: the next two
/// to merge, if any.
pub fn next_merge(intervals: &[Interval], width: u64) -> Option<usize> {
    intervals.windows(2).position(|pair| {
        let b = block(pair[0].first, width);
        block(pair[0].last(), width) == b && block(pair[1].last(), width) == b
    })
}

/// Splits handed seconds (in order) into the runs that fall in one block of `width`: each
/// becomes one new interval.
pub fn groups(seconds: &[u64], width: u64) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, &s) in seconds.iter().enumerate() {
        match out.last_mut() {
            Some(r) if block(seconds[r.start], width) == block(s, width) => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The policy as `merge_mark::fold` applies it, over intervals alone.
    fn fold(
        intervals: &mut Vec<Interval>,
        width: &mut u64,
        next_node: &mut u32,
        handed: &[u64],
        cap: usize,
        max_merges: usize,
    ) {
        for g in groups(handed, *width) {
            intervals.push(Interval {
                node: *next_node,
                first: handed[g.start],
                count: g.len() as u64,
            });
            *next_node += 1;
        }
        *width = widen(intervals, *width, cap);
        for _ in 0..max_merges {
            let Some(i) = next_merge(intervals, *width) else {
                break;
            };
            let b = intervals.remove(i + 1);
            let a = &mut intervals[i];
            a.count += b.count;
            a.node = *next_node;
            *next_node += 1;
        }
    }

    #[test]
    fn one_second_intervals_until_the_cap_then_wider() {
        let (mut iv, mut width, mut node) = (Vec::new(), 1, 0);
        for s in 0..8 {
            fold(&mut iv, &mut width, &mut node, &[s], 8, 100);
        }
        assert_eq!((iv.len(), width), (8, 1));
        fold(&mut iv, &mut width, &mut node, &[8], 8, 100);
        assert_eq!(width, 2);
        let spans: Vec<_> = iv.iter().map(|i| (i.first, i.count)).collect();
        assert_eq!(spans, [(0, 2), (2, 2), (4, 2), (6, 2), (8, 1)]);
        // An hour at 2 s a fold, cap 64: 64-second intervals, never more than 64 nodes.
        let (mut iv, mut width, mut node) = (Vec::new(), 1, 0);
        let mut most = 0;
        for f in 0..1800u64 {
            fold(&mut iv, &mut width, &mut node, &[2 * f, 2 * f + 1], 64, 16);
            most = most.max(iv.len());
        }
        assert_eq!(width, 64);
        assert!(most <= 66, "{most} nodes at once");
        assert!(iv.len() <= 64, "{}", iv.len());
    }

    proptest! {
        /// Whatever the folds hand over: the intervals cover every second handed, in order,
        /// once; each lies in one block; and once merges catch up at most `cap` remain.
        #[test]
        fn intervals_cover_every_second_once_and_stay_bounded(
            per_fold in prop::collection::vec(0usize..6, 1..200),
            cap in 2usize..20,
            max_merges in 1usize..8,
        ) {
            let (mut iv, mut width, mut node, mut next) = (Vec::new(), 1u64, 0u32, 0u64);
            for n in per_fold {
                let handed: Vec<u64> = (next..next + n as u64).collect();
                next += n as u64;
                fold(&mut iv, &mut width, &mut node, &handed, cap, max_merges);
                let mut expect = 0;
                for i in &iv {
                    prop_assert_eq!(i.first, expect);
                    prop_assert_eq!(block(i.first, width), block(i.last(), width));
                    expect += i.count;
                }
                prop_assert_eq!(expect, next);
                let mut nodes: Vec<u32> = iv.iter().map(|i| i.node).collect();
                nodes.dedup();
                prop_assert_eq!(nodes.len(), iv.len());
            }
            for _ in 0..iv.len() {
                fold(&mut iv, &mut width, &mut node, &[], cap, max_merges);
            }
            prop_assert!(iv.len() <= cap, "{} intervals, cap {}", iv.len(), cap);
        }
    }
}
