//! Agents announce themselves as ephemeral sequential znodes under `/agents`: the node lives as
//! long as the agent's ZooKeeper session, so a dead agent disappears on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError, OneshotWatcher};

use crate::access::Node;
use crate::error::ClusterError;
use crate::ids::AgentId;
use crate::zk;
use crate::zk::layout;

/// What an agent declares about itself (the JSON data of its node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    pub host: String,
    /// ptl version of the agent binary.
    pub version: String,
    /// Highest bytecode format version the agent can run.
    pub bytecode_version: u16,
    /// Declared arrivals per second the agent can sustain; shares are proportional to it.
    /// `None` counts as the same as every other agent without one.
    pub capacity: Option<f64>,
    pub labels: BTreeMap<String, String>,
    /// The agent's clock minus ZooKeeper's, measured at registration.
    #[serde(default)]
    pub clock_offset_ms: Option<i64>,
    /// The ZooKeeper identity the agent logs in as (`digest:USER:HASH`, `sasl:USER`), so the
    /// coordinator can make the agent's report folder writable by it alone. Claiming another
    /// agent's identity gains nothing: the folder then takes only that agent's writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zk_id: Option<String>,
}

/// A registered agent as the coordinator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredAgent {
    pub id: AgentId,
    pub info: AgentInfo,
    /// The ZooKeeper session that owns the node: the agent is alive while it is.
    pub session: i64,
}

/// Whether `version` (`major.minor.patch[-pre]`, as `CARGO_PKG_VERSION`) is older than `ours`.
/// A version that does not parse counts as older: an agent that cannot say what it runs is not
/// given a share of a run.
pub fn is_older(version: &str, ours: &str) -> bool {
    fn parse(v: &str) -> Option<[u64; 3]> {
        let core = v.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = [parts.next()??, parts.next()??, parts.next()??];
        parts.next().is_none().then_some(v)
    }
    match (parse(version), parse(ours)) {
        (Some(theirs), Some(ours)) => theirs < ours,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// Registers an agent; the node vanishes when the client's session ends.
pub async fn register(client: &Client, info: &AgentInfo) -> Result<AgentId, ClusterError> {
    let data = zk::to_json(info, "agent info", layout::AGENT_PREFIX)?;
    let path = zk::create_sequential(client, layout::AGENT_PREFIX, &data, Node::AgentEntry).await?;
    Ok(AgentId(layout::leaf(&path).to_owned()))
}

/// The agents registered now, in registration order.
pub async fn list(client: &Client) -> Result<Vec<RegisteredAgent>, ClusterError> {
    let names = zk::children(client, layout::AGENTS).await?;
    read_all(client, names).await
}

/// The registered agents as a coordinator follows them poll after poll: the names are listed
/// every time (one request), the data read again only when the names change or once every
/// [`REREAD`]. A registration's data is written once, when the agent registers, so a thousand
/// agents cost a listing a poll instead of a thousand reads (issue 14).
#[derive(Debug, Default)]
pub struct Followed {
    names: Vec<String>,
    agents: Vec<RegisteredAgent>,
    read_at: Option<std::time::Instant>,
}

/// How long a [`Followed`] trusts data read under unchanged names: an agent that left and came
/// back under the same name between two listings is read again within this.
const REREAD: std::time::Duration = std::time::Duration::from_secs(5);

impl Followed {
    /// The agents registered now.
    pub async fn refresh(&mut self, client: &Client) -> Result<&[RegisteredAgent], ClusterError> {
        let mut names = zk::children(client, layout::AGENTS).await?;
        names.sort();
        let stale = self.read_at.is_none_or(|at| at.elapsed() >= REREAD);
        if stale || names != self.names {
            self.agents = read_all(client, names.clone()).await?;
            self.names = names;
            self.read_at = Some(std::time::Instant::now());
        }
        Ok(&self.agents)
    }
}

/// The agents registered now, and a watcher that fires when one joins or leaves.
pub async fn list_and_watch(
    client: &Client,
) -> Result<(Vec<RegisteredAgent>, OneshotWatcher), ClusterError> {
    let (mut names, watcher) = client
        .list_and_watch_children(layout::AGENTS)
        .await
        .map_err(|e| ClusterError::zk("watch", layout::AGENTS, e))?;
    names.sort();
    Ok((read_all(client, names).await?, watcher))
}

async fn read_all(
    client: &Client,
    names: Vec<String>,
) -> Result<Vec<RegisteredAgent>, ClusterError> {
    let read = zk::pipelined(names, |name| async move {
        let id = AgentId(name);
        let path = layout::agent(&id);
        let answer = client.get_data(&path).await;
        (id, path, answer)
    })
    .await;
    let mut agents = Vec::with_capacity(read.len());
    for (id, path, answer) in read {
        match answer {
            Ok((data, stat)) => {
                let info = serde_json::from_slice(&data)
                    .map_err(|e| ClusterError::malformed("agent info", &path, e))?;
                agents.push(RegisteredAgent {
                    id,
                    info,
                    session: stat.ephemeral_owner,
                });
            }
            // Left between the listing and the read: it is gone, which is what we report.
            Err(ZkError::NoNode) => {}
            Err(e) => return Err(ClusterError::zk("read", &path, e)),
        }
    }
    Ok(agents)
}

#[cfg(test)]
mod tests {
    use super::is_older;

    #[test]
    fn versions_compare_numerically_and_garbage_is_old() {
        assert!(is_older("0.1.0", "0.2.0"));
        assert!(is_older("0.9.9", "0.10.0"));
        assert!(is_older("1.2.3", "1.2.4"));
        assert!(!is_older("0.10.0", "0.9.9"));
        assert!(!is_older("0.2.0", "0.2.0"));
        assert!(!is_older("0.2.0-rc.1", "0.2.0"));
        assert!(!is_older("1.0.0", "0.2.0"));
        assert!(is_older("", "0.1.0"));
        assert!(is_older("zero", "0.1.0"));
        assert!(is_older("0.1", "0.1.0"));
        assert!(is_older("0.1.0.0", "0.1.0"));
    }
}
