//! How the dashboard answers: a body with its content type and `Cache-Control: no-store`, JSON,
//! and the `{error}` JSON every refusal carries (a 401 also says `WWW-Authenticate: Bearer`).

use axum::body::Body;
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::Serialize;

pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    respond(status, "application/json", body)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

pub fn error(status: StatusCode, message: &str) -> Response {
    let mut response = json(status, &ErrorBody { error: message });
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ptl\""),
        );
    }
    response
}
