//! Cross-site request forgery: the operator's cookie goes with every request the browser makes
//! to the dashboard, including a form another site posts. Browsers name the page a request comes
//! from in `Origin`, so a state-changing request (any method but GET, HEAD, OPTIONS and TRACE)
//! whose `Origin` is not the dashboard's own is refused with 403 before any handler runs.
//! Without an `Origin` (curl, scripts, `ptl`) it goes on: only browsers carry cookies around.
//!
//! The dashboard's own origin is the one the browser addressed: the request's `Host`, so it
//! holds for any name or address the dashboard is reached at (and behind a proxy that passes
//! `Host` on).

use crate::reply;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::{HOST, ORIGIN};
use http::uri::Authority;
use http::{HeaderMap, StatusCode};

/// The middleware: 403 for a state-changing request from another origin.
pub async fn check(request: Request, next: Next) -> Response {
    if !request.method().is_safe() && !allowed(request.headers()) {
        return reply::error(
            StatusCode::FORBIDDEN,
            "a request from another site may not change anything here",
        );
    }
    next.run(request).await
}

/// True when the request names no origin, or the one its `Host` says it was sent to.
pub fn allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    // `null` (a sandboxed frame, a redirect across sites) and garbage are no origin of ours.
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let (Some(origin_host), Some(origin_port)) =
        (origin.host_str(), origin.port_or_known_default())
    else {
        return false;
    };
    let Some(host) = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
    else {
        return false;
    };
    // `Host` leaves the scheme's default port out, as `Origin` does.
    let host_port = host.port_u16().or_else(|| origin.port_or_known_default());
    host.host().eq_ignore_ascii_case(origin_host) && host_port == Some(origin_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(origin: Option<&'static str>, host: Option<&'static str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_static(o));
        }
        if let Some(v) = host {
            h.insert(HOST, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_origin_must_be_the_host_the_request_was_sent_to() {
        let host = Some("127.0.0.1:9090");
        assert!(allowed(&headers(None, host)), "no Origin: not a browser's");
        assert!(allowed(&headers(Some("http://127.0.0.1:9090"), host)));
        assert!(!allowed(&headers(Some("http://evil.example"), host)));
        assert!(!allowed(&headers(Some("http://127.0.0.1:9091"), host)));
        assert!(!allowed(&headers(Some("http://127.0.0.1"), host)));
        assert!(!allowed(&headers(Some("null"), host)));
        assert!(!allowed(&headers(Some("http://127.0.0.1:9090"), None)));
    }

    #[test]
    fn names_compare_without_case_and_default_ports_may_be_left_out() {
        let origin = Some("https://Dash.Example");
        assert!(allowed(&headers(origin, Some("dash.example"))));
        assert!(allowed(&headers(origin, Some("dash.example:443"))));
        assert!(!allowed(&headers(origin, Some("dash.example:80"))));
        assert!(allowed(&headers(
            Some("http://[::1]:9090"),
            Some("[::1]:9090")
        )));
        assert!(!allowed(&headers(
            Some("http://dash.example.evil.example"),
            Some("dash.example")
        )));
    }
}
