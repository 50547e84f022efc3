//! The async runtimes the commands run on: each command picks its threads, the failure to start
//! one is said the same way everywhere.

use crate::exit::Exit;
use crate::output::fail;
use tokio::runtime::{Builder, Runtime};

/// The runtime `builder` describes, with its I/O and timers enabled.
pub fn start(builder: &mut Builder) -> Result<Runtime, Exit> {
    builder.enable_all().build().map_err(|e| {
        fail(
            Exit::RunFailed,
            format!("cannot start the async runtime: {e}"),
        )
    })
}
