//! The calling thread's CPU time. On a shared machine a stage's wall time includes waiting for
//! a core; its CPU time does not, so it is the steadier figure to compare runs and sizes by.

use std::time::Duration;

/// CPU time used by this thread so far; `None` where the platform does not say.
#[cfg(unix)]
pub fn thread() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the whole call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    (rc == 0).then(|| Duration::new(secs, nanos))
}

#[cfg(not(unix))]
pub fn thread() -> Option<Duration> {
    None
}
