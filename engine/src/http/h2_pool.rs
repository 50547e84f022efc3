//! The HTTP/2 connections of one engine worker: a fixed number of slots, each holding one
//! connection once opened, and requests spread over them in turn as streams. A slot is opened
//! on first use and again after its connection failed; one request at a time opens it (the
//! others wait for that one), so a worker never holds more connections than it has slots.
//! Each connection a slot holds has a generation, so that the late failure of a connection the
//! slot has already replaced does not throw its healthy successor away.

use super::error::HttpError;
use bytes::Bytes;
use h2::client::SendRequest;
use std::cell::Cell;
use std::future::Future;

#[derive(Debug)]
pub struct H2Conns {
    /// An async lock per slot: held only while the slot's connection is being opened.
    slots: Vec<tokio::sync::Mutex<Option<Held>>>,
    next: Cell<usize>,
    generations: Cell<u64>,
}

#[derive(Debug)]
struct Held {
    generation: u64,
    send: SendRequest<Bytes>,
}

/// Which connection a stream went on: its slot and that connection's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2Slot {
    index: usize,
    generation: u64,
}

impl H2Conns {
    pub fn new(connections: usize) -> H2Conns {
        H2Conns {
            slots: (0..connections.max(1))
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next: Cell::new(0),
            generations: Cell::new(0),
        }
    }

    /// A handle to send a stream on a slot's connection, opening it with `open` if the slot
    /// has none: the next slot in turn, or `again`'s for a request its connection did not
    /// take (it goes on that slot's new connection: the next slot in turn may be about to
    /// close too, as a server counting streams per connection closes evenly used ones
    /// together).
    pub async fn sender<F, Fut>(
        &self,
        again: Option<H2Slot>,
        open: F,
    ) -> Result<(H2Slot, SendRequest<Bytes>), HttpError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<SendRequest<Bytes>, HttpError>>,
    {
        let index = match again {
            Some(at) => at.index,
            None => {
                let index = self.next.get() % self.slots.len();
                self.next.set(index.wrapping_add(1));
                index
            }
        };
        let mut slot = self.slots[index].lock().await;
        if let Some(held) = slot.as_ref() {
            let at = H2Slot {
                index,
                generation: held.generation,
            };
            return Ok((at, held.send.clone()));
        }
        let send = open().await?;
        let generation = self.generations.get().wrapping_add(1);
        self.generations.set(generation);
        *slot = Some(Held {
            generation,
            send: send.clone(),
        });
        Ok((H2Slot { index, generation }, send))
    }

    /// The connection at `at` failed (GOAWAY, closed, I/O error): the next request on its slot
    /// opens a new one, unless the slot already holds a newer connection.
    pub fn forget(&self, at: H2Slot) {
        if let Some(slot) = self.slots.get(at.index) {
            if let Ok(mut s) = slot.try_lock() {
                if s.as_ref().is_some_and(|h| h.generation == at.generation) {
                    *s = None;
                }
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
