//! Coordinator leader election: each coordinator creates an ephemeral sequential node under
//! `/coordinators`; the lowest sequence leads. Every other candidate watches only its
//! predecessor (no herd when the leader goes), and takes over when the nodes before it are gone:
//! a leader that dies loses its node with its session.

use zookeeper_client::{Client, EventType};

use crate::zk::durable::SessionHandle;

use crate::access::Node;
use crate::error::ClusterError;
use crate::zk;
use crate::zk::layout;

/// One coordinator's place in the election.
pub struct Candidate {
    session: SessionHandle,
    /// Our node's name under `/coordinators`, e.g. `candidate-0000000003`.
    name: String,
}

impl Candidate {
    /// Enters the election with `id` (shown by `ptl status`) as the node's data.
    pub async fn join(session: &SessionHandle, id: &str) -> Result<Candidate, ClusterError> {
        let client = session.client();
        let path = zk::create_sequential(
            &client,
            layout::CANDIDATE_PREFIX,
            id.as_bytes(),
            Node::Candidate,
        )
        .await?;
        Ok(Candidate {
            session: session.clone(),
            name: layout::leaf(&path).to_owned(),
        })
    }

    pub fn node_name(&self) -> &str {
        &self.name
    }

    /// Whether this candidate leads now.
    pub async fn is_leader(&self) -> Result<bool, ClusterError> {
        let candidates = zk::children(&self.session.client(), layout::COORDINATORS).await?;
        Ok(candidates.first() == Some(&self.name))
    }

    /// Returns once this candidate leads. Fails when our own node is gone (the session expired):
    /// the caller must rejoin with a new session rather than believe it leads. ZooKeeper not
    /// answering meanwhile is waited out.
    pub async fn wait_until_leader(&self) -> Result<(), ClusterError> {
        let mut session = self.session.clone();
        loop {
            let client = session.client();
            let candidates = match zk::children(&client, layout::COORDINATORS).await {
                Ok(candidates) => candidates,
                Err(e) if e.is_transient() && !session.ended() => {
                    if e.ends_client() && session.next_client().await.is_none() {
                        return Err(e);
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(position) = candidates.iter().position(|c| c == &self.name) else {
                return Err(ClusterError::SessionLost(format!(
                    "election node {} is gone",
                    self.name
                )));
            };
            if position == 0 {
                return Ok(());
            }
            let predecessor = format!("{}/{}", layout::COORDINATORS, candidates[position - 1]);
            let (stat, watcher) = match client.check_and_watch_stat(&predecessor).await {
                Ok(watched) => watched,
                // Not answering: look again (the loop above waits for a live client).
                Err(_) => {
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if stat.is_none() {
                continue;
            }
            let event = watcher.changed().await;
            if event.event_type == EventType::Session
                && event.session_state.is_terminated()
                && session.next_client().await.is_none()
            {
                return Err(ClusterError::SessionLost(format!(
                    "{:?}",
                    event.session_state
                )));
            }
        }
    }

    /// Leaves the election (the next candidate takes over at once).
    pub async fn resign(self) -> Result<(), ClusterError> {
        let path = format!("{}/{}", layout::COORDINATORS, self.name);
        match self.session.client().delete(&path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(e) => Err(ClusterError::zk("delete", &path, e)),
        }
    }
}

/// Pause before asking again when ZooKeeper did not answer.
const RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// The current leader's id, if any coordinator is running.
pub async fn leader(client: &Client) -> Result<Option<String>, ClusterError> {
    for name in zk::children(client, layout::COORDINATORS).await? {
        let path = format!("{}/{name}", layout::COORDINATORS);
        match client.get_data(&path).await {
            Ok((data, _)) => return Ok(Some(String::from_utf8_lossy(&data).into_owned())),
            // Went away between list and read: the next one is the leader.
            Err(zookeeper_client::Error::NoNode) => continue,
            Err(e) => return Err(ClusterError::zk("read", &path, e)),
        }
    }
    Ok(None)
}
