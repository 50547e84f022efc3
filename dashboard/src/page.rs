//! The page, served from the binary (no CDN, works offline): its HTML, its script and style,
//! and the report's chart script and stylesheet, shared so the live charts and the report's
//! are drawn by the same code. Its two routes: `/` (with the content security policy and the
//! token cookie) and `/assets/{name}`.

use crate::access::{self, Caller};
use crate::reply;
use crate::routes::Ctx;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use ptl_report::html::{CHARTS_JS, REPORT_CSS};

pub const INDEX_HTML: &str = include_str!("page/index.html");
pub const DASHBOARD_JS: &str = include_str!("page/dashboard.js");
pub const DASHBOARD_CSS: &str = include_str!("page/dashboard.css");

/// What `/` answers to a browser without a token when viewing is not open.
pub const LOCKED_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>ptl dashboard</title></head><body><h1>ptl dashboard</h1><p>This dashboard needs a token: \
open it as <code>/?token=TOKEN</code> with the viewer or operator token.</p></body></html>\n";

/// An asset by its name under `/assets/`: content type and body.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "charts.js" => Some(("text/javascript; charset=utf-8", CHARTS_JS)),
        "dashboard.js" => Some(("text/javascript; charset=utf-8", DASHBOARD_JS)),
        "report.css" => Some(("text/css; charset=utf-8", REPORT_CSS)),
        "dashboard.css" => Some(("text/css; charset=utf-8", DASHBOARD_CSS)),
        _ => None,
    }
}

/// `GET /`: the page, or to a caller who may not look, [`LOCKED_HTML`] (401).
pub async fn index(caller: Caller, State(ctx): State<Ctx>, RawQuery(query): RawQuery) -> Response {
    if !caller.may_view() {
        return reply::respond(
            StatusCode::UNAUTHORIZED,
            "text/html; charset=utf-8",
            LOCKED_HTML,
        );
    }
    let mut response = reply::respond(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML);
    // Origins always make a valid header; were one not to, the page keeps the strict policy.
    let policy = content_security_policy(&ctx.hub.peers())
        .parse()
        .unwrap_or_else(|_| HeaderValue::from_static(STRICT_POLICY));
    response
        .headers_mut()
        .insert("content-security-policy", policy);
    // A token in the address becomes a cookie, so the page's requests and its event stream
    // (which cannot set headers) carry it without it staying in the address bar.
    if let Some(token) = access::query_token(query.as_deref()) {
        if ctx.access.role(Some(&token)).is_some() {
            let cookie = token_cookie(&token, ctx.secure);
            if let Ok(v) = cookie.parse() {
                response.headers_mut().insert(SET_COOKIE, v);
            }
        }
    }
    response
}

/// The cookie the token rides in: never read by scripts (`HttpOnly`), never sent with another
/// site's request (`SameSite=Strict`), and under TLS never sent over plain HTTP (`Secure`).
pub fn token_cookie(token: &str, secure: bool) -> String {
    let value = url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>();
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict{secure}",
        access::COOKIE_NAME
    )
}

/// `GET /assets/{name}`: open to all (the page is nothing without a token).
pub async fn get_asset(Path(name): Path<String>) -> Response {
    match asset(&name) {
        Some((content_type, body)) => reply::respond(StatusCode::OK, content_type, body),
        None => reply::error(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// Everything from this server only, except that the page may ask the other dashboards
/// (`peers`) whether they answer, to fail over to one.
fn content_security_policy(peers: &[String]) -> String {
    let mut connect = String::from("'self'");
    for peer in peers {
        if let Ok(url) = url::Url::parse(peer) {
            let origin = url.origin();
            if origin.is_tuple() {
                connect.push(' ');
                connect.push_str(&origin.ascii_serialization());
            }
        }
    }
    format!("{STRICT_POLICY}; connect-src {connect}")
}

/// Everything from this server only.
const STRICT_POLICY: &str = "default-src 'self'; img-src 'self' data:";
