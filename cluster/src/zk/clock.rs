//! An agent's clock offset against ZooKeeper's. The agent writes a node and reads back the
//! server's modification time (the leader's clock when it applied the write); the local clock
//! read before and after bounds when that happened, so the offset is known to ± half the
//! round trip. Start instants are in ZooKeeper time; each agent converts with its offset.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zookeeper_client::Client;

use crate::access::Node;
use crate::error::ClusterError;
use crate::zk::{self, layout};

/// `local = zookeeper + offset_ms`, within ± `uncertainty_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockOffset {
    pub offset_ms: i64,
    pub uncertainty_ms: i64,
}

impl ClockOffset {
    /// From one probe: local clock before the write, the server's mtime, local clock after.
    pub fn from_probe(
        local_before_ms: i64,
        server_mtime_ms: i64,
        local_after_ms: i64,
    ) -> ClockOffset {
        let (before, after) = if local_after_ms >= local_before_ms {
            (local_before_ms, local_after_ms)
        } else {
            (local_after_ms, local_before_ms)
        };
        // Midpoint rounded down without overflow, and a bound that covers it.
        let middle = before + (after - before) / 2;
        ClockOffset {
            offset_ms: middle - server_mtime_ms,
            uncertainty_ms: after - middle + 1,
        }
    }

    /// A ZooKeeper-clock instant on this machine's clock.
    pub fn to_local_ms(&self, zookeeper_ms: i64) -> i64 {
        zookeeper_ms + self.offset_ms
    }

    /// Whether the offset may exceed `tolerance_ms` (taking the uncertainty into account).
    pub fn exceeds(&self, tolerance_ms: i64) -> bool {
        self.offset_ms.abs() - self.uncertainty_ms > tolerance_ms
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Probes `samples` times (at least once) and keeps the tightest probe.
pub async fn measure(
    client: &Client,
    name: &str,
    samples: u32,
) -> Result<ClockOffset, ClusterError> {
    let path = layout::clock_probe(name);
    zk::create_if_missing(client, &path, b"", Node::ClockProbe).await?;
    let mut best: Option<ClockOffset> = None;
    for _ in 0..samples.max(1) {
        let before = now_ms();
        let stat = client
            .set_data(&path, b"", None)
            .await
            .map_err(|e| ClusterError::zk("write", &path, e))?;
        let after = now_ms();
        let probe = ClockOffset::from_probe(before, stat.mtime, after);
        if best.is_none_or(|b| probe.uncertainty_ms < b.uncertainty_ms) {
            best = Some(probe);
        }
    }
    best.ok_or_else(|| ClusterError::SessionLost("no clock probe".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_true_offset_lies_within_the_uncertainty(
            server_at in 0i64..4_000_000_000_000,
            true_offset in -100_000i64..100_000,
            before_gap in 0i64..500,
            after_gap in 0i64..500,
        ) {
            // The server stamped the write at `server_at`; locally that was
            // `server_at + true_offset`, between our two reads.
            let local_at = server_at + true_offset;
            let probe = ClockOffset::from_probe(local_at - before_gap, server_at, local_at + after_gap);
            prop_assert!((probe.offset_ms - true_offset).abs() <= probe.uncertainty_ms);
            prop_assert!(probe.uncertainty_ms <= (before_gap + after_gap + 1) / 2 + 1);
            prop_assert_eq!(probe.to_local_ms(server_at) - probe.offset_ms, server_at);
        }
    }

    #[test]
    fn tolerance_accounts_for_the_uncertainty() {
        let probe = ClockOffset {
            offset_ms: 120,
            uncertainty_ms: 30,
        };
        assert!(!probe.exceeds(100));
        assert!(probe.exceeds(80));
        let probe = ClockOffset {
            offset_ms: -200,
            uncertainty_ms: 5,
        };
        assert!(probe.exceeds(100));
    }
}
