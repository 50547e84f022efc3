//! The bounded pool of keep-alive connections of one engine worker. A lease is a permit to use
//! one of the `size` connections: the connection itself is reused when an idle one is left,
//! opened on demand otherwise. Permits are handed out first come, first served, so waiting
//! requests go in the order they asked. Single-threaded by design (one pool per worker thread),
//! so the idle list is a `RefCell` and no lock is ever taken.

use super::connection::Connection;
use super::error::HttpError;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Where connections go: a host and port, resolved on first use and again after a failure.
#[derive(Debug)]
pub struct Endpoint {
    host: String,
    port: u16,
    resolved: RefCell<Option<Vec<SocketAddr>>>,
    next: std::cell::Cell<usize>,
}

impl Endpoint {
    pub fn new(host: &str, port: u16) -> Endpoint {
        // `[::1]` in a URL authority is `::1` for the resolver.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Endpoint {
            host,
            port,
            resolved: RefCell::new(None),
            next: std::cell::Cell::new(0),
        }
    }

    async fn addr(&self) -> Result<SocketAddr, HttpError> {
        if let Some(addrs) = self.resolved.borrow().as_ref() {
            if !addrs.is_empty() {
                let i = self.next.get();
                self.next.set(i.wrapping_add(1));
                return Ok(addrs[i % addrs.len()]);
            }
        }
        let fail = |reason: String| HttpError::Resolve {
            host: self.host.clone(),
            reason,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| fail(e.to_string()))?
            .collect();
        let first = *addrs.first().ok_or_else(|| fail("no addresses".into()))?;
        *self.resolved.borrow_mut() = Some(addrs);
        Ok(first)
    }

    fn forget(&self) {
        *self.resolved.borrow_mut() = None;
    }
}

#[derive(Debug)]
pub struct Pool {
    endpoint: Endpoint,
    connect_timeout: Duration,
    permits: Arc<Semaphore>,
    idle: RefCell<Vec<Connection>>,
    size: usize,
}

impl Pool {
    pub fn new(endpoint: Endpoint, size: usize, connect_timeout: Duration) -> Rc<Pool> {
        let size = size.max(1);
        Rc::new(Pool {
            endpoint,
            connect_timeout,
            permits: Arc::new(Semaphore::new(size)),
            idle: RefCell::new(Vec::with_capacity(size)),
            size,
        })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Connections not leased right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits for a free slot. `None` only if the pool was shut down (it never is while a
    /// worker runs).
    pub async fn lease(self: &Rc<Self>) -> Option<Lease> {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        Some(Lease {
            pool: self.clone(),
            conn: None,
            _permit: permit,
        })
    }

    /// A free slot right now, if there is one (no waiting, no waker registration).
    pub fn try_lease(self: &Rc<Self>) -> Option<Lease> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Lease {
            pool: self.clone(),
            conn: None,
            _permit: permit,
        })
    }

    /// Resolves (if needed) and connects, all within the connect timeout: a resolver that
    /// hangs is a connect timeout like any other.
    async fn connect(&self) -> Result<Connection, HttpError> {
        let attempt = async {
            let addr = self.endpoint.addr().await?;
            Connection::open(addr).await
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => {
                self.endpoint.forget();
                Err(e)
            }
            Err(_) => Err(HttpError::ConnectTimeout),
        }
    }
}

/// The right to use one connection of the pool until dropped. A connection still open when
/// the lease ends goes back to the idle list.
pub struct Lease {
    pool: Rc<Pool>,
    conn: Option<Connection>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// An open connection: an idle one if there is one, else a new one.
    pub async fn connection(&mut self) -> Result<&mut Connection, HttpError> {
        if self.conn.as_ref().is_some_and(|c| !c.is_open()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let reused = loop {
                let Some(c) = self.pool.idle.borrow_mut().pop() else {
                    break None;
                };
                if c.is_open() {
                    break Some(c);
                }
            };
            let c = match reused {
                Some(c) => c,
                None => self.pool.connect().await?,
            };
            self.conn = Some(c);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(HttpError::ConnectTimeout),
        }
    }

    /// Takes the connection out of the pool for good (to close or reset it).
    pub fn take(&mut self) -> Option<Connection> {
        self.conn.take()
    }

    /// The connection is in an unknown state (a request was abandoned on it): drop it.
    pub fn discard(&mut self) {
        self.conn = None;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if c.is_open() {
                self.pool.idle.borrow_mut().push(c);
            }
        }
    }
}
