//! Recording: what every worker counts and times, how workers' records merge, how they travel
//! between agents, and the run's per-second series.

pub mod classes;
pub mod histogram_merge;
pub mod layout;
pub mod recorder;
pub mod series;

pub use classes::{ErrorClass, FaultKind};
pub use histogram_merge::{decode_delta, encode_delta, merge_delta, IntervalDelta};
pub use layout::Layout;
pub use recorder::{
    Hist, Latencies, Outcome, PhaseCounts, Recorded, RequestStats, ScenarioStats, Timing,
};
