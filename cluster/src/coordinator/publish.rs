//! Publishing an assignment. Before agents see their shares, the coordinator makes each
//! agent's report folder and done marker, writable by that agent alone (in a secured chroot),
//! so no agent can write, or forge the end of, another's reports.

use std::collections::HashMap;

use zookeeper_client::Client;

use crate::access::{self, Identity, Node};
use crate::agent::registry;
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::run::assignment::Assignment;
use crate::zk::{self, layout};

/// Makes the per-agent nodes of every share, then writes the assignment.
pub async fn publish(
    client: &Client,
    id: &RunId,
    assignment: &Assignment,
) -> Result<(), ClusterError> {
    let policy = access::policy::load(client).await?;
    let identities: HashMap<AgentId, Identity> = match &policy {
        Some(_) => registry::list(client)
            .await?
            .into_iter()
            .filter_map(|a| Some((a.id, a.info.zk_id?.parse().ok()?)))
            .collect(),
        None => HashMap::new(),
    };
    for share in &assignment.shares {
        let acl = match &policy {
            Some(policy) => policy.acl(Node::AgentOwned, identities.get(&share.agent)),
            None => access::policy::open(),
        };
        for path in [
            layout::agent_reports(id, &share.agent),
            layout::agent_done(id, &share.agent),
        ] {
            zk::create_with(client, &path, b"", Node::AgentOwned, &acl).await?;
        }
    }
    zk::put_json(
        client,
        &layout::run_assignment(id),
        assignment,
        "assignment",
        Node::Coordinated,
    )
    .await
    .map(|_| ())
}
