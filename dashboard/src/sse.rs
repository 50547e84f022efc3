//! The `/events` stream (Server-Sent Events): a snapshot of everything first, then the hub's
//! events as they happen. Every (re)connection starts with a fresh snapshot, so a browser that
//! reconnects (EventSource does so by itself, sending `Last-Event-ID`) or lands on a restarted
//! server redraws from the server's state instead of replaying what it missed.

use crate::hub::{Event, Hub};
use bytes::Bytes;
use http_body::{Body, Frame};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// A comment line now and then keeps proxies from closing a quiet stream.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting (the SSE `retry:` field), in ms.
const RETRY_MS: u32 = 1000;

/// The response body of `/events`: ends when the server shuts down.
pub struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// One event in the SSE wire format. The data is compact JSON: one line, no newline to split.
pub fn encode(event: &Event) -> Bytes {
    let mut out = String::with_capacity(event.data.len() + 40);
    out.push_str("id: ");
    out.push_str(&event.id.to_string());
    out.push_str("\nevent: ");
    out.push_str(event.name);
    for line in event.data.split('\n') {
        out.push_str("\ndata: ");
        out.push_str(line);
    }
    out.push_str("\n\n");
    Bytes::from(out)
}

/// Starts a stream for one browser.
pub fn stream(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) -> SseBody {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let (snapshot, mut events) = hub.connect();
    tokio::spawn(async move {
        let first = format!("retry: {RETRY_MS}\n\n");
        if tx.send(Bytes::from(first)).await.is_err() || tx.send(encode(&snapshot)).await.is_err() {
            return;
        }
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            let chunk = tokio::select! {
                // Events first: what was published before a shutdown still goes out.
                biased;
                event = events.recv() => match event {
                    Ok(event) => encode(&event),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too far behind to catch up event by event: start again from now.
                        let (snapshot, fresh) = hub.connect();
                        events = fresh;
                        encode(&snapshot)
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.changed() => break,
                _ = keepalive.tick() => Bytes::from_static(b": keepalive\n\n"),
                _ = tx.closed() => break,
            };
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
    });
    SseBody { rx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_with_id_name_and_one_data_line_per_line() {
        let e = Event {
            id: 7,
            name: "tick",
            data: "{\"a\":1}\n{\"b\":2}".into(),
        };
        assert_eq!(
            &encode(&e)[..],
            b"id: 7\nevent: tick\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
        );
    }
}
