//! What each request is answered: control endpoints, faults, latency, the error share, then the
//! plain JSON endpoints and the shop. One axum handler matches the paths itself: every path but
//! the two control endpoints goes the same way, and an axum `Router`'s matching and boxing cost
//! this hot path about a tenth of its CPU time per request (measured with wrk, see
//! docs/performance.md).

use crate::capacity::{Admission, Capacity};
use crate::config::DemoTargetConfig;
use crate::faults::{abort_status, fault_delay, nth_request_fails};
use crate::responses::{self as body, json_static, json_value, Reply};
use crate::shop::{Etag, Payment, Shop, Token};
use crate::stats::{Event, Route, Stats};
use axum::body::Body;
use axum::extract::{Request, State as Shared};
use http_body_util::{BodyExt, Limited};
use hyper::header::{HeaderMap, HeaderValue, ALLOW, AUTHORIZATION, ETAG, WWW_AUTHENTICATE};
use hyper::{Method, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Request bodies are read (so connections stay reusable) and discarded; bigger ones get 413.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Everything the handlers share: read-only configuration, atomic counters, the shop.
pub(crate) struct State {
    pub config: DemoTargetConfig,
    pub stats: Stats,
    shop: Shop,
    /// The capacity model, when one was configured.
    capacity: Option<Capacity>,
    /// Numbers the requests subject to the error share, in arrival order.
    draws: AtomicU64,
}

impl State {
    pub(crate) fn new(config: DemoTargetConfig) -> Self {
        State {
            capacity: config
                .capacity
                .map(|rps| Capacity::new(rps, tokio::time::Instant::now())),
            config,
            stats: Stats::new(),
            shop: Shop::new(),
            draws: AtomicU64::new(0),
        }
    }
}

/// The endpoint a path names.
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    Root,
    Products,
    Product(String),
    Checkout,
    Login,
    Cart,
    Pay(Option<Etag>),
    /// `/seq/{n}`: remembered in the stats (`n` a whole number), otherwise a plain path.
    Seq(Option<u64>),
    Other,
}

impl Endpoint {
    fn of(path: &str) -> Endpoint {
        match path {
            "/" => Endpoint::Root,
            "/products" => Endpoint::Products,
            "/checkout" => Endpoint::Checkout,
            "/login" => Endpoint::Login,
            "/cart" => Endpoint::Cart,
            "/pay" => Endpoint::Pay(None),
            _ => {
                if let Some(id) = path.strip_prefix("/products/") {
                    Endpoint::Product(id.to_string())
                } else if let Some(etag) = path.strip_prefix("/pay/") {
                    Endpoint::Pay(Etag::parse(etag))
                } else if let Some(n) = path.strip_prefix("/seq/") {
                    Endpoint::Seq(n.parse().ok())
                } else {
                    Endpoint::Other
                }
            }
        }
    }

    fn route(&self) -> Route {
        match self {
            Endpoint::Root => Route::Root,
            Endpoint::Products | Endpoint::Product(_) => Route::Products,
            Endpoint::Checkout => Route::Checkout,
            Endpoint::Login => Route::Login,
            Endpoint::Cart => Route::Cart,
            Endpoint::Pay(_) => Route::Pay,
            Endpoint::Seq(_) | Endpoint::Other => Route::Other,
        }
    }
}

/// Answers one request (the server serves it as a service: `handle.with_state(state)`).
pub(crate) async fn handle(Shared(state): Shared<Arc<State>>, request: Request) -> Reply {
    match request.uri().path() {
        // Control endpoints: answered at once and never counted.
        "/health" => return json_static(StatusCode::OK, body::HEALTH),
        "/stats" => return json_value(StatusCode::OK, &state.stats.snapshot()),
        _ => {}
    }
    let endpoint = Endpoint::of(request.uri().path());
    if let Endpoint::Seq(Some(n)) = endpoint {
        state.stats.seq(n);
    }
    let route = endpoint.route();
    let reply = answer(&state, endpoint, request).await;
    state.stats.answered(route, reply.status().as_u16());
    reply
}

async fn answer(state: &State, endpoint: Endpoint, request: Request) -> Reply {
    let (parts, incoming) = request.into_parts();
    if let Err(reply) = drain(incoming).await {
        return reply;
    }
    if let Some(delay) = fault_delay(&parts.headers) {
        state.stats.count(Event::FaultDelay);
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = abort_status(&parts.headers) {
        state.stats.count(Event::FaultAbort);
        return json_static(status, body::FAULT_ABORT);
    }
    if let Some(capacity) = &state.capacity {
        let service = capacity.draw_service();
        match capacity.admit(tokio::time::Instant::now(), service) {
            Admission::Served { done } => tokio::time::sleep_until(done).await,
            Admission::Shed => {
                return json_static(StatusCode::SERVICE_UNAVAILABLE, body::OVERLOADED)
            }
        }
    }
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let n = state.draws.fetch_add(1, Ordering::Relaxed);
    if nth_request_fails(state.config.seed, n, state.config.error_rate) {
        state.stats.count(Event::InjectedError);
        return json_static(StatusCode::INTERNAL_SERVER_ERROR, body::INJECTED_ERROR);
    }
    match endpoint {
        Endpoint::Root => json_static(StatusCode::OK, body::ROOT),
        Endpoint::Seq(_) | Endpoint::Other => json_static(StatusCode::OK, body::OK),
        Endpoint::Products => json_static(StatusCode::OK, body::PRODUCTS),
        Endpoint::Product(id) => product(&id),
        Endpoint::Checkout => only(&parts.method, Method::POST)
            .unwrap_or_else(|| json_static(StatusCode::OK, body::CHECKOUT)),
        Endpoint::Login => only(&parts.method, Method::POST).unwrap_or_else(|| login(state)),
        Endpoint::Cart => {
            only(&parts.method, Method::GET).unwrap_or_else(|| cart(state, &parts.headers))
        }
        Endpoint::Pay(etag) => {
            only(&parts.method, Method::POST).unwrap_or_else(|| pay(state, &parts.headers, etag))
        }
    }
}

/// Reads the request body to its end (bounded), discarding it.
async fn drain(incoming: Body) -> Result<(), Reply> {
    match Limited::new(incoming, MAX_BODY_BYTES).collect().await {
        Ok(_) => Ok(()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(json_static(StatusCode::PAYLOAD_TOO_LARGE, body::TOO_LARGE))
        }
        Err(_) => Err(json_static(StatusCode::BAD_REQUEST, body::BAD_BODY)),
    }
}

/// `Some(405)` unless the request uses `allowed`.
fn only(method: &Method, allowed: Method) -> Option<Reply> {
    if *method == allowed {
        return None;
    }
    let mut reply = json_static(StatusCode::METHOD_NOT_ALLOWED, body::METHOD_NOT_ALLOWED);
    if let Ok(value) = HeaderValue::from_str(allowed.as_str()) {
        reply.headers_mut().insert(ALLOW, value);
    }
    Some(reply)
}

fn product(id: &str) -> Reply {
    // A stable price per id, so repeated reads agree.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    json_value(
        StatusCode::OK,
        &body::Product {
            id,
            name: format!("Product {id}"),
            price_cents: 100 + hash % 9_900,
        },
    )
}

fn login(state: &State) -> Reply {
    let token = state.shop.login();
    state.stats.count(Event::Login);
    json_value(
        StatusCode::OK,
        &body::Login {
            token: token.to_string(),
        },
    )
}

fn cart(state: &State, headers: &HeaderMap) -> Reply {
    let Some(etag) = bearer(headers).and_then(|token| state.shop.cart(token)) else {
        return unauthorized(state);
    };
    state.stats.count(Event::ValidToken);
    let mut reply = json_static(StatusCode::OK, body::CART);
    if let Ok(value) = HeaderValue::from_str(&etag.to_string()) {
        reply.headers_mut().insert(ETAG, value);
    }
    reply
}

fn pay(state: &State, headers: &HeaderMap, etag: Option<Etag>) -> Reply {
    let Some(token) = bearer(headers) else {
        return unauthorized(state);
    };
    match state.shop.pay(token, etag) {
        Payment::UnknownToken => unauthorized(state),
        Payment::EtagMismatch => {
            state.stats.count(Event::ValidToken);
            state.stats.count(Event::EtagMismatch);
            json_static(StatusCode::PRECONDITION_FAILED, body::ETAG_MISMATCH)
        }
        Payment::Paid { order } => {
            state.stats.count(Event::ValidToken);
            state.stats.count(Event::Order);
            json_value(
                StatusCode::OK,
                &body::Paid {
                    status: "paid",
                    order_id: order,
                    receipt: format!("order={order} paid"),
                },
            )
        }
    }
}

fn unauthorized(state: &State) -> Reply {
    state.stats.count(Event::InvalidToken);
    let mut reply = json_static(StatusCode::UNAUTHORIZED, body::UNAUTHORIZED);
    reply
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    reply
}

/// The token of an `Authorization: Bearer <token>` header, when well formed.
fn bearer(headers: &HeaderMap) -> Option<Token> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Token::parse(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_endpoints() {
        assert_eq!(Endpoint::of("/"), Endpoint::Root);
        assert_eq!(
            Endpoint::of("/products/42"),
            Endpoint::Product("42".to_string())
        );
        assert_eq!(Endpoint::of("/products"), Endpoint::Products);
        assert_eq!(Endpoint::of("/pay/zz"), Endpoint::Pay(None));
        assert!(matches!(
            Endpoint::of("/pay/00000000000000ff"),
            Endpoint::Pay(Some(_))
        ));
        assert_eq!(Endpoint::of("/seq/42"), Endpoint::Seq(Some(42)));
        assert_eq!(Endpoint::of("/seq/x"), Endpoint::Seq(None));
        assert_eq!(Endpoint::of("/anything/else"), Endpoint::Other);
        assert_eq!(Endpoint::of("/cartography"), Endpoint::Other);
    }

    #[test]
    fn bearer_header_is_parsed_strictly() {
        let token = "0123456789abcdef0123456789abcdef";
        let mut headers = HeaderMap::new();
        for (value, ok) in [
            (format!("Bearer {token}"), true),
            (format!("bearer  {token} "), true),
            (format!("Basic {token}"), false),
            (token.to_string(), false),
            ("Bearer short".to_string(), false),
        ] {
            let header = HeaderValue::from_str(&value).expect("ascii");
            headers.insert(AUTHORIZATION, header);
            assert_eq!(bearer(&headers).is_some(), ok, "{value}");
        }
    }
}
