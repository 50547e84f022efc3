//! What the demo target is told at start: port, latency, error share, seed and capacity.

use crate::error::DemoTargetError;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct DemoTargetConfig {
    /// Port on 127.0.0.1; 0 lets the system pick a free one (see `DemoTarget::addr`).
    pub port: u16,
    /// Added to every counted request before it is answered.
    pub latency: Duration,
    /// Share (0..=1) of counted requests answered with 500.
    pub error_rate: f64,
    /// Decides which requests fail: the n-th counted request fails or not for a given seed,
    /// so the number of failures over N requests is reproducible.
    pub seed: u64,
    /// Requests per second the target can serve (`--capacity`): latency rises as the rate
    /// nears it and the excess is shed with 503 (see `capacity`). `None`: unlimited.
    pub capacity: Option<f64>,
}

impl Default for DemoTargetConfig {
    fn default() -> Self {
        DemoTargetConfig {
            port: 0,
            latency: Duration::ZERO,
            error_rate: 0.0,
            seed: 0,
            capacity: None,
        }
    }
}

impl DemoTargetConfig {
    pub(crate) fn validate(&self) -> Result<(), DemoTargetError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(DemoTargetError::InvalidErrorRate(self.error_rate));
        }
        if let Some(rps) = self.capacity {
            if !(rps.is_finite() && rps > 0.0) {
                return Err(DemoTargetError::InvalidCapacity(rps));
            }
        }
        Ok(())
    }
}
