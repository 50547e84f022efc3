//! The fleet's access policy: which identities hold which role, and what each role may do to
//! each kind of znode. `ptl zk init` writes the policy to `/acl` in the chroot; every process
//! reads it before creating a node, so a node gets its ACL when it is born and ZooKeeper, not
//! our code's good manners, enforces who may read or change it. A chroot without `/acl` is
//! open: every node is `world:anyone` with all rights, as on a laptop.

use serde::{Deserialize, Serialize};
use zookeeper_client::{Acl, AuthId, Client, CreateMode, Error as ZkError, Permission};

use super::credentials::Identity;
use crate::error::ClusterError;
use crate::zk::layout;

/// The roles' members, as `/acl` holds them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AclPolicy {
    /// May do anything, including changing the policy (`ptl zk init`).
    pub admins: Vec<String>,
    /// May store plans, submit runs, and stop, pause or resume the runs they submitted.
    pub submitters: Vec<String>,
    /// May register, read plans and runs, and write only their own reports.
    pub agents: Vec<String>,
    /// Manage runs: assign, merge, write results, delete what retention lets go.
    pub coordinators: Vec<String>,
}

impl AclPolicy {
    /// Every identity listed must parse: a typo must not leave a role empty.
    pub fn validate(&self) -> Result<(), String> {
        for id in self.all() {
            id.parse::<Identity>()?;
        }
        if self.admins.is_empty() {
            return Err("the policy names no admin".into());
        }
        Ok(())
    }

    fn all(&self) -> impl Iterator<Item = &String> {
        self.admins
            .iter()
            .chain(&self.submitters)
            .chain(&self.agents)
            .chain(&self.coordinators)
    }

    fn members(&self, role: Role) -> &[String] {
        match role {
            Role::Admin => &self.admins,
            Role::Submitter => &self.submitters,
            Role::Agent => &self.agents,
            Role::Coordinator => &self.coordinators,
        }
    }

    /// The ACL a node of this kind gets. `owner` is the agent a per-agent node belongs to
    /// (its reports and done marker), when it has an identity.
    pub fn acl(&self, node: Node, owner: Option<&Identity>) -> Vec<Acl> {
        let mut acl = Vec::new();
        for &(grantee, rights) in grants(node) {
            let permission = rights.permission();
            match grantee {
                Grantee::Role(role) => {
                    for member in self.members(role) {
                        if let Some((scheme, id)) = member.split_once(':') {
                            push(&mut acl, permission, AuthId::new(scheme, id));
                        }
                    }
                }
                // ZooKeeper replaces `auth:` with the ids the creating session proved.
                Grantee::Creator => push(&mut acl, permission, AuthId::authed()),
                Grantee::Owner => {
                    if let Some(owner) = owner {
                        let (scheme, id) = owner.scheme_and_id();
                        push(&mut acl, permission, AuthId::new(scheme, &id));
                    }
                }
            }
        }
        acl
    }
}

/// One entry per id: rights granted twice (an identity in two roles) add up.
fn push(acl: &mut Vec<Acl>, permission: Permission, id: AuthId) {
    match acl.iter().position(|a| *a.auth_id() == id) {
        Some(i) => {
            let merged = acl[i].permission() | permission;
            acl[i] = Acl::new(merged, id);
        }
        None => acl.push(Acl::new(permission, id)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Submitter,
    Agent,
    Coordinator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grantee {
    Role(Role),
    /// The session that creates the node (its own registration, the run it submits).
    Creator,
    /// The agent a per-agent node is made for.
    Owner,
}

/// The kinds of znode ptl creates; `zk::layout` names their paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Chroot,
    Policy,
    Plans,
    Plan,
    PlanChunk,
    Agents,
    AgentEntry,
    Clock,
    ClockProbe,
    Coordinators,
    Candidate,
    Dashboards,
    DashboardEntry,
    Runs,
    /// A run's spec node, created by its submitter.
    Run,
    /// A run's state and pauses: its submitter may stop, pause and resume it.
    RunControl,
    /// The folders of a run the coordinator fills per agent (`reports`, `done`).
    RunFolder,
    /// `reports/<agent>` and `done/<agent>`, made by the coordinator for that agent alone.
    AgentOwned,
    /// An agent's delta, under its own folder.
    Delta,
    /// What only coordinators write: assignment, live view, result, record and its chunks.
    Coordinated,
    /// Made by `submit --wait` once it has the result.
    Collected,
}

impl Node {
    /// The kind of the top-level directory at `path` (one of `layout::ROOTS`).
    pub fn of_root(path: &str) -> Option<Node> {
        Some(match path {
            layout::PLANS => Node::Plans,
            layout::AGENTS => Node::Agents,
            layout::CLOCK => Node::Clock,
            layout::COORDINATORS => Node::Coordinators,
            layout::RUNS => Node::Runs,
            layout::DASHBOARDS => Node::Dashboards,
            _ => return None,
        })
    }

    /// Ephemeral nodes die with their session; the rest are persistent.
    pub fn mode(self, sequential: bool) -> CreateMode {
        let ephemeral = matches!(
            self,
            Node::AgentEntry | Node::ClockProbe | Node::Candidate | Node::DashboardEntry
        );
        match (ephemeral, sequential) {
            (true, true) => CreateMode::EphemeralSequential,
            (true, false) => CreateMode::Ephemeral,
            (false, true) => CreateMode::PersistentSequential,
            (false, false) => CreateMode::Persistent,
        }
    }
}

/// ZooKeeper's rights as bits, so the table below can be a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rights(u8);

const R: Rights = Rights(1);
const RW: Rights = Rights(1 | 2);
const RC: Rights = Rights(1 | 4);
const RWC: Rights = Rights(1 | 2 | 4);
const ALL: Rights = Rights(31);

impl Rights {
    fn permission(self) -> Permission {
        [
            (1, Permission::READ),
            (2, Permission::WRITE),
            (4, Permission::CREATE),
            (8, Permission::DELETE),
            (16, Permission::ADMIN),
        ]
        .into_iter()
        .filter(|(bit, _)| self.0 & bit != 0)
        .fold(Permission::NONE, |all, (_, p)| all | p)
    }
}

use Grantee::{Creator, Owner, Role as R_};
use Role::{Admin, Agent, Coordinator, Submitter};

/// Who may do what to each kind of node. Admins hold every right everywhere; coordinators
/// manage runs (and start them from the dashboard), so they hold every right below the
/// chroot's top. READ is what lists children and sets watches; CREATE and DELETE on a node
/// govern its children.
fn grants(node: Node) -> &'static [(Grantee, Rights)] {
    match node {
        Node::Chroot | Node::Policy => &[
            (R_(Admin), ALL),
            (R_(Coordinator), R),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::Plans | Node::Runs => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Submitter), RC),
            (R_(Agent), R),
        ],
        // Plans are content-addressed and checked by hash (and signature) when read, so any
        // submitter may store or refresh one another also uses.
        Node::Plan | Node::PlanChunk => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Submitter), RWC),
            (R_(Agent), R),
        ],
        Node::Agents => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Agent), RC),
            (R_(Submitter), R),
        ],
        Node::Clock => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Agent), RC),
            (R_(Submitter), RC),
        ],
        Node::Coordinators | Node::Dashboards => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::AgentEntry | Node::ClockProbe | Node::Candidate | Node::DashboardEntry => &[
            (R_(Admin), ALL),
            (Creator, ALL),
            (R_(Coordinator), R),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::Run => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (Creator, RC),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::RunControl => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (Creator, RW),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::RunFolder | Node::Coordinated => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (R_(Submitter), R),
            (R_(Agent), R),
        ],
        Node::AgentOwned => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (Owner, RWC),
            (R_(Submitter), R),
        ],
        Node::Delta => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (Creator, R),
            (R_(Submitter), R),
        ],
        Node::Collected => &[
            (R_(Admin), ALL),
            (R_(Coordinator), ALL),
            (Creator, ALL),
            (R_(Submitter), R),
        ],
    }
}

/// The chroot's policy; `None` when the chroot is open (no `/acl`).
pub async fn load(client: &Client) -> Result<Option<AclPolicy>, ClusterError> {
    match client.get_data(layout::ACL_POLICY).await {
        Ok((data, _)) => {
            let policy: AclPolicy = serde_json::from_slice(&data)
                .map_err(|e| ClusterError::malformed("access policy", layout::ACL_POLICY, e))?;
            policy
                .validate()
                .map_err(|e| ClusterError::malformed("access policy", layout::ACL_POLICY, e))?;
            Ok(Some(policy))
        }
        Err(ZkError::NoNode) => Ok(None),
        Err(e) => Err(ClusterError::zk("read", layout::ACL_POLICY, e)),
    }
}

/// The ACL for a new node of kind `node`: from the chroot's policy, or open.
pub async fn acl_for(
    client: &Client,
    node: Node,
    owner: Option<&Identity>,
) -> Result<Vec<Acl>, ClusterError> {
    Ok(match load(client).await? {
        Some(policy) => policy.acl(node, owner),
        None => open(),
    })
}

/// `world:anyone` with every right: an open chroot.
pub fn open() -> Vec<Acl> {
    vec![Acl::new(Permission::ALL, AuthId::anyone())]
}
