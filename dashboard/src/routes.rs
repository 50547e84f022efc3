//! The router: which handler answers which method and path, and what every request passes
//! first: trailing and doubled slashes trimmed, the body limit (413) and the Origin check (403,
//! [`crate::origin`]). A method a path does not take is 405, an unknown path 404, and looking
//! at an unknown `/api/…` path without a token 401, as for the known ones.

use crate::access::{self, Access, Caller, Viewer};
use crate::hub::Hub;
use crate::launch::PlanLauncher;
use crate::reply::{error, respond};
use crate::sse::Streams;
use crate::{api, capacity, metrics, origin, page};
use axum::extract::{FromRef, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::sync::Arc;
use tower::Layer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};

/// Largest request body read (`POST /api/runs`: a plan name and its params); a longer one is
/// refused with 413 before it is read.
pub const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct Ctx {
    pub hub: Arc<Hub>,
    pub access: Arc<Access>,
    pub launcher: Option<Arc<dyn PlanLauncher>>,
    pub streams: Streams,
    /// Served over TLS (the cookie is then `Secure`).
    pub secure: bool,
}

impl FromRef<Ctx> for Arc<Access> {
    fn from_ref(ctx: &Ctx) -> Arc<Access> {
        ctx.access.clone()
    }
}

/// The dashboard's HTTP service.
pub type App = NormalizePath<Router>;

pub fn app(ctx: Ctx) -> App {
    let router = Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::get_asset))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .route("/api/runs", get(api::runs).post(api::start_run))
        .route("/api/plans", get(api::plans))
        .route("/api/peers", get(api::peers))
        .route("/api/runs/{id}", get(api::result))
        .route("/api/runs/{id}/view", get(api::view))
        .route("/api/runs/{id}/report", get(api::report))
        .route("/api/runs/{id}/analysis", get(capacity::analysis_json))
        .route(
            "/api/runs/{id}/analysis/chart",
            get(capacity::analysis_chart),
        )
        .route("/api/runs/{id}/stop", post(api::stop))
        .route("/api/runs/{id}/pause", post(api::pause))
        .route("/api/runs/{id}/resume", post(api::resume))
        .method_not_allowed_fallback(fallback)
        .fallback(fallback)
        .layer(axum::middleware::from_fn(origin::check))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .with_state(ctx);
    // Outside the router, so that it routes the trimmed path.
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

async fn events(
    _: Viewer,
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let last = last_event_id(&headers, query.as_deref());
    ctx.streams.open(ctx.hub.clone(), last)
}

/// The browser's `Last-Event-ID` header, or a `last_event_id` query parameter (a page that had
/// to open a new EventSource, which sends no header, passes it so).
fn last_event_id(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "last_event_id")
        .map(|(_, v)| v.into_owned())
}

async fn metrics(_: Viewer, State(ctx): State<Ctx>) -> Response {
    respond(
        StatusCode::OK,
        metrics::CONTENT_TYPE,
        metrics::render(&ctx.hub),
    )
}

/// No route for the path, or not for its method.
async fn fallback(caller: Caller, method: Method, uri: Uri) -> Response {
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["events" | "metrics"] | ["api", ..]) if !caller.may_view() => {
            access::denied()
        }
        (_, ["api", "runs", _, "stop" | "pause" | "resume"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "control is POST")
        }
        (m, ["" | "events" | "metrics"] | ["api", "runs", ..]) if m != Method::GET => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}
