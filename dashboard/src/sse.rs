//! The `/events` stream (Server-Sent Events): a snapshot of everything first, then the hub's
//! events as they happen. A browser that reconnects (EventSource does so by itself, sending
//! `Last-Event-ID`) is sent only what it missed when the hub can tell (the events after its
//! last one, or a `resume` with each run's series from where it was: see
//! [`Hub::connect_after`]), else a fresh snapshot to redraw from.
//!
//! At most [`MAX_EVENT_STREAMS`] streams are open at once; one more is answered 503. Every
//! stream ends when the server stops, after the events already published.

use crate::hub::{Event, Hub};
use crate::reply;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Event streams open at once. Each holds a connection, a task's worth of buffers and a
/// subscription to the hub; a few hundred browsers is far more than a dashboard serves.
pub const MAX_EVENT_STREAMS: usize = 256;
/// A comment line now and then keeps proxies from closing a quiet stream.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting (the SSE `retry:` field).
const RETRY: Duration = Duration::from_millis(1000);

/// What every event stream of one server shares: the cap and the server's stop token.
#[derive(Clone)]
pub struct Streams {
    permits: Arc<Semaphore>,
    stop: CancellationToken,
}

impl Streams {
    /// Streams that end when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Streams {
        Streams {
            permits: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
            stop,
        }
    }

    /// The answer to `GET /events` for one browser (`last_event_id` is its `Last-Event-ID`, if
    /// it sent one): the stream, or 503 while [`MAX_EVENT_STREAMS`] are open.
    pub fn open(&self, hub: Arc<Hub>, last_event_id: Option<String>) -> Response {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            let mut refused = reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many event streams are open",
            );
            refused
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
            return refused;
        };
        let feed = Feed::new(hub, self.stop.clone(), last_event_id, permit);
        let mut response = Sse::new(feed.into_stream())
            .keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
            .into_response();
        response
            .headers_mut()
            .insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

/// One event in the SSE wire form: `id:`, `event:`, then a `data:` line per line of data. The
/// id (a [`crate::cursor::Cursor`]) never holds a line break or NUL, the names are ours and the
/// data is compact JSON, so none of axum's checks on them can fail.
pub fn encode(event: &Event) -> sse::Event {
    sse::Event::default()
        .id(&*event.id)
        .event(event.name)
        .data(&*event.data)
}

/// One browser's stream: what is queued to go out, then the hub's live events.
struct Feed {
    hub: Arc<Hub>,
    stop: CancellationToken,
    live: broadcast::Receiver<Event>,
    queue: VecDeque<sse::Event>,
    /// The id of the last event queued: where to catch up from after falling behind.
    last: Option<String>,
    /// Held for as long as the stream is open.
    _permit: OwnedSemaphorePermit,
}

impl Feed {
    fn new(
        hub: Arc<Hub>,
        stop: CancellationToken,
        last_event_id: Option<String>,
        permit: OwnedSemaphorePermit,
    ) -> Feed {
        let (first, live) = hub.connect_after(last_event_id.as_deref());
        let mut feed = Feed {
            hub,
            stop,
            live,
            queue: VecDeque::from([sse::Event::default().retry(RETRY)]),
            last: last_event_id,
            _permit: permit,
        };
        feed.enqueue(&first);
        feed
    }

    fn enqueue(&mut self, events: &[Event]) {
        for event in events {
            self.queue.push_back(encode(event));
            self.last = Some(event.id.to_string());
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<sse::Event, Infallible>> + Send {
        futures_util::stream::unfold(self, |mut feed| async move {
            let event = feed.next().await?;
            Some((Ok(event), feed))
        })
    }

    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<sse::Event> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            tokio::select! {
                // Events first: what was published before a shutdown still goes out.
                biased;
                event = self.live.recv() => match event {
                    Ok(event) => self.enqueue(std::slice::from_ref(&event)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too far behind the live channel: catch up from the backlog (or a
                        // resume) as a reconnecting browser would.
                        let (catch_up, fresh) = self.hub.connect_after(self.last.as_deref());
                        self.live = fresh;
                        self.enqueue(&catch_up);
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.stop.cancelled() => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// The bytes a stream of `events` puts on the wire.
    async fn wire(events: Vec<sse::Event>) -> Vec<u8> {
        let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
        let body = Sse::new(stream).into_response().into_body();
        body.collect().await.expect("a body").to_bytes().to_vec()
    }

    #[tokio::test]
    async fn events_are_framed_with_id_name_and_one_data_line_per_line() {
        let e = Event {
            seq: 7,
            id: "1f.7 run-1:3".into(),
            name: "tick",
            data: "{\"a\":1}\n{\"b\":2}".into(),
        };
        assert_eq!(
            wire(vec![encode(&e)]).await,
            b"id: 1f.7 run-1:3\nevent: tick\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n"
        );
        assert_eq!(
            wire(vec![sse::Event::default().retry(RETRY)]).await,
            b"retry: 1000\n\n"
        );
    }

    #[tokio::test]
    async fn a_stream_past_the_cap_is_refused_and_its_place_freed_when_one_ends() {
        let streams = Streams::new(CancellationToken::new());
        let hub = Hub::new();
        let open: Vec<Response> = (0..MAX_EVENT_STREAMS)
            .map(|_| streams.open(hub.clone(), None))
            .collect();
        assert!(open.iter().all(|r| r.status() == StatusCode::OK));
        let refused = streams.open(hub.clone(), None);
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[RETRY_AFTER], "5");
        drop(open);
        assert_eq!(streams.open(hub, None).status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn streams_end_at_the_stop_after_what_was_published() {
        let stop = CancellationToken::new();
        let streams = Streams::new(stop.clone());
        let hub = Hub::new();
        let body = streams.open(hub.clone(), None).into_body();
        hub.add_failed("run-1", "p", crate::model::RunSource::Local, "broken");
        stop.cancel();
        let bytes = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("the stream ends")
            .expect("a body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("retry: 1000\n\nid: "), "{text}");
        assert!(text.contains("event: snapshot\n"), "{text}");
        assert!(
            text.contains("run-1"),
            "the event published before the stop: {text}"
        );
    }
}
