//! The HTTP server (hyper, HTTP/1.1): the page and its assets, `/events`, the runs API, control,
//! starting stored plans (when given a [`PlanLauncher`]) and `/metrics`. Looking needs a viewer
//! or operator token unless viewing is open; control and starting runs need the operator token
//! (401 otherwise).

use crate::access::{self, Access};
use crate::error::DashboardError;
use crate::hub::Hub;
use crate::launch::{self, LaunchError, PlanEntry, PlanLauncher, RunOptionInfo};
use crate::model::RunStatus;
use crate::{metrics, page, sse};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, WWW_AUTHENTICATE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

type Body = BoxBody<Bytes, Infallible>;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; loopback unless the operator says otherwise.
    pub addr: SocketAddr,
    pub access: Access,
}

/// A running dashboard server.
pub struct DashboardServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl DashboardServer {
    /// The address it listens on (the port chosen, when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting, ends the event streams (after the events already published) and
    /// lets requests in progress finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Largest `POST /api/runs` body read (a plan name and its params).
const MAX_LAUNCH_BODY: usize = 64 * 1024;

struct Ctx {
    hub: Arc<Hub>,
    access: Access,
    shutdown: watch::Receiver<bool>,
    launcher: Option<Arc<dyn PlanLauncher>>,
}

/// Binds and starts serving on the current tokio runtime.
pub async fn serve(hub: Arc<Hub>, config: ServerConfig) -> Result<DashboardServer, DashboardError> {
    serve_with(hub, config, None).await
}

/// [`serve`], offering the launcher's plans to start (`GET /api/plans`, `POST /api/runs`).
pub async fn serve_with(
    hub: Arc<Hub>,
    config: ServerConfig,
    launcher: Option<Arc<dyn PlanLauncher>>,
) -> Result<DashboardServer, DashboardError> {
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| DashboardError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(DashboardError::LocalAddr)?;
    let (shutdown, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        hub,
        access: config.access,
        shutdown: stop_rx.clone(),
        launcher,
    });
    let task = tokio::spawn(accept_loop(listener, ctx, stop_rx));
    Ok(DashboardServer {
        addr,
        shutdown,
        task,
    })
}

async fn accept_loop(listener: TcpListener, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            // A failed accept (out of descriptors, a reset) concerns one client only.
            continue;
        };
        let ctx = ctx.clone();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(req, ctx.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections so the set does not grow with every client.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = content_type.parse() {
        headers.insert(CONTENT_TYPE, v);
    }
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    respond(status, "application/json", body)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = json(status, &ErrorBody { error: message });
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"ptl\""),
        );
    }
    response
}

async fn handle(req: Request<Incoming>, ctx: Arc<Ctx>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let token = access::presented_token(req.headers(), query.as_deref());
    let token = token.as_deref();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let may_view = ctx.access.may_view(token);
    let denied = || {
        error(
            StatusCode::UNAUTHORIZED,
            "a viewer or operator token is needed",
        )
    };

    let response = match (&method, segments.as_slice()) {
        (&Method::GET, [""]) => {
            if !may_view {
                respond(
                    StatusCode::UNAUTHORIZED,
                    "text/html; charset=utf-8",
                    page::LOCKED_HTML,
                )
            } else {
                index(&ctx, query.as_deref())
            }
        }
        (&Method::GET, ["assets", name]) => match page::asset(name) {
            Some((content_type, body)) => respond(StatusCode::OK, content_type, body),
            None => error(StatusCode::NOT_FOUND, "no such asset"),
        },
        (&Method::GET, ["events"]) if may_view => {
            events(&ctx, last_event_id(req.headers(), query.as_deref()))
        }
        (&Method::GET, ["metrics"]) if may_view => respond(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            metrics::render(&ctx.hub),
        ),
        (&Method::GET, ["api", "runs"]) if may_view => json(StatusCode::OK, &ctx.hub.runs()),
        (&Method::GET, ["api", "plans"]) if may_view => plans(&ctx).await,
        (&Method::GET, ["api", "peers"]) if may_view => json(
            StatusCode::OK,
            &serde_json::json!({ "peers": ctx.hub.peers() }),
        ),
        (&Method::POST, ["api", "runs"]) => {
            if ctx.access.may_control(token) {
                start_run(&ctx, req).await
            } else {
                error(
                    StatusCode::UNAUTHORIZED,
                    "starting a run needs the operator token",
                )
            }
        }
        (&Method::GET, ["api", "runs", id]) if may_view => match ctx.hub.result(id) {
            Some((_, result)) => json(StatusCode::OK, &result),
            None => unknown_run(&ctx, id),
        },
        (&Method::GET, ["api", "runs", id, "view"]) if may_view => match ctx.hub.view(id) {
            Some(view) => json(StatusCode::OK, &view),
            None => error(StatusCode::NOT_FOUND, "no such run"),
        },
        (&Method::GET, ["api", "runs", id, "report"]) if may_view => match ctx.hub.result(id) {
            Some((_, result)) => respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                ptl_report::html::render_report(&result),
            ),
            None => unknown_run(&ctx, id),
        },
        (&Method::POST, ["api", "runs", id, verb @ ("stop" | "pause" | "resume")]) => {
            if ctx.access.may_control(token) {
                control(&ctx, id, verb).await
            } else {
                error(StatusCode::UNAUTHORIZED, "control needs the operator token")
            }
        }
        (&Method::GET, ["events" | "metrics"] | ["api", ..]) if !may_view => denied(),
        (_, ["api", "runs", _, "stop" | "pause" | "resume"]) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "control is POST")
        }
        (m, ["" | "events" | "metrics"] | ["api", "runs", ..]) if m != Method::GET => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(response)
}

fn unknown_run(ctx: &Ctx, id: &str) -> Response<Body> {
    if ctx.hub.knows(id) {
        error(StatusCode::NOT_FOUND, "this run ended without a result")
    } else {
        error(StatusCode::NOT_FOUND, "no such run")
    }
}

fn index(ctx: &Ctx, query: Option<&str>) -> Response<Body> {
    let mut response = respond(StatusCode::OK, "text/html; charset=utf-8", page::INDEX_HTML);
    // Origins always make a valid header; were one not to, the page keeps the strict policy.
    let policy = content_security_policy(&ctx.hub.peers())
        .parse()
        .unwrap_or_else(|_| http::HeaderValue::from_static(STRICT_POLICY));
    response
        .headers_mut()
        .insert("content-security-policy", policy);
    // A token in the address becomes a cookie, so the page's requests and its event stream
    // (which cannot set headers) carry it without it staying in the address bar.
    if let Some(token) = access::query_token(query) {
        if ctx.access.role(Some(&token)).is_some() {
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict",
                access::COOKIE_NAME,
                url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
            );
            if let Ok(v) = cookie.parse() {
                response.headers_mut().insert(SET_COOKIE, v);
            }
        }
    }
    response
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

/// The browser's `Last-Event-ID` header, or a `last_event_id` query parameter (a page that had
/// to open a new EventSource, which sends no header, passes it so).
fn last_event_id(headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(v) = headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "last_event_id")
        .map(|(_, v)| v.into_owned())
}

fn events(ctx: &Ctx, last_event_id: Option<String>) -> Response<Body> {
    let body = sse::stream(ctx.hub.clone(), ctx.shutdown.clone(), last_event_id);
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}

#[derive(Serialize)]
struct PlansAnswer {
    plans: Vec<PlanEntry>,
    /// `ptl submit`'s start options `POST /api/runs` takes, with their defaults.
    options: Vec<RunOptionInfo>,
}

async fn plans(ctx: &Ctx) -> Response<Body> {
    let Some(launcher) = ctx.launcher.clone() else {
        return error(StatusCode::NOT_FOUND, "this dashboard starts no runs");
    };
    // The library reads and checks files: off the server's threads.
    match tokio::task::spawn_blocking(move || (launcher.plans(), launcher.options())).await {
        Ok((plans, options)) => json(StatusCode::OK, &PlansAnswer { plans, options }),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the plan library could not be read",
        ),
    }
}

#[derive(Serialize)]
struct Started {
    run: String,
}

#[derive(Serialize)]
struct LaunchRefused<'a> {
    error: String,
    /// The compiler's diagnostics, as plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostics: Option<&'a str>,
}

async fn start_run(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let Some(launcher) = ctx.launcher.clone() else {
        return error(StatusCode::NOT_IMPLEMENTED, "this dashboard starts no runs");
    };
    let body = match Limited::new(req.into_body(), MAX_LAUNCH_BODY)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the run request is too large or was cut off",
            )
        }
    };
    let outcome = match launch::parse_request(&body) {
        Ok(request) => launcher.start(request).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(run) => json(StatusCode::CREATED, &Started { run }),
        Err(e) => {
            let diagnostics = match &e {
                LaunchError::Compile { diagnostics } => Some(diagnostics.as_str()),
                _ => None,
            };
            json(
                e.status(),
                &LaunchRefused {
                    error: e.to_string(),
                    diagnostics,
                },
            )
        }
    }
}

#[derive(Serialize)]
struct ControlAnswer<'a> {
    run: &'a str,
    status: RunStatus,
}

async fn control(ctx: &Ctx, id: &str, verb: &str) -> Response<Body> {
    let Some(status) = ctx.hub.status(id) else {
        return error(StatusCode::NOT_FOUND, "no such run");
    };
    if status.is_finished() {
        return error(StatusCode::CONFLICT, "the run has ended");
    }
    let Some(control) = ctx.hub.control(id) else {
        return error(
            StatusCode::CONFLICT,
            "this run cannot be controlled from here",
        );
    };
    let (outcome, next) = match verb {
        "stop" => (
            control.stop("stopped from the dashboard".to_string()).await,
            RunStatus::Stopping,
        ),
        _ if !control.can_pause() => {
            return error(StatusCode::NOT_IMPLEMENTED, "this run cannot be paused");
        }
        "pause" => (control.pause().await, RunStatus::Paused),
        _ => (control.resume().await, RunStatus::Running),
    };
    match outcome {
        Ok(()) => {
            let reason = (verb == "stop").then(|| "stopped from the dashboard".to_string());
            ctx.hub.set_status(id, next, reason);
            json(
                StatusCode::ACCEPTED,
                &ControlAnswer {
                    run: id,
                    status: next,
                },
            )
        }
        Err(message) => error(StatusCode::CONFLICT, &message),
    }
}
