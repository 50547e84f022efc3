//! Recording: what every worker counts and times, how workers' records merge, how they travel
//! between agents, and the run's per-second series.

pub(crate) mod classes;
pub(crate) mod histogram_merge;
pub(crate) mod layout;
pub(crate) mod recorder;
pub mod series;

pub use classes::{ErrorClass, FaultKind};
pub use histogram_merge::{
    decode_delta, encode_delta, merge_delta, IntervalDelta, MAGIC as DELTA_MAGIC,
};
pub use layout::Layout;
pub use recorder::{
    add_histogram, new_histogram, record_value, GeneratorCounts, Hist, Latencies, Outcome,
    PhaseCounts, Recorded, RequestStats, ScenarioStats, Timing,
};
