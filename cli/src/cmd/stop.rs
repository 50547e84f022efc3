//! `ptl stop RUN`: ask a cluster run to stop; its agents stop and the coordinator writes the
//! results so far.

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::flags::StopArgs;
use crate::output::Done;
use ptl_cluster::client::status;
use ptl_cluster::run::RunPhase;

pub fn run(args: &StopArgs) -> Done {
    let runtime = runtime()?;
    let state = runtime
        .block_on(status::stop(&zk_config(&args.zk)?, &args.run))
        .map_err(cluster_failure)?;
    match state.phase {
        RunPhase::Stopping => eprintln!(
            "{} is stopping ({})",
            args.run,
            state.reason.as_deref().unwrap_or("ptl stop")
        ),
        RunPhase::Done | RunPhase::Failed => {
            eprintln!("{} had already ended; nothing to stop", args.run)
        }
        RunPhase::Pending | RunPhase::Running => {
            eprintln!(
                "{} could not be stopped: it is still {:?}",
                args.run, state.phase
            )
        }
    }
    Ok(())
}
