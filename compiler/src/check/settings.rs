//! Plan-wide settings (`target`, `timeout`, `connections`, `seed`, `max_inflight`, `overflow`,
//! `cookies`, `http`, `stop_at`, and `allow` for the warnings a plan silences) with their
//! defaults, and the target URL check.

use std::collections::HashMap;

use ptl_bytecode::{HttpVersion, Overflow, TargetEnv};

use crate::ast::{Item, Span};
use crate::check::model::Origin;
use crate::check::names::duplicate;
use crate::check::{generators, suggest, values, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// Every warning code, for `allow` (a unit test keeps it equal to the enum's).
pub const WARNING_CODES: [&str; 8] = [
    "W0001", "W0002", "W0003", "W0004", "W0005", "W0006", "W0010", "W0011",
];

pub const PLAN_SETTINGS: [&str; 10] = [
    "target",
    "timeout",
    "connections",
    "seed",
    "max_inflight",
    "overflow",
    "cookies",
    "http",
    "stop_at",
    "allow",
];

pub const DEFAULT_TIMEOUT_US: u64 = 10_000_000;
pub const DEFAULT_CONNECTIONS: u32 = 100;

#[derive(Debug)]
pub struct PlanSettings {
    pub target: Option<String>,
    /// `target env("…")`: where `target` (its stand-in) is read from.
    pub target_env: Option<TargetEnv>,
    /// A target was written but is not valid (already reported).
    pub target_failed: bool,
    pub timeout_us: u64,
    pub timeout_origin: Option<Origin>,
    pub connections: u32,
    /// Whether the plan set `connections` (otherwise it is sized for the plan's peak).
    pub connections_set: bool,
    pub seed: u64,
    pub max_inflight: Option<u32>,
    pub overflow: Overflow,
    pub cookies: bool,
    pub http: HttpVersion,
    /// Warning codes the plan silences (`allow W0002`, repeatable).
    pub allowed: Vec<&'static str>,
    /// `stop_at knee`: where it was written, for the check that some threshold can judge it.
    pub stop_at_knee: Option<(FileId, Span)>,
}

impl PlanSettings {
    /// `max_inflight` when the plan does not say: room for a queue of 10 per HTTP/1.1
    /// connection (one request at a time on each), and for 100 streams per HTTP/2 connection,
    /// the least RFC 9113 §6.5.2 recommends a server allow (nginx allows 128, hyper 200, Go
    /// 250). At 10 per HTTP/2 connection, one connection's routine turnover (a GOAWAY, then a
    /// new handshake) dropped arrivals at 10,000/s.
    pub fn default_max_inflight(&self) -> u32 {
        let per_connection = match self.http {
            HttpVersion::Http1 => 10,
            HttpVersion::Http2 => 100,
        };
        self.connections.saturating_mul(per_connection)
    }
}

pub fn plan_settings(cx: &CheckContext<'_>, sink: &mut Sink) -> PlanSettings {
    let mut s = PlanSettings {
        target: None,
        target_env: None,
        target_failed: false,
        timeout_us: DEFAULT_TIMEOUT_US,
        timeout_origin: None,
        connections: DEFAULT_CONNECTIONS,
        connections_set: false,
        seed: 0,
        max_inflight: None,
        overflow: Overflow::Drop,
        cookies: false,
        http: HttpVersion::Http1,
        allowed: Vec::new(),
        stop_at_knee: None,
    };
    let p = cx.params();
    let mut seen: HashMap<String, (FileId, Span)> = HashMap::new();
    for (file, stmt) in cx.items() {
        if let Item::EnvTarget { name: None, call } = &stmt.node {
            if let Some(&(first_file, first)) = seen.get("target") {
                let first = (first_file == file).then_some(first);
                sink.push(file, duplicate("setting", "target", call.span, first, None));
                continue;
            }
            seen.insert("target".to_string(), (file, call.span));
            match generators::target_env(sink, file, call, p) {
                Some(env) => {
                    s.target = Some(TargetEnv::stand_in(&env.name));
                    s.target_env = Some(env);
                }
                None => s.target_failed = true,
            }
            continue;
        }
        let Item::Setting(setting) = &stmt.node else {
            continue;
        };
        let key = setting.key.name.as_str();
        let v = &setting.value;
        if !PLAN_SETTINGS.contains(&key) {
            sink.push(
                file,
                Diagnostic::UnknownSetting {
                    key: key.to_string(),
                    span: setting.key.span.into(),
                    help: suggest::did_you_mean_or_list(key, PLAN_SETTINGS, "the settings are"),
                },
            );
            continue;
        }
        // `allow` is the one setting given once per warning it silences.
        if key == "allow" {
            if let Some(i) = sink.take(file, p.keyword(v, "`allow`", &WARNING_CODES)) {
                s.allowed.push(WARNING_CODES[i]);
            }
            continue;
        }
        if let Some(&(first_file, first)) = seen.get(key) {
            let first = (first_file == file).then_some(first);
            sink.push(
                file,
                duplicate("setting", key, setting.key.span, first, None),
            );
            continue;
        }
        seen.insert(key.to_string(), (file, setting.key.span));
        match key {
            "target" => match p.string(v, "`target` is a URL in quotes") {
                Ok(url) => match check_url(&url) {
                    Ok(()) => s.target = Some(url),
                    Err(reason) => {
                        s.target_failed = true;
                        sink.push(
                            file,
                            Diagnostic::InvalidUrl {
                                url,
                                reason,
                                span: v.span.into(),
                            },
                        );
                    }
                },
                Err(d) => {
                    s.target_failed = true;
                    sink.push(file, d);
                }
            },
            "timeout" => {
                if let Some(us) = sink.take(
                    file,
                    p.positive_us(v, "timeout", "`timeout` takes a duration"),
                ) {
                    s.timeout_us = us;
                    s.timeout_origin = Some(Origin {
                        file,
                        span: stmt.span,
                    });
                }
            }
            "connections" => {
                if let Some(n) = sink.take(
                    file,
                    p.int_in(v, "connections", 1, 1_000_000, "`connections` is a count"),
                ) {
                    s.connections = n as u32;
                    s.connections_set = true;
                }
            }
            "seed" => {
                if let Some(n) = sink.take(
                    file,
                    p.int_in(v, "seed", 0, i64::MAX, "`seed` is a whole number"),
                ) {
                    s.seed = n as u64;
                }
            }
            "max_inflight" => {
                if let Some(n) = sink.take(
                    file,
                    p.int_in(
                        v,
                        "max_inflight",
                        1,
                        u32::MAX as i64,
                        "`max_inflight` is a count",
                    ),
                ) {
                    s.max_inflight = Some(n as u32);
                }
            }
            "stop_at" => {
                if sink
                    .take(file, p.keyword(v, "`stop_at`", &["knee"]))
                    .is_some()
                {
                    s.stop_at_knee = Some((file, v.span));
                }
            }
            "overflow" => {
                if let Some(i) = sink.take(file, p.keyword(v, "`overflow`", &["drop", "queue"])) {
                    s.overflow = [Overflow::Drop, Overflow::Queue][i];
                }
            }
            "http" => match p.int(v, "`http` is 1 or 2") {
                Ok(1) => s.http = HttpVersion::Http1,
                Ok(2) => s.http = HttpVersion::Http2,
                // Any other number or word is the same mistake: a version ptl does not speak.
                Ok(_) | Err(_) => sink.push(
                    file,
                    Diagnostic::UnknownHttpVersion {
                        found: values::source_text(p.resolve(v).kind),
                        span: v.span.into(),
                    },
                ),
            },
            _ => {
                if let Some(on) = sink.take(file, p.switch(v, "`cookies`")) {
                    s.cookies = on;
                }
            }
        }
    }
    s
}

/// An absolute http(s) URL with a host.
pub(crate) fn check_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme is `{}`, not http or https",
            url.scheme()
        ));
    }
    if matches!(url.host_str(), None | Some("")) {
        return Err("the URL has no host".to_string());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the target is a base URL, without `?query` or `#fragment`".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_url, WARNING_CODES};

    #[test]
    fn urls() {
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("https://example.com/api").is_ok());
        assert!(check_url("ftp://example.com")
            .unwrap_err()
            .contains("`ftp`"));
        assert!(check_url("127.0.0.1:8080").is_err());
        assert!(check_url("http://").is_err());
        assert!(check_url("not a url").is_err());
        assert!(check_url("http://h/?a=1").is_err());
    }

    #[test]
    fn allow_knows_every_warning_code() {
        let source = include_str!("../diagnostic.rs");
        let mut codes: Vec<&str> = source
            .split("code(ptl::")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|code| code.starts_with('W'))
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, WARNING_CODES);
    }
}
