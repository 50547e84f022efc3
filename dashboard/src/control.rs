//! What an operator may do to a run from the dashboard: each source of runs says how (a local
//! run's stop handle, a cluster run's state in ZooKeeper).

use std::future::Future;
use std::pin::Pin;

pub type ControlFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Control verbs for one run. Pause and resume are optional: a source that cannot hold its
/// schedulers says so and the API answers 501.
pub trait RunControl: Send + Sync {
    /// Asks the run to stop early with this reason; requests in flight finish.
    fn stop(&self, reason: String) -> ControlFuture;

    fn can_pause(&self) -> bool {
        false
    }

    fn pause(&self) -> ControlFuture {
        Box::pin(async { Err("this run cannot be paused".to_string()) })
    }

    fn resume(&self) -> ControlFuture {
        Box::pin(async { Err("this run cannot be paused".to_string()) })
    }
}
