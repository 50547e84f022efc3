//! `ptl resume RUN`: let a paused cluster run go on. Every agent continues from the same
//! instant, shortly ahead, where its schedules were (the rest of the plan moves by the pause).

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::cmd::pause::describe;
use crate::exit::Exit;
use crate::flags::PauseArgs;
use ptl_cluster::status;

pub fn run(args: &PauseArgs) -> Exit {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    match runtime.block_on(status::resume(&zk_config(&args.zk), &args.run)) {
        Ok(change) => {
            eprintln!("{}", describe(&args.run.to_string(), change));
            Exit::Ok
        }
        Err(e) => cluster_failure(&e),
    }
}
