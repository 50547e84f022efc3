//! The bodies the target answers with: small JSON documents, prebuilt where they never change.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::Serialize;

pub(crate) type Reply = Response<Full<Bytes>>;

pub(crate) const ROOT: &[u8] = br#"{"service":"ptl demo target","ok":true}"#;
pub(crate) const OK: &[u8] = br#"{"ok":true}"#;
pub(crate) const HEALTH: &[u8] = br#"{"status":"up"}"#;
pub(crate) const CHECKOUT: &[u8] = br#"{"ok":true,"checkout":"accepted"}"#;
pub(crate) const CART: &[u8] =
    br#"{"items":[{"sku":"sku-1","quantity":1,"price_cents":1999}],"total_cents":1999}"#;
pub(crate) const PRODUCTS: &[u8] = br#"{"products":["1","2","3"]}"#;
pub(crate) const INJECTED_ERROR: &[u8] = br#"{"error":"failed by the demo target's error rate"}"#;
pub(crate) const FAULT_ABORT: &[u8] = br#"{"error":"aborted by x-envoy-fault-abort-request"}"#;
pub(crate) const UNAUTHORIZED: &[u8] = br#"{"error":"missing or unknown bearer token"}"#;
pub(crate) const ETAG_MISMATCH: &[u8] =
    br#"{"error":"not the cart ETag last issued for this token"}"#;
pub(crate) const METHOD_NOT_ALLOWED: &[u8] = br#"{"error":"method not allowed"}"#;
pub(crate) const TOO_LARGE: &[u8] = br#"{"error":"request body too large"}"#;
pub(crate) const BAD_BODY: &[u8] = br#"{"error":"could not read the request body"}"#;
pub(crate) const OVERLOADED: &[u8] = br#"{"error":"over capacity: the backlog is full"}"#;

pub(crate) fn json_static(status: StatusCode, body: &'static [u8]) -> Reply {
    json_bytes(status, Bytes::from_static(body))
}

pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Reply {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serialises `value`; our own types always serialise, but a failure still answers (500).
pub(crate) fn json_value<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, Bytes::from(body)),
        Err(_) => json_static(StatusCode::INTERNAL_SERVER_ERROR, INJECTED_ERROR),
    }
}

#[derive(Serialize)]
pub(crate) struct Product<'a> {
    pub id: &'a str,
    pub name: String,
    pub price_cents: u64,
}

#[derive(Serialize)]
pub(crate) struct Login {
    pub token: String,
}

#[derive(Serialize)]
pub(crate) struct Paid {
    pub status: &'static str,
    pub order_id: u64,
    /// `order=<id> paid`: what plans match with `regex("order=…")` and `body contains "paid"`.
    pub receipt: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_bodies_are_json() {
        for body in [
            ROOT,
            OK,
            HEALTH,
            CHECKOUT,
            CART,
            PRODUCTS,
            INJECTED_ERROR,
            FAULT_ABORT,
            UNAUTHORIZED,
            ETAG_MISMATCH,
            METHOD_NOT_ALLOWED,
            TOO_LARGE,
            BAD_BODY,
            OVERLOADED,
        ] {
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(body);
            assert!(parsed.is_ok(), "{}", String::from_utf8_lossy(body));
        }
    }
}
