//! `ptl run --request-log`: opens the file and starts the log's writer before the run, and
//! after it says what the file holds — dropped lines loudly, since a log with gaps must not
//! pass for a whole one.

use crate::exit::Exit;
use crate::flags::RequestLogArgs;
use crate::output::fail;
use ptl_engine::request_log::{LogStats, RequestLog};

/// The started log, when the flags ask for one.
pub fn start(args: &RequestLogArgs) -> Result<Option<RequestLog>, Exit> {
    let Some(path) = &args.request_log else {
        return Ok(None);
    };
    let file = std::fs::File::create(path).map_err(|e| {
        fail(
            Exit::Usage,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    RequestLog::start(Box::new(file), args.request_log_sample)
        .map(Some)
        .map_err(|e| fail(Exit::RunFailed, format!("request log: {e}")))
}

/// The summary line of a finished log.
pub fn summary(args: &RequestLogArgs, stats: &LogStats) -> String {
    let path = args
        .request_log
        .as_deref()
        .map_or(String::new(), |p| p.display().to_string());
    let mut line = format!(
        "request log: {path}: {} lines (sample {}), {} dropped",
        stats.written,
        args.request_log_sample.fraction(),
        stats.dropped
    );
    if stats.dropped > 0 {
        line.push_str(" — the writer fell behind; the file's trailer counts them too");
    }
    if let Some(e) = &stats.error {
        line.push_str(&format!("; writing failed: {e}"));
    }
    line
}
