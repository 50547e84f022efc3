//! A ZooKeeper session that outlives the client that opened it.
//!
//! ZooKeeper keeps a session alive while it cannot decide anything: with quorum lost, no
//! session expires, and the leader elected afterwards gives every session a fresh timeout. But
//! `zookeeper-client` declares a session expired by itself when it could not reach a server for
//! 1.4 × the session timeout, and its client is then dead. So a fleet would lose every session
//! (agents their registrations and their runs, the coordinator its leadership) to an outage
//! ZooKeeper itself rides out. Here a guardian task watches the client; when it gives up, a new
//! client resumes the *same* session (its id and password) as soon as a server answers. Only
//! the server's own "expired" ends the session ([`SessionHandle::ended`]).
//!
//! Holders take the current client from the [`SessionHandle`] for each operation, and after an
//! error that ends a client they wait for the next one ([`SessionHandle::next_client`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use zookeeper_client::{Client, Error as ZkError, SessionState};

use crate::error::ClusterError;
use crate::zk::{self, ZkConfig};

/// Pause between attempts to resume a session while no server answers.
const RESUME_RETRY: Duration = Duration::from_millis(200);

/// The current client of a durable session. Cheap to clone.
#[derive(Clone)]
pub struct SessionHandle {
    clients: watch::Receiver<Client>,
    ended: Arc<AtomicBool>,
    /// No guardian: the session ends with this one client.
    fixed: bool,
}

impl SessionHandle {
    /// A handle on one client, never replaced: its session ends when the client does (for
    /// callers that manage their client themselves, and tests).
    pub fn of(client: Client) -> SessionHandle {
        let (_, clients) = watch::channel(client);
        SessionHandle {
            clients,
            ended: Arc::new(AtomicBool::new(false)),
            fixed: true,
        }
    }

    /// The client to use now.
    pub fn client(&self) -> Client {
        self.clients.borrow().clone()
    }

    /// The server expired the session (or it was closed): it is gone for good, with its
    /// ephemeral nodes.
    pub fn ended(&self) -> bool {
        if self.fixed {
            return self.clients.borrow().state().is_terminated();
        }
        self.ended.load(Ordering::Acquire)
    }

    /// After an operation failed because its client ended: waits for a live client (the one
    /// that resumed the session: `Some`), or for the session's end (`None`).
    pub async fn next_client(&mut self) -> Option<Client> {
        loop {
            if self.ended() {
                return None;
            }
            let current = self.clients.borrow_and_update().clone();
            if !current.state().is_terminated() {
                return Some(current);
            }
            if self.clients.changed().await.is_err() {
                return None;
            }
        }
    }
}

/// A durable session and its guardian; dropping it stops the guardian (the last client then
/// closes the session when dropped).
pub struct DurableSession {
    handle: SessionHandle,
    guardian: tokio::task::JoinHandle<()>,
}

impl Drop for DurableSession {
    fn drop(&mut self) {
        self.guardian.abort();
    }
}

impl DurableSession {
    /// Connects (as [`zk::connect`]) and starts guarding the session.
    pub async fn open(config: &ZkConfig) -> Result<DurableSession, ClusterError> {
        let client = zk::connect(config).await?;
        let (tx, rx) = watch::channel(client.clone());
        let ended = Arc::new(AtomicBool::new(false));
        let guardian = tokio::spawn(guard(config.clone(), client, tx, ended.clone()));
        Ok(DurableSession {
            handle: SessionHandle {
                clients: rx,
                ended,
                fixed: false,
            },
            guardian,
        })
    }

    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    pub fn client(&self) -> Client {
        self.handle.client()
    }

    pub fn ended(&self) -> bool {
        self.handle.ended()
    }
}

async fn guard(
    config: ZkConfig,
    mut client: Client,
    tx: watch::Sender<Client>,
    ended: Arc<AtomicBool>,
) {
    loop {
        let mut states = client.state_watcher();
        let mut state = states.state();
        while !state.is_terminated() {
            state = states.changed().await;
        }
        if state != SessionState::Expired {
            // Closed by us, or refused: nothing to resume.
            break;
        }
        match resume(&config, &client).await {
            Some(resumed) => {
                client = resumed;
                tx.send_replace(client.clone());
            }
            None => break,
        }
    }
    ended.store(true, Ordering::Release);
    // Wakes every holder waiting for the next client.
    tx.send_modify(|_| {});
}

/// Resumes `dead`'s session on a new client, retrying while no server answers; `None` when the
/// server says it expired.
async fn resume(config: &ZkConfig, dead: &Client) -> Option<Client> {
    let chroot = config.chroot.trim_end_matches('/').to_owned();
    loop {
        let connector = super::connector(config).with_session(dead.session().clone());
        let connecting = super::open_session(connector, config);
        match tokio::time::timeout(config.session_timeout * 2, connecting).await {
            Ok(Ok(root)) => return root.chroot(chroot).ok(),
            Ok(Err(ZkError::SessionExpired | ZkError::SessionMoved | ZkError::AuthFailed)) => {
                return None
            }
            Ok(Err(_)) | Err(_) => tokio::time::sleep(RESUME_RETRY).await,
        }
    }
}
