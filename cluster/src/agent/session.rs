//! One registration of an agent: its ZooKeeper session (durable: it outlives a client that
//! gave up during an outage, see `zk::durable`), its id under `/agents`, its clock offset and
//! the lease renewed from the session. A session that expires (the agent was paused
//! or cut off for longer than the session timeout) is not reopened: the cluster has already
//! seen the agent go and given its share away, so the agent registers again, under a new id,
//! as a new, idle agent.

use std::sync::Arc;
use std::time::Duration;

use ptl_engine::lease::Lease;
use tokio_util::sync::CancellationToken;
use zookeeper_client::Client;

use crate::agent::lease_keeper::{self, KeeperGuard, STALL_BOUND};
use crate::agent::registry::{self, AgentInfo};
use crate::agent::AgentConfig;
use crate::error::ClusterError;
use crate::ids::AgentId;
use crate::zk::clock::{self, ClockOffset};
use crate::zk::durable::{DurableSession, SessionHandle};

/// The longest pause between attempts to register again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct Session {
    durable: DurableSession,
    pub id: AgentId,
    pub offset: ClockOffset,
    pub lease: Arc<Lease>,
    _keeper: KeeperGuard,
}

impl Session {
    /// Connects, measures the clock offset, registers, and starts renewing the lease.
    pub async fn open(config: &AgentConfig) -> Result<Session, ClusterError> {
        let durable = DurableSession::open(&config.zk).await?;
        let client = durable.client();
        let offset = clock::measure(&client, &config.name, 5).await?;
        let info = AgentInfo {
            name: config.name.clone(),
            host: config.host.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            bytecode_version: ptl_bytecode::FORMAT_VERSION,
            capacity: config.capacity,
            labels: config.labels.clone(),
            clock_offset_ms: Some(offset.offset_ms),
            zk_id: config
                .zk
                .credentials
                .as_ref()
                .map(|c| c.identity().to_string()),
        };
        let id = registry::register(&client, &info).await?;
        let lease = Lease::new(STALL_BOUND);
        let keeper = lease_keeper::keep(durable.handle(), lease.clone());
        Ok(Session {
            durable,
            id,
            offset,
            lease,
            _keeper: keeper,
        })
    }

    /// Opens a session, retrying for as long as ZooKeeper does not answer (quorum lost, a
    /// partition) until `shutdown`: `None` then.
    pub async fn open_retrying(
        config: &AgentConfig,
        shutdown: &CancellationToken,
    ) -> Result<Option<Session>, ClusterError> {
        let mut backoff = Duration::from_millis(250);
        loop {
            match Session::open(config).await {
                Ok(session) => return Ok(Some(session)),
                Err(e) if e.is_transient() => {
                    eprintln!("agent {}: cannot register yet ({e}); retrying", config.name);
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(None),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The session is over for good: expired (or closed), so its node and its place in any
    /// run are gone.
    pub fn ended(&self) -> bool {
        // The lease is revoked only once this is so.
        self.durable.ended()
    }

    /// The client to use now (a new one after the session resumed).
    pub fn client(&self) -> Client {
        self.durable.client()
    }

    pub fn handle(&self) -> SessionHandle {
        self.durable.handle()
    }
}
