//! The demo target over real sockets, with a hyper HTTP/1.1 client.
//!
//! Tests about delays run on tokio's paused clock: the runtime jumps the clock forward only
//! when every task waits, so virtual elapsed time shows how long the server slept, exactly and
//! without depending on the machine's speed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderMap;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use ptl_demo_target::{serve, DemoTarget, DemoTargetConfig, DemoTargetError, StatsSnapshot};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;

struct Client {
    sender: SendRequest<Full<Bytes>>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Client { sender }
    }

    async fn try_send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Answer, hyper::Error> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "127.0.0.1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .expect("valid request");
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    async fn send(&mut self, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.try_send(method, path, headers, Vec::new())
            .await
            .expect("request answered")
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, &[]).await
    }
}

async fn start(config: DemoTargetConfig) -> (DemoTarget, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let target = serve(config, async {
        let _ = stopped.await;
    })
    .await
    .expect("demo target starts");
    (target, stop)
}

async fn stats(client: &mut Client) -> StatsSnapshot {
    let answer = client.get("/stats").await;
    assert_eq!(answer.status, StatusCode::OK);
    serde_json::from_str(&answer.body).expect("stats JSON")
}

#[tokio::test]
async fn plain_endpoints_answer_json_and_are_counted() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    assert!(target.addr().ip().is_loopback());
    assert_ne!(target.addr().port(), 0);
    let mut client = Client::connect(target.addr()).await;

    let root = client.get("/").await;
    assert_eq!(root.status, StatusCode::OK);
    assert_eq!(root.headers["content-type"], "application/json");
    assert_eq!(root.json()["ok"], true);

    let product = client.get("/products/prod_42?x=1").await;
    assert_eq!(product.status, StatusCode::OK);
    assert_eq!(product.json()["id"], "prod_42");
    let again = client.get("/products/prod_42").await;
    assert_eq!(product.json()["price_cents"], again.json()["price_cents"]);

    let anything = client.get("/some/other/path").await;
    assert_eq!(anything.status, StatusCode::OK);

    let checkout = client
        .try_send(Method::POST, "/checkout", &[], br#"{"user":"u1"}"#.to_vec())
        .await
        .expect("answered");
    assert_eq!(checkout.status, StatusCode::OK);

    // Control endpoints are answered but not counted.
    assert_eq!(client.get("/health").await.status, StatusCode::OK);
    let snapshot = stats(&mut client).await;
    assert_eq!(snapshot.requests, 5);
    assert_eq!(snapshot.by_path["/"], 1);
    assert_eq!(snapshot.by_path["/products"], 2);
    assert_eq!(snapshot.by_path["/checkout"], 1);
    assert_eq!(snapshot.by_path["other"], 1);
    assert_eq!(snapshot.by_status["200"], 5);
    assert_eq!(snapshot, target.stats());
}

#[tokio::test]
async fn the_shop_journey_logs_in_reads_the_cart_and_pays() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;

    let login = client
        .try_send(
            Method::POST,
            "/login",
            &[],
            br#"{"user":"user_1"}"#.to_vec(),
        )
        .await
        .expect("answered");
    assert_eq!(login.status, StatusCode::OK);
    let token = login.json()["token"]
        .as_str()
        .expect("token is a string")
        .to_string();
    let other_login = client.send(Method::POST, "/login", &[]).await;
    assert_ne!(other_login.json()["token"].as_str(), Some(token.as_str()));

    let bearer = format!("Bearer {token}");
    let cart = client
        .send(Method::GET, "/cart", &[("authorization", &bearer)])
        .await;
    assert_eq!(cart.status, StatusCode::OK);
    let etag = cart.headers["etag"]
        .to_str()
        .expect("ascii ETag")
        .to_string();

    let paid = client
        .send(
            Method::POST,
            &format!("/pay/{etag}"),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    assert!(paid.body.contains("paid"), "{}", paid.body);
    // What the shop example captures with regex("order=([a-z0-9]+)").
    let order = paid
        .body
        .split("order=")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count()
        })
        .unwrap_or(0);
    assert!(order > 0, "{}", paid.body);

    // The ETag is used up.
    let again = client
        .send(
            Method::POST,
            &format!("/pay/{etag}"),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(again.status, StatusCode::PRECONDITION_FAILED);

    let snapshot = stats(&mut client).await;
    assert_eq!(snapshot.logins, 2);
    assert_eq!(snapshot.orders, 1);
    assert_eq!(snapshot.valid_tokens, 3);
    assert_eq!(snapshot.invalid_tokens, 0);
    assert_eq!(snapshot.etag_mismatches, 1);
    assert_eq!(snapshot.by_path["/login"], 2);
    assert_eq!(snapshot.by_path["/cart"], 1);
    assert_eq!(snapshot.by_path["/pay"], 2);
}

#[tokio::test]
async fn wrong_or_missing_tokens_are_refused_and_counted() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;
    let login = client.send(Method::POST, "/login", &[]).await;
    let token = login.json()["token"].as_str().expect("token").to_string();
    let bearer = format!("Bearer {token}");
    let cart = client
        .send(Method::GET, "/cart", &[("authorization", &bearer)])
        .await;
    let etag = cart.headers["etag"].to_str().expect("ascii").to_string();

    let unknown = "Bearer 0123456789abcdef0123456789abcdef";
    for (method, path, headers) in [
        (Method::GET, "/cart".to_string(), vec![]),
        (
            Method::GET,
            "/cart".to_string(),
            vec![("authorization", unknown)],
        ),
        (
            Method::GET,
            "/cart".to_string(),
            vec![("authorization", "Bearer not-a-token")],
        ),
        (Method::POST, format!("/pay/{etag}"), vec![]),
        (
            Method::POST,
            format!("/pay/{etag}"),
            vec![("authorization", unknown)],
        ),
    ] {
        let answer = client.send(method, &path, &headers).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{path} {headers:?}"
        );
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    // A valid token with an ETag it was not issued.
    let wrong_etag = client
        .send(
            Method::POST,
            "/pay/0000000000000000",
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(wrong_etag.status, StatusCode::PRECONDITION_FAILED);
    // The cart is still payable with the right one.
    let paid = client
        .send(
            Method::POST,
            &format!("/pay/{etag}"),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK);

    let snapshot = stats(&mut client).await;
    assert_eq!(snapshot.invalid_tokens, 5);
    assert_eq!(snapshot.valid_tokens, 3);
    assert_eq!(snapshot.by_status["401"], 5);
    assert_eq!(snapshot.orders, 1);
}

#[tokio::test]
async fn shop_endpoints_check_the_method() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;
    let answer = client.get("/login").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "POST");
    let answer = client.send(Method::POST, "/cart", &[]).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers["allow"], "GET");
}

#[tokio::test(start_paused = true)]
async fn envoy_abort_header_answers_its_status_at_once() {
    let config = DemoTargetConfig {
        latency: Duration::from_secs(3600),
        ..DemoTargetConfig::default()
    };
    let (target, _stop) = start(config).await;
    let mut client = Client::connect(target.addr()).await;
    let began = Instant::now();
    let answer = client
        .send(
            Method::GET,
            "/products/1",
            &[("x-envoy-fault-abort-request", "503")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
    // An unusable status is ignored: the request is answered normally, after the latency.
    let began = Instant::now();
    let answer = client
        .send(
            Method::GET,
            "/products/1",
            &[("x-envoy-fault-abort-request", "abc")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(began.elapsed() >= Duration::from_secs(3600));
    let snapshot = target.stats();
    assert_eq!(snapshot.fault_aborts, 1);
    assert_eq!(snapshot.by_status["503"], 1);
}

#[tokio::test(start_paused = true)]
async fn latency_and_the_delay_header_hold_the_answer_back() {
    let config = DemoTargetConfig {
        latency: Duration::from_millis(200),
        ..DemoTargetConfig::default()
    };
    let (target, _stop) = start(config).await;
    let mut client = Client::connect(target.addr()).await;

    let began = Instant::now();
    assert_eq!(client.get("/").await.status, StatusCode::OK);
    let plain = began.elapsed();
    assert!(plain >= Duration::from_millis(200), "{plain:?}");
    assert!(plain < Duration::from_millis(1200), "{plain:?}");

    let began = Instant::now();
    let answer = client
        .send(Method::GET, "/", &[("x-envoy-fault-delay-request", "5000")])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let delayed = began.elapsed();
    assert!(delayed >= Duration::from_millis(5200), "{delayed:?}");
    assert!(delayed < Duration::from_millis(6200), "{delayed:?}");

    // Delay then abort, as Envoy applies them.
    let began = Instant::now();
    let answer = client
        .send(
            Method::GET,
            "/",
            &[
                ("x-envoy-fault-delay-request", "1000"),
                ("x-envoy-fault-abort-request", "429"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let both = began.elapsed();
    assert!(both >= Duration::from_millis(1000), "{both:?}");
    assert!(both < Duration::from_millis(1200), "{both:?}");

    let snapshot = target.stats();
    assert_eq!(snapshot.fault_delays, 2);
    assert_eq!(snapshot.fault_aborts, 1);
}

/// The statuses of `n` sequential requests on one connection.
async fn statuses(config: DemoTargetConfig, n: usize) -> (Vec<u16>, StatsSnapshot) {
    let (target, _stop) = start(config).await;
    let mut client = Client::connect(target.addr()).await;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(client.get(&format!("/products/{i}")).await.status.as_u16());
    }
    (out, target.stats())
}

#[tokio::test]
async fn the_error_rate_fails_a_seeded_reproducible_share() {
    let config = DemoTargetConfig {
        error_rate: 0.25,
        seed: 9,
        ..DemoTargetConfig::default()
    };
    let n = 400;
    let (first, snapshot) = statuses(config.clone(), n).await;
    let (second, _) = statuses(config.clone(), n).await;
    assert_eq!(first, second, "same seed, same failing requests");
    let failed = first.iter().filter(|&&s| s == 500).count();
    assert!(first.iter().all(|&s| s == 200 || s == 500));
    // 400 draws at 25%: the seeded count is fixed; this band holds it with a wide margin.
    assert!((60..=140).contains(&failed), "{failed} of {n} failed");
    assert_eq!(snapshot.injected_errors, failed as u64);
    assert_eq!(
        snapshot.by_status.get("500").copied().unwrap_or(0),
        failed as u64
    );

    let (other_seed, _) = statuses(
        DemoTargetConfig {
            seed: 10,
            ..config.clone()
        },
        n,
    )
    .await;
    assert_ne!(first, other_seed);

    let (none_fail, _) = statuses(
        DemoTargetConfig {
            error_rate: 0.0,
            ..config
        },
        50,
    )
    .await;
    assert!(none_fail.iter().all(|&s| s == 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_are_all_counted() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let addr = target.addr();
    let clients = 8;
    let per_client = 50;
    let mut tasks = Vec::new();
    for c in 0..clients {
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            for i in 0..per_client {
                let answer = client.get(&format!("/products/{c}-{i}")).await;
                assert_eq!(answer.status, StatusCode::OK);
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let snapshot = target.stats();
    assert_eq!(snapshot.requests, (clients * per_client) as u64);
    assert_eq!(snapshot.by_path["/products"], (clients * per_client) as u64);
}

/// A burst far above the capacity: the workers and the backlog (about 58 requests) are
/// served, the rest shed with 503, and `/stats` counts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_capacity_is_partly_shed() {
    let config = DemoTargetConfig {
        capacity: Some(50.0),
        ..DemoTargetConfig::default()
    };
    let (target, _stop) = start(config).await;
    let addr = target.addr();
    let burst = 300;
    let mut tasks = Vec::new();
    for _ in 0..burst {
        tasks.push(tokio::spawn(async move {
            Client::connect(addr).await.get("/").await.status
        }));
    }
    let mut served = 0;
    let mut shed = 0;
    for task in tasks {
        match task.await.expect("client task") {
            StatusCode::OK => served += 1,
            StatusCode::SERVICE_UNAVAILABLE => shed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(served >= 50, "{served} served");
    assert!(shed > 0, "nothing shed");
    let snapshot = target.stats();
    assert_eq!(snapshot.by_status["503"], shed);
    assert_eq!(snapshot.requests, burst);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;
    let answer = client
        .try_send(Method::POST, "/checkout", &[], vec![b'x'; 2 << 20])
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let (target, stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;
    assert_eq!(client.get("/").await.status, StatusCode::OK);
    stop.send(()).expect("server still running");
    target.wait().await.expect("clean stop");
    // The kept-alive connection was closed by the server.
    let after = client.try_send(Method::GET, "/", &[], Vec::new()).await;
    assert!(after.is_err(), "answered after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    let (target, stop) = start(DemoTargetConfig::default()).await;
    let addr = target.addr();
    let mut client = Client::connect(addr).await;
    let in_flight = tokio::spawn(async move {
        client
            .send(Method::GET, "/", &[("x-envoy-fault-delay-request", "500")])
            .await
    });
    // The delay is counted as it starts: from then on the request is the server's.
    let deadline = Instant::now() + Duration::from_secs(20);
    while target.stats().fault_delays == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(()).expect("server still running");
    let answer = in_flight.await.expect("the client task does not panic");
    assert_eq!(answer.status, StatusCode::OK);
    target.wait().await.expect("clean stop");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn bad_configuration_and_busy_ports_are_errors() {
    let invalid = serve(
        DemoTargetConfig {
            error_rate: 1.5,
            ..DemoTargetConfig::default()
        },
        std::future::pending(),
    )
    .await;
    assert!(matches!(invalid, Err(DemoTargetError::InvalidErrorRate(_))));
    for capacity in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        let invalid = serve(
            DemoTargetConfig {
                capacity: Some(capacity),
                ..DemoTargetConfig::default()
            },
            std::future::pending(),
        )
        .await;
        assert!(matches!(invalid, Err(DemoTargetError::InvalidCapacity(_))));
    }

    let (busy, _stop) = start(DemoTargetConfig::default()).await;
    let clash = serve(
        DemoTargetConfig {
            port: busy.addr().port(),
            ..DemoTargetConfig::default()
        },
        std::future::pending(),
    )
    .await;
    assert!(matches!(clash, Err(DemoTargetError::Bind { .. })));
}

#[tokio::test(start_paused = true)]
async fn idle_keep_alive_connections_stay_open_through_long_pauses() {
    let (target, _stop) = start(DemoTargetConfig::default()).await;
    let mut client = Client::connect(target.addr()).await;
    assert_eq!(client.get("/").await.status, StatusCode::OK);
    // A plan's `pause 2m` phase: the connection must still serve afterwards.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let after = client.try_send(Method::GET, "/", &[], Vec::new()).await;
    assert_eq!(
        after.expect("same connection still open").status,
        StatusCode::OK
    );
}
