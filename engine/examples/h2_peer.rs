//! A minimal peer for measuring `http 2`: answers every request with 200 `ok`, over h2c
//! (prior knowledge) on one port and HTTP/1.1 keep-alive on another, both with hyper on one
//! thread, so the two protocols are measured against the same server code.
//! `cargo run --release -p ptl-engine --example h2_peer -- H2_PORT H1_PORT`

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use tokio::net::TcpListener;

async fn ok(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let h2_port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(18082);
    let h1_port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(18081);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let h2 = TcpListener::bind(("127.0.0.1", h2_port)).await?;
        let h1 = TcpListener::bind(("127.0.0.1", h1_port)).await?;
        println!("h2c http://127.0.0.1:{h2_port}  http/1.1 http://127.0.0.1:{h1_port}");
        tokio::spawn(async move {
            while let Ok((s, _)) = h1.accept().await {
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(s), service_fn(ok))
                        .await;
                });
            }
        });
        while let Ok((s, _)) = h2.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(256)
                    .serve_connection(TokioIo::new(s), service_fn(ok))
                    .await;
            });
        }
        Ok(())
    })
}
