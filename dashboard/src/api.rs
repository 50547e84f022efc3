//! The runs API's handlers: the runs, their results, views and reports, the plans that may be
//! started and the peers (looking: [`Viewer`]); starting a run and stop, pause and resume
//! (the operator token: [`Caller::may_control`]).

use crate::access::{Caller, Viewer};
use crate::launch::{self, LaunchError, PlanEntry, RunOptionInfo};
use crate::model::RunStatus;
use crate::reply::{error, json, respond};
use crate::routes::{Ctx, MAX_BODY};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde::Serialize;

pub async fn runs(_: Viewer, State(ctx): State<Ctx>) -> Response {
    json(StatusCode::OK, &ctx.hub.runs())
}

pub async fn peers(_: Viewer, State(ctx): State<Ctx>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "peers": ctx.hub.peers() }),
    )
}

pub async fn result(_: Viewer, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.hub.result(&id) {
        Some((_, result)) => json(StatusCode::OK, &result),
        None => unknown_run(&ctx, &id),
    }
}

pub async fn view(_: Viewer, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.hub.view(&id) {
        Some(view) => json(StatusCode::OK, &view),
        None => error(StatusCode::NOT_FOUND, "no such run"),
    }
}

pub async fn report(_: Viewer, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    match ctx.hub.result(&id) {
        Some((_, result)) => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            ptl_report::html::render_report(&result),
        ),
        None => unknown_run(&ctx, &id),
    }
}

fn unknown_run(ctx: &Ctx, id: &str) -> Response {
    if ctx.hub.knows(id) {
        error(StatusCode::NOT_FOUND, "this run ended without a result")
    } else {
        error(StatusCode::NOT_FOUND, "no such run")
    }
}

#[derive(Serialize)]
struct PlansAnswer {
    plans: Vec<PlanEntry>,
    /// `ptl submit`'s start options `POST /api/runs` takes, with their defaults.
    options: Vec<RunOptionInfo>,
}

pub async fn plans(_: Viewer, State(ctx): State<Ctx>) -> Response {
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

/// `POST /api/runs`: starts one of the launcher's plans.
pub async fn start_run(caller: Caller, State(ctx): State<Ctx>, body: Body) -> Response {
    if !caller.may_control() {
        return error(
            StatusCode::UNAUTHORIZED,
            "starting a run needs the operator token",
        );
    }
    let Some(launcher) = ctx.launcher.clone() else {
        return error(StatusCode::NOT_IMPLEMENTED, "this dashboard starts no runs");
    };
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the run request is too large or was cut off",
        );
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

/// What an operator may do to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Stop,
    Pause,
    Resume,
}

pub async fn stop(caller: Caller, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    control(&caller, &ctx, &id, Verb::Stop).await
}

pub async fn pause(caller: Caller, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    control(&caller, &ctx, &id, Verb::Pause).await
}

pub async fn resume(caller: Caller, State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    control(&caller, &ctx, &id, Verb::Resume).await
}

#[derive(Serialize)]
struct ControlAnswer<'a> {
    run: &'a str,
    status: RunStatus,
}

const STOP_REASON: &str = "stopped from the dashboard";

async fn control(caller: &Caller, ctx: &Ctx, id: &str, verb: Verb) -> Response {
    if !caller.may_control() {
        return error(StatusCode::UNAUTHORIZED, "control needs the operator token");
    }
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
    if verb != Verb::Stop && !control.can_pause() {
        return error(StatusCode::NOT_IMPLEMENTED, "this run cannot be paused");
    }
    let (outcome, next) = match verb {
        Verb::Stop => (
            control.stop(STOP_REASON.to_string()).await,
            RunStatus::Stopping,
        ),
        Verb::Pause => (control.pause().await, RunStatus::Paused),
        Verb::Resume => (control.resume().await, RunStatus::Running),
    };
    match outcome {
        Ok(()) => {
            let reason = (verb == Verb::Stop).then(|| STOP_REASON.to_string());
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
