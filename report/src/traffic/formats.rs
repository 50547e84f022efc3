//! Request logs as [`Traffic`]: one [`Seen`] request per line, in time order. Three formats,
//! detected from the first line or named: nginx/Apache combined (or common) access logs, JSON
//! lines with the fields documented in docs/analysis.md, and ptl's own request log
//! (`ptl run --request-log`, docs/results.md). Lines that cannot be read are counted, not
//! guessed at; a log with more unreadable lines than readable ones is an error.

use crate::ReportError;
use serde_json::Value;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `%h %l %u [%d/%b/%Y:%H:%M:%S %z] "%r" %>s %b ["%{Referer}i" "%{User-agent}i"]`.
    Combined,
    /// One JSON object per line (time, method, path, status, bytes).
    Jsonl,
    /// `ptl run --request-log`.
    Ptl,
}

impl FromStr for LogFormat {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s {
            "combined" => Ok(LogFormat::Combined),
            "jsonl" => Ok(LogFormat::Jsonl),
            "ptl" => Ok(LogFormat::Ptl),
            _ => Err(ReportError::Traffic(format!(
                "unknown log format `{s}`: expected combined, jsonl or ptl"
            ))),
        }
    }
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Combined => "combined",
            LogFormat::Jsonl => "jsonl",
            LogFormat::Ptl => "ptl",
        }
    }
}

/// One request as a log saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// When it arrived, µs since the Unix epoch (a ptl log: when it was sent).
    pub at_us: i64,
    pub method: String,
    /// As sent, query included.
    pub path: String,
    /// `None` when it got no answer (a ptl log's transport errors).
    pub status: Option<u16>,
    pub request_bytes: Option<u64>,
    pub response_bytes: Option<u64>,
    /// Who sent it (the combined format's client address), for think times.
    pub client: Option<String>,
}

/// A whole log.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub format: LogFormat,
    /// In time order.
    pub requests: Vec<Seen>,
    /// Timestamp granularity: 1 s for the combined format, 1 µs otherwise (unless every time
    /// in a JSON log is a whole second).
    pub resolution_us: i64,
    /// Lines that were not requests and could not be read.
    pub unreadable: usize,
    /// What a ptl log's trailer says its writer dropped (`None`: no trailer, or not ptl).
    pub dropped: Option<u64>,
}

impl Traffic {
    /// Seconds from the first request to the last one's timestamp granule.
    pub fn duration_s(&self) -> f64 {
        match (self.requests.first(), self.requests.last()) {
            (Some(a), Some(b)) => (b.at_us - a.at_us + self.resolution_us) as f64 / 1e6,
            _ => 0.0,
        }
    }
}

/// Guesses the format from the first non-blank line.
pub fn detect(text: &str) -> LogFormat {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') {
        if first.contains("\"ptl_request_log\"") {
            LogFormat::Ptl
        } else {
            LogFormat::Jsonl
        }
    } else {
        LogFormat::Combined
    }
}

/// Reads a log in `format` (detected when `None`). `name` labels errors.
pub fn read(text: &str, format: Option<LogFormat>, name: &str) -> Result<Traffic, ReportError> {
    let format = format.unwrap_or_else(|| detect(text));
    let mut requests = Vec::new();
    let mut unreadable = 0usize;
    let mut first_bad: Option<(usize, String)> = None;
    let mut ptl_start: Option<i64> = None;
    let mut dropped = None;
    let mut whole_seconds = true;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = match format {
            LogFormat::Combined => combined(line).map(Some),
            LogFormat::Jsonl => jsonl(line).map(Some),
            LogFormat::Ptl => ptl(line, &mut ptl_start, &mut dropped),
        };
        match parsed {
            Ok(Some(seen)) => {
                whole_seconds &= seen.at_us % 1_000_000 == 0;
                requests.push(seen);
            }
            Ok(None) => {}
            Err(why) => {
                unreadable += 1;
                first_bad.get_or_insert((i + 1, why));
            }
        }
    }
    if requests.is_empty() || unreadable > requests.len() {
        let why = first_bad.map_or("no requests in it".to_string(), |(n, why)| {
            format!("line {n}: {why}")
        });
        return Err(ReportError::Traffic(format!(
            "{name}: not a readable {} log ({} requests, {unreadable} unreadable lines); {why}",
            format.as_str(),
            requests.len()
        )));
    }
    // Stable: lines with the same time keep their order.
    requests.sort_by_key(|r| r.at_us);
    let resolution_us = match format {
        LogFormat::Combined => 1_000_000,
        LogFormat::Jsonl if whole_seconds => 1_000_000,
        _ => 1,
    };
    Ok(Traffic {
        format,
        requests,
        resolution_us,
        unreadable,
        dropped,
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Result<i64, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}

/// `10/Oct/2000:13:55:36 -0700` → µs since the epoch.
fn clf_time(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a time like 10/Oct/2000:13:55:36 -0700");
    let (stamp, zone) = s.split_once(' ').ok_or_else(bad)?;
    let mut parts = stamp.splitn(4, [':', '/']);
    let (d, mon, y, rest) = (
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
        parts.next().ok_or_else(bad)?,
    );
    let m = MONTHS.iter().position(|x| *x == mon).ok_or_else(bad)? as i64 + 1;
    let hms: Vec<&str> = rest.split(':').collect();
    if hms.len() != 3 || zone.len() != 5 {
        return Err(bad());
    }
    let secs = days_from_civil(num(y)?, m, num(d)?) * 86_400
        + num(hms[0])? * 3600
        + num(hms[1])? * 60
        + num(hms[2])?;
    let sign = match &zone[..1] {
        "+" => 1,
        "-" => -1,
        _ => return Err(bad()),
    };
    let offset = sign * (num(&zone[1..3])? * 3600 + num(&zone[3..5])? * 60);
    Ok((secs - offset) * 1_000_000)
}

/// One line of a combined (or common) access log.
fn combined(line: &str) -> Result<Seen, String> {
    let client = line.split(' ').next().unwrap_or("").to_string();
    let open = line.find('[').ok_or("no [time]")?;
    let close = open + line[open..].find(']').ok_or("no [time]")?;
    let at_us = clf_time(&line[open + 1..close])?;
    let rest = line[close + 1..].trim_start();
    let rest = rest.strip_prefix('"').ok_or("no \"request\"")?;
    let end = rest.find('"').ok_or("no \"request\"")?;
    let request = &rest[..end];
    let mut words = request.split(' ');
    let method = words
        .next()
        .filter(|m| !m.is_empty())
        .ok_or("empty request")?;
    let path = words.next().ok_or("no path in the request")?;
    let mut after = rest[end + 1..].split_whitespace();
    let status = after.next().ok_or("no status")?;
    let status: u16 = status.parse().map_err(|_| format!("status `{status}`"))?;
    let bytes = match after.next() {
        Some("-") | None => Some(0),
        Some(b) => Some(b.parse().map_err(|_| format!("bytes `{b}`"))?),
    };
    Ok(Seen {
        at_us,
        method: method.to_string(),
        path: path.to_string(),
        status: Some(status),
        request_bytes: None,
        response_bytes: bytes,
        client: Some(client),
    })
}

fn first<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| v.get(*k).filter(|x| !x.is_null()))
}

fn uint(v: Option<&Value>) -> Option<u64> {
    v.and_then(|x| {
        x.as_u64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    })
}

/// `time`: RFC 3339 text, or a number of seconds since the epoch (fractions allowed).
fn json_time(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(|s| (s * 1e6).round() as i64)
            .ok_or_else(|| "time is not a number of seconds".into()),
        Value::String(s) => match s.parse::<f64>() {
            Ok(secs) => Ok((secs * 1e6).round() as i64),
            Err(_) => humantime::parse_rfc3339_weak(s)
                .ok()
                .or_else(|| humantime::parse_rfc3339(s).ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_micros() as i64)
                .or_else(|| clf_time(s).ok())
                .ok_or_else(|| {
                    format!(
                        "time `{s}` is not RFC 3339, epoch seconds or [10/Oct/2000:13:55:36 -0700]"
                    )
                }),
        },
        _ => Err("time is neither text nor a number".into()),
    }
}

/// One line of a JSON-lines log (field names in docs/analysis.md).
fn jsonl(line: &str) -> Result<Seen, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let t = first(&v, &["time", "timestamp", "ts", "@timestamp", "time_local"])
        .ok_or("no time field (time, timestamp, ts, @timestamp)")?;
    let at_us = json_time(t)?;
    let request_line = first(&v, &["request"]).and_then(Value::as_str);
    let from_line = |i: usize| request_line.and_then(|r| r.split(' ').nth(i));
    let method = first(&v, &["method", "request_method", "verb"])
        .and_then(Value::as_str)
        .or_else(|| from_line(0))
        .unwrap_or("GET");
    let path = first(&v, &["path", "uri", "request_uri", "url"])
        .and_then(Value::as_str)
        .or_else(|| from_line(1))
        .ok_or("no path field (path, uri, request_uri, url, request)")?;
    Ok(Seen {
        at_us,
        method: method.to_string(),
        path: path.to_string(),
        status: uint(first(&v, &["status", "status_code"])).map(|s| s as u16),
        request_bytes: uint(first(&v, &["request_bytes", "request_length", "bytes_in"])),
        response_bytes: uint(first(
            &v,
            &[
                "response_bytes",
                "body_bytes_sent",
                "bytes",
                "bytes_out",
                "bytes_sent",
            ],
        )),
        client: first(&v, &["client", "remote_addr", "ip"])
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// One line of a ptl request log: the header sets the clock, the trailer the drop count.
fn ptl(
    line: &str,
    start: &mut Option<i64>,
    dropped: &mut Option<u64>,
) -> Result<Option<Seen>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("ptl_request_log").is_some() {
        let at = uint(v.get("started_at_unix_us")).ok_or("header without started_at_unix_us")?;
        *start = Some(at as i64);
        return Ok(None);
    }
    if let Some(end) = v.get("ptl_request_log_end") {
        *dropped = uint(end.get("dropped"));
        return Ok(None);
    }
    let start = start.ok_or("a request before the header line")?;
    let sent = uint(v.get("sent_us")).or_else(|| uint(v.get("intended_us")));
    let sent = sent.ok_or("no sent_us or intended_us")?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Some(Seen {
        at_us: start + sent as i64,
        method: text("method").ok_or("no method")?,
        path: text("path").ok_or("no path")?,
        status: uint(v.get("status")).map(|s| s as u16),
        request_bytes: uint(v.get("request_bytes")),
        response_bytes: uint(v.get("response_bytes")),
        client: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_combined_line_reads_with_its_zone() {
        let l = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08""#;
        let t = read(l, None, "log").unwrap();
        assert_eq!(t.format, LogFormat::Combined);
        let r = &t.requests[0];
        // 2000-10-10T20:55:36Z
        assert_eq!(r.at_us, 971_211_336_000_000);
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "/apache_pb.gif")
        );
        assert_eq!((r.status, r.response_bytes), (Some(200), Some(2326)));
        assert_eq!(t.resolution_us, 1_000_000);
    }

    #[test]
    fn json_lines_take_rfc3339_or_epoch_seconds() {
        let text = "{\"time\":\"2024-01-01T00:00:00.5Z\",\"method\":\"POST\",\"path\":\"/a\",\"status\":201,\"bytes\":3}\n{\"ts\":1704067201.25,\"request\":\"GET /b HTTP/1.1\",\"status\":\"404\"}\n";
        let t = read(text, None, "log").unwrap();
        assert_eq!(t.format, LogFormat::Jsonl);
        assert_eq!(t.requests[0].at_us, 1_704_067_200_500_000);
        assert_eq!(t.requests[1].at_us, 1_704_067_201_250_000);
        assert_eq!(t.requests[1].path, "/b");
        assert_eq!(t.requests[1].status, Some(404));
        assert_eq!(t.resolution_us, 1);
    }

    #[test]
    fn a_file_that_is_no_log_is_a_clear_error() {
        let e = read("hello\nworld\n", None, "x.log")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.log") && e.contains("line 1"), "{e}");
    }
}
