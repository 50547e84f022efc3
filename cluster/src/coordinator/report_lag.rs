//! How late agents' reports reach the merged live view, split where it can be measured: from
//! the end of a delta's second to its node's creation (the agent's write through ZooKeeper;
//! the creation time is the ZooKeeper server's clock) and from there to the coordinator
//! merging it (its poll). Together they are the lag from an interval's end to the live view
//! that issue 14 sets a target for; apart they say whether ZooKeeper or the coordinator is slow.

use ptl_engine::record::{new_histogram, record_value, Hist};
use serde::{Deserialize, Serialize};

/// Both parts of the lag, of every delta this coordinator merged in the run.
#[derive(Debug, Clone)]
pub struct ReportLag {
    write: Hist,
    merge: Hist,
}

impl Default for ReportLag {
    fn default() -> Self {
        ReportLag {
            write: new_histogram(),
            merge: new_histogram(),
        }
    }
}

/// The lag's parts as the live view shows them, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportLagMs {
    /// From a second's end to its delta's node being created.
    pub write_p50: u64,
    pub write_p99: u64,
    /// From the node's creation to the coordinator merging it.
    pub merge_p50: u64,
    pub merge_p99: u64,
}

impl ReportLag {
    /// One delta: its second ended at `window_end_ms`, its node was created at `created_ms`
    /// and merged at `merged_ms` (Unix ms). A delta written before its second's end (the last
    /// one, when a run stops early) counts as written at once.
    pub fn record(&mut self, window_end_ms: i64, created_ms: i64, merged_ms: i64) {
        let ms = |from: i64, to: i64| (to - from).max(0) as u64;
        record_value(&mut self.write, ms(window_end_ms, created_ms));
        record_value(&mut self.merge, ms(created_ms, merged_ms));
    }

    /// `None` before the first delta.
    pub fn summary(&self) -> Option<ReportLagMs> {
        (!self.write.is_empty()).then(|| ReportLagMs {
            write_p50: self.write.value_at_quantile(0.5),
            write_p99: self.write.value_at_quantile(0.99),
            merge_p50: self.merge.value_at_quantile(0.5),
            merge_p99: self.merge.value_at_quantile(0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_parts_add_up_to_the_lag_and_early_writes_count_as_none() {
        let mut lag = ReportLag::default();
        assert_eq!(lag.summary(), None);
        // 99 deltas written 100 ms after their second and merged 200 ms later; one written
        // 3 s late and merged 1 s later: the p99 shows the straggler's parts.
        for _ in 0..99 {
            lag.record(10_000, 10_100, 10_300);
        }
        lag.record(10_000, 13_000, 14_000);
        let s = lag.summary().expect("recorded");
        assert_eq!((s.write_p50, s.merge_p50), (100, 200));
        assert_eq!((s.write_p99, s.merge_p99), (100, 200));
        lag.record(10_000, 13_000, 14_000);
        let s = lag.summary().expect("recorded");
        assert!((2_995..=3_005).contains(&s.write_p99), "{s:?}");
        assert!((998..=1_002).contains(&s.merge_p99), "{s:?}");

        let mut early = ReportLag::default();
        early.record(10_000, 9_400, 9_500);
        assert_eq!(
            early.summary(),
            Some(ReportLagMs {
                write_p50: 0,
                write_p99: 0,
                merge_p50: 100,
                merge_p99: 100
            })
        );
    }
}
