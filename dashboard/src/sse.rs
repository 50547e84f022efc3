//! The `/events` stream (Server-Sent Events): a snapshot of everything first, then the hub's
//! events as they happen. A browser that reconnects (EventSource does so by itself, sending
//! `Last-Event-ID`) is sent only what it missed when the hub can tell (the events after its
//! last one, or a `resume` with each run's series from where it was: see
//! [`Hub::connect_after`]), else a fresh snapshot to redraw from.

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
    out.push_str(&event.id);
    out.push_str("\nevent: ");
    out.push_str(event.name);
    for line in event.data.split('\n') {
        out.push_str("\ndata: ");
        out.push_str(line);
    }
    out.push_str("\n\n");
    Bytes::from(out)
}

/// Starts a stream for one browser; `last_event_id` is its `Last-Event-ID`, if it sent one.
pub fn stream(
    hub: Arc<Hub>,
    mut shutdown: watch::Receiver<bool>,
    last_event_id: Option<String>,
) -> SseBody {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let (first, mut events) = hub.connect_after(last_event_id.as_deref());
    tokio::spawn(async move {
        let mut last = last_event_id;
        let retry = format!("retry: {RETRY_MS}\n\n");
        if tx.send(Bytes::from(retry)).await.is_err() {
            return;
        }
        for event in &first {
            if tx.send(encode(event)).await.is_err() {
                return;
            }
            last = Some(event.id.to_string());
        }
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            let chunk = tokio::select! {
                // Events first: what was published before a shutdown still goes out.
                biased;
                event = events.recv() => match event {
                    Ok(event) => {
                        last = Some(event.id.to_string());
                        encode(&event)
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too far behind the live channel: catch up from the backlog (or a
                        // resume) as a reconnecting browser would.
                        let (catch_up, fresh) = hub.connect_after(last.as_deref());
                        events = fresh;
                        let mut out = Vec::new();
                        for event in &catch_up {
                            out.extend_from_slice(&encode(event));
                            last = Some(event.id.to_string());
                        }
                        Bytes::from(out)
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = shutdown.changed() => break,
                _ = keepalive.tick() => Bytes::from_static(b": keepalive\n\n"),
                _ = tx.closed() => break,
            };
            if chunk.is_empty() {
                continue;
            }
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
            seq: 7,
            id: "1f.7 run-1:3".into(),
            name: "tick",
            data: "{\"a\":1}\n{\"b\":2}".into(),
        };
        assert_eq!(
            &encode(&e)[..],
            b"id: 1f.7 run-1:3\nevent: tick\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
        );
    }
}
