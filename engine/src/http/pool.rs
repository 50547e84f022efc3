//! The bounded pool of keep-alive connections of one engine worker. A lease is a permit to use
//! one of the `size` connections: the connection itself is reused when an idle one is left,
//! opened on demand otherwise; the lease also lends a buffer for the request's bytes. Permits
//! are handed out first come, first served, so waiting requests go in the order they asked.
//! Single-threaded by design (one pool per worker thread), so slots, idle list and buffers
//! are cells and no lock or atomic is ever taken.
//!
//! An HTTP/2 pool ([`Pool::new_h2`]) keeps the same slots and buffers, but a slot is a permit
//! for one stream, and the streams go on the few connections of its [`H2Conns`].

use super::connection::{Connection, Response, SendOutcome, Want};
use super::error::HttpError;
use super::h2_connection::{self, H2Send};
use super::h2_pool::{H2Conns, H2Slot};
use super::tls::TlsTarget;
use crate::target_policy::TargetPolicy;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Where connections go: a host and port, resolved on first use and again after a failure
/// (each answer held to the target policy), and for HTTPS the TLS session to open over each connection.
#[derive(Debug)]
pub struct Endpoint {
    host: String,
    port: u16,
    resolved: RefCell<Option<Vec<SocketAddr>>>,
    next: std::cell::Cell<usize>,
    tls: Option<TlsTarget>,
    policy: Arc<TargetPolicy>,
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
            tls: None,
            policy: Arc::default(),
        }
    }

    /// Connections go only to the addresses `policy` allows, checked on every DNS answer
    /// (the one the connection uses), so an answer that changes cannot move the load.
    pub fn with_policy(mut self, policy: Arc<TargetPolicy>) -> Endpoint {
        self.policy = policy;
        self
    }

    /// Connections speak TLS when `tls` is given (`None`: plain HTTP).
    pub fn with_tls(mut self, tls: Option<TlsTarget>) -> Endpoint {
        self.tls = tls;
        self
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
        let addrs = self
            .policy
            .allowed_addrs(&self.host, self.port, addrs)
            .map_err(HttpError::Refused)?;
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
    slots: Slots,
    /// Boxed so that leases (which live in every request's future) stay small to move.
    #[allow(clippy::vec_box)]
    idle: RefCell<Vec<Box<Connection>>>,
    /// Request buffers of ended leases, for the next ones.
    buffers: RefCell<Vec<Vec<u8>>>,
    size: usize,
    /// Set for HTTP/2: the connections the leases' streams go on.
    h2: Option<H2Conns>,
}

/// Request buffers larger than this are not kept for reuse (a huge body once should not pin
/// its memory for the rest of the run).
const KEEP_BUFFER: usize = 64 * 1024;

impl Pool {
    pub fn new(endpoint: Endpoint, size: usize, connect_timeout: Duration) -> Rc<Pool> {
        let size = size.max(1);
        Rc::new(Pool {
            endpoint,
            connect_timeout,
            slots: Slots::new(size),
            idle: RefCell::new(Vec::with_capacity(size)),
            buffers: RefCell::new(Vec::new()),
            size,
            h2: None,
        })
    }

    /// An HTTP/2 pool: `connections` connections carrying at most `streams` requests at once
    /// from this worker (and at most what the server's SETTINGS_MAX_CONCURRENT_STREAMS lets
    /// each connection carry; h2 holds the rest back until a stream ends).
    pub fn new_h2(
        endpoint: Endpoint,
        connections: usize,
        streams: usize,
        connect_timeout: Duration,
    ) -> Rc<Pool> {
        let size = streams.max(1);
        Rc::new(Pool {
            endpoint,
            connect_timeout,
            slots: Slots::new(size),
            idle: RefCell::new(Vec::new()),
            buffers: RefCell::new(Vec::new()),
            size,
            h2: Some(H2Conns::new(connections)),
        })
    }

    /// HTTP/2 connections holding an open (or not yet failed) connection; 0 for HTTP/1.1.
    pub fn h2_connections(&self) -> usize {
        self.h2.as_ref().map_or(0, H2Conns::opened)
    }

    /// Like [`Pool::connect`], for an HTTP/2 connection.
    async fn connect_h2(&self) -> Result<h2::client::SendRequest<bytes::Bytes>, HttpError> {
        let attempt = async {
            let addr = self.endpoint.addr().await?;
            h2_connection::open(addr, self.endpoint.tls.as_ref()).await
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

    pub fn size(&self) -> usize {
        self.size
    }

    /// Connections not leased right now.
    pub fn available(&self) -> usize {
        self.slots.free.get()
    }

    /// Waits for a free slot, in the order slots were asked for. Always `Some` (the pool is
    /// never shut down while a worker runs).
    pub async fn lease(self: &Rc<Self>) -> Option<Lease> {
        Acquire {
            slots: &self.slots,
            waiter: None,
        }
        .await;
        Some(self.lease_taken())
    }

    /// A free slot right now, if there is one (no waiting, no waker registration).
    pub fn try_lease(self: &Rc<Self>) -> Option<Lease> {
        self.slots.try_take().then(|| self.lease_taken())
    }

    fn lease_taken(self: &Rc<Self>) -> Lease {
        let request = self.buffers.borrow_mut().pop().unwrap_or_default();
        Lease {
            pool: self.clone(),
            conn: None,
            request,
        }
    }

    /// Resolves (if needed), connects and makes the TLS handshake (for HTTPS), all within the
    /// connect timeout: a resolver or a handshake that hangs is a connect timeout like any
    /// other.
    async fn connect(&self) -> Result<Connection, HttpError> {
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        let attempt = async {
            let addr = self.endpoint.addr().await?;
            match &self.endpoint.tls {
                None => Connection::open(addr).await,
                Some(tls) => Connection::open_tls(addr, tls, deadline).await,
            }
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => {
                self.endpoint.forget();
                Err(e)
            }
            Err(_) => Err(HttpError::ConnectTimeout),
        }
    }
}

/// The pool's slots: a count of free ones and the leases waiting, first come first served.
/// Single-threaded, so plain cells instead of a semaphore's atomics.
#[derive(Debug)]
struct Slots {
    free: Cell<usize>,
    waiting: RefCell<VecDeque<Rc<Waiter>>>,
}

#[derive(Debug, Default)]
struct Waiter {
    /// A slot was handed to it.
    granted: Cell<bool>,
    /// It stopped waiting; a slot that reaches it goes on to the next.
    gone: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Cell::new(n),
            waiting: RefCell::new(VecDeque::new()),
        }
    }

    fn try_take(&self) -> bool {
        let free = self.free.get();
        if free > 0 && self.waiting.borrow().is_empty() {
            self.free.set(free - 1);
            return true;
        }
        false
    }

    /// A slot comes back: to the first one still waiting, else to the free count.
    fn release(&self) {
        loop {
            let next = self.waiting.borrow_mut().pop_front();
            match next {
                None => {
                    self.free.set(self.free.get() + 1);
                    return;
                }
                Some(w) if w.gone.get() => {}
                Some(w) => {
                    w.granted.set(true);
                    if let Some(waker) = w.waker.borrow_mut().take() {
                        waker.wake();
                    }
                    return;
                }
            }
        }
    }
}

struct Acquire<'a> {
    slots: &'a Slots,
    waiter: Option<Rc<Waiter>>,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.waiter {
            None => {
                if self.slots.try_take() {
                    return Poll::Ready(());
                }
                let w = Rc::new(Waiter::default());
                *w.waker.borrow_mut() = Some(cx.waker().clone());
                self.slots.waiting.borrow_mut().push_back(w.clone());
                self.waiter = Some(w);
                Poll::Pending
            }
            Some(w) if w.granted.get() => {
                self.waiter = None;
                Poll::Ready(())
            }
            Some(w) => {
                let mut waker = w.waker.borrow_mut();
                if !waker.as_ref().is_some_and(|k| k.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.waiter.take() {
            if w.granted.get() {
                // Handed a slot it will not use: pass it on.
                self.slots.release();
            } else {
                w.gone.set(true);
            }
        }
    }
}

/// The right to use one connection of the pool until dropped, with a buffer for the request
/// to send on it. A connection still open when the lease ends goes back to the idle list.
pub struct Lease {
    pool: Rc<Pool>,
    conn: Option<Box<Connection>>,
    request: Vec<u8>,
}

impl Lease {
    /// The buffer the request is written into, emptied.
    pub fn request_buf(&mut self) -> &mut Vec<u8> {
        self.request.clear();
        &mut self.request
    }

    /// The request written in the buffer.
    pub fn written(&self) -> &[u8] {
        &self.request
    }

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
                // Boxed: the connect future (resolution, connect, timeout) is large and
                // rarely needed, and would otherwise widen every request's future.
                None => Box::new(Box::pin(self.pool.connect()).await?),
            };
            self.conn = Some(c);
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(HttpError::ConnectTimeout),
        }
    }

    /// Sends the request in the buffer on the current connection (see
    /// [`Connection::send`]); `NotSent` if there is none.
    pub async fn send(
        &mut self,
        head_request: bool,
        want: Want,
        deadline: tokio::time::Instant,
    ) -> SendOutcome {
        match self.conn.as_mut() {
            Some(c) => c.send(&self.request, head_request, want, deadline).await,
            None => SendOutcome::NotSent,
        }
    }

    /// Writes the request in the buffer on the current connection without reading any
    /// answer (see [`Connection::send_unanswered`]).
    pub async fn send_unanswered(&mut self, deadline: tokio::time::Instant) {
        if let Some(c) = self.conn.as_mut() {
            c.send_unanswered(&self.request, deadline).await;
        }
    }

    /// Takes the connection out of the pool for good (to close or reset it).
    pub fn take(&mut self) -> Option<Connection> {
        self.conn.take().map(|c| *c)
    }

    /// The connection is in an unknown state (a request was abandoned on it): drop it.
    pub fn discard(&mut self) {
        self.conn = None;
    }

    /// Whether the request goes as an HTTP/2 stream ([`Lease::h2_sender`], [`Lease::h2_send`])
    /// rather than on a connection of its own.
    pub fn is_h2(&self) -> bool {
        self.pool.h2.is_some()
    }

    /// HTTP/2: the connection the next stream goes on (its slot, and a handle to send on it),
    /// opened within the connect timeout if needed: the next slot's, or for a request sent
    /// `again`, that slot's ([`H2Conns::sender`]).
    pub async fn h2_sender(
        &self,
        again: Option<H2Slot>,
    ) -> Result<(H2Slot, h2::client::SendRequest<bytes::Bytes>), HttpError> {
        match &self.pool.h2 {
            Some(conns) => conns.sender(again, || self.pool.connect_h2()).await,
            None => Err(HttpError::ConnectTimeout),
        }
    }

    /// HTTP/2: sends the request in the buffer as a stream on `send` (at `at`) and, unless
    /// `how` aborts or resets it, reads the answer. A failure of the connection itself (not a
    /// stream reset) makes the slot open a new connection next time. A request the server is
    /// known not to have processed (its connection was closing) goes again on the slot's fresh
    /// connection, as HTTP/1.1 does with a kept-alive connection found closed: the server's
    /// routine connection turnover is not the target failing. At most [`H2_ATTEMPTS`] times,
    /// so a server that refuses every stream still shows as failing.
    pub async fn h2_send(
        &self,
        at: H2Slot,
        send: h2::client::SendRequest<bytes::Bytes>,
        how: H2Send,
        want: Want,
    ) -> Result<Option<Response>, HttpError> {
        let scheme = if self.pool.endpoint.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let (mut at, mut send, mut attempts) = (at, send, 1);
        loop {
            // Parsed again for a retry: an http::Request cannot be cloned.
            let (request, body) = super::h2_request::from_wire(&self.request, scheme)
                .map_err(HttpError::H2Request)?;
            let failed = match h2_connection::round_trip(send, request, body, how, want).await {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            if failed.connection_lost() {
                if let Some(conns) = &self.pool.h2 {
                    conns.forget(at);
                }
            }
            if !failed.unprocessed || attempts >= H2_ATTEMPTS {
                return Err(HttpError::Http2(failed.error));
            }
            attempts += 1;
            (at, send) = Box::pin(self.h2_sender(Some(at))).await?;
        }
    }
}

/// How many times an HTTP/2 request the server did not process is sent in all.
const H2_ATTEMPTS: u32 = 3;

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if c.is_open() {
                self.pool.idle.borrow_mut().push(c);
            }
        }
        if self.request.capacity() <= KEEP_BUFFER {
            let mut buffers = self.pool.buffers.borrow_mut();
            if buffers.len() < self.pool.size {
                buffers.push(std::mem::take(&mut self.request));
            }
        }
        self.pool.slots.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(size: usize) -> Rc<Pool> {
        Pool::new(Endpoint::new("127.0.0.1", 9), size, Duration::from_secs(1))
    }

    #[tokio::test]
    async fn a_dns_answer_outside_the_allow_list_is_never_connected() {
        let policy = TargetPolicy::from_specs(&["10.0.0.0/8"]).unwrap();
        let endpoint = Endpoint::new("localhost", 9).with_policy(Arc::new(policy));
        match endpoint.addr().await {
            Err(HttpError::Refused(r)) => assert!(r.to_string().contains("127.0.0.1"), "{r}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            endpoint.resolved.borrow().is_none(),
            "nothing kept to connect to"
        );
        let allowed = TargetPolicy::from_specs(&["127.0.0.0/8"]).unwrap();
        let endpoint = Endpoint::new("localhost", 9).with_policy(Arc::new(allowed));
        let addr = endpoint.addr().await.expect("allowed");
        assert!(addr.ip().is_loopback() && addr.is_ipv4(), "{addr}");
    }

    #[test]
    fn slots_are_bounded_and_come_back() {
        let p = pool(2);
        let a = p.try_lease().expect("a slot");
        let _b = p.try_lease().expect("a slot");
        assert!(p.try_lease().is_none());
        assert_eq!(p.available(), 0);
        drop(a);
        assert_eq!(p.available(), 1);
        assert!(p.try_lease().is_some());
    }

    #[tokio::test]
    async fn waiting_leases_are_served_in_order_and_the_gone_are_skipped() {
        let p = pool(1);
        let held = p.try_lease().expect("the slot");
        let order = Rc::new(RefCell::new(Vec::new()));
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let mut tasks = Vec::new();
                for i in 0..4 {
                    let (p, order) = (p.clone(), order.clone());
                    tasks.push(tokio::task::spawn_local(async move {
                        let lease = p.lease().await.expect("a slot");
                        order.borrow_mut().push(i);
                        tokio::task::yield_now().await;
                        drop(lease);
                    }));
                    tokio::task::yield_now().await;
                }
                // The second waiter gives up before its turn.
                tasks.remove(1).abort();
                tokio::task::yield_now().await;
                assert!(p.try_lease().is_none(), "waiters go before new comers");
                drop(held);
                for t in tasks {
                    t.await.expect("runs");
                }
            })
            .await;
        assert_eq!(*order.borrow(), [0, 2, 3]);
        assert_eq!(p.available(), 1, "every slot came back");
    }

    #[test]
    fn a_granted_slot_not_taken_is_passed_on() {
        let p = pool(1);
        let held = p.try_lease().expect("the slot");
        let waker = futures_task_noop();
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(p.lease());
        let mut second = Box::pin(p.lease());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        drop(held);
        // The slot went to `first`, which is dropped before it looks: `second` gets it.
        drop(first);
        assert!(matches!(
            second.as_mut().poll(&mut cx),
            Poll::Ready(Some(_))
        ));
    }

    fn futures_task_noop() -> Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        Waker::from(std::sync::Arc::new(Noop))
    }
}
