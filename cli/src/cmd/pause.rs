//! `ptl pause RUN`: hold a cluster run. Every agent stops sending new arrivals from the same
//! instant, shortly ahead; requests in flight finish; the paused time is left out of the rates.

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::flags::PauseArgs;
use crate::output::Done;
use ptl_cluster::client::status;
use ptl_cluster::run::pauses::PauseChange;

pub fn run(args: &PauseArgs) -> Done {
    change(args, Verb::Pause)
}

pub(crate) enum Verb {
    Pause,
    Resume,
}

/// `ptl pause` or `ptl resume`: one ZooKeeper call, and what it did in words.
pub(crate) fn change(args: &PauseArgs, verb: Verb) -> Done {
    let runtime = runtime()?;
    let zk = zk_config(&args.zk)?;
    let changed = runtime
        .block_on(async {
            match verb {
                Verb::Pause => status::pause(&zk, &args.run).await,
                Verb::Resume => status::resume(&zk, &args.run).await,
            }
        })
        .map_err(cluster_failure)?;
    eprintln!("{}", describe(&args.run.to_string(), changed));
    Ok(())
}

/// What a pause or resume did, in words.
fn describe(run: &str, change: PauseChange) -> String {
    // The time of day is enough to tell when, a second or so ahead.
    let clock = |ms: i64| {
        let day = ms.rem_euclid(86_400_000);
        format!(
            "{:02}:{:02}:{:02}.{:03} UTC",
            day / 3_600_000,
            day / 60_000 % 60,
            day / 1000 % 60,
            day % 1000
        )
    };
    match change {
        PauseChange::Paused(w) => format!("{run} is paused from {}", clock(w.at_ms)),
        PauseChange::AlreadyPaused(w) => {
            format!("{run} was already paused (since {})", clock(w.at_ms))
        }
        PauseChange::Resumed(w) => {
            format!("{run} resumes at {}", clock(w.until_ms.unwrap_or(w.at_ms)))
        }
        PauseChange::NotPaused => format!("{run} is not paused; nothing to resume"),
    }
}
