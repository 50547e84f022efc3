//! `ptl stop RUN`: ask a cluster run to stop; its agents stop and the coordinator writes the
//! results so far.

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::exit::Exit;
use crate::flags::StopArgs;
use ptl_cluster::client::status;
use ptl_cluster::run::RunPhase;

pub fn run(args: &StopArgs) -> Exit {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    match runtime.block_on(status::stop(&zk_config(&args.zk), &args.run)) {
        Ok(state) => {
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
            Exit::Ok
        }
        Err(e) => cluster_failure(&e),
    }
}
