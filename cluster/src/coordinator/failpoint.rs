//! Crash points for the tests that prove the coordinator crash-safe: with `PTL_FAILPOINT=NAME`
//! in its environment, the coordinator aborts (as `kill -9` would: nothing flushed, no session
//! closed) the first time it reaches the point called NAME. Unset, a point costs one lookup.

/// Aborts the process here if `PTL_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if std::env::var("PTL_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
