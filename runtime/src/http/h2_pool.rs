//! The HTTP/2 connections of one engine worker: a fixed number of slots, each holding one
//! connection once opened, and requests spread over them in turn as streams. A slot is opened
//! on first use and again after its connection failed; one request at a time opens it (the
//! others wait for that one), so a worker never holds more connections than it has slots.

use super::error::HttpError;
use bytes::Bytes;
use h2::client::SendRequest;
use std::cell::Cell;
use std::future::Future;

#[derive(Debug)]
pub struct H2Conns {
    /// An async lock per slot: held only while the slot's connection is being opened.
    slots: Vec<tokio::sync::Mutex<Option<SendRequest<Bytes>>>>,
    next: Cell<usize>,
}

impl H2Conns {
    pub fn new(connections: usize) -> H2Conns {
        H2Conns {
            slots: (0..connections.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: Cell::new(0),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The next slot in turn and a handle to send a stream on its connection, opening it with
    /// `open` if it has none.
    pub async fn sender<F, Fut>(&self, open: F) -> Result<(usize, SendRequest<Bytes>), HttpError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SendRequest<Bytes>, HttpError>>,
    {
        let i = self.next.get() % self.slots.len();
        self.next.set(i.wrapping_add(1));
        let mut slot = self.slots[i].lock().await;
        if let Some(send) = slot.as_ref() {
            return Ok((i, send.clone()));
        }
        let send = open().await?;
        *slot = Some(send.clone());
        Ok((i, send))
    }

    /// Slot `i`'s connection failed (GOAWAY, closed, I/O error): the next request on it opens
    /// a new one.
    pub fn forget(&self, i: usize) {
        if let Some(slot) = self.slots.get(i) {
            if let Ok(mut s) = slot.try_lock() {
                *s = None;
            }
        }
    }

    /// Slots holding a connection (open or not yet known to have failed).
    pub fn opened(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.try_lock().map(|s| s.is_some()).unwrap_or(false))
            .count()
    }
}
