//! `ptl zk init`: creates a chroot with the fleet's roles and every top-level node's ACL, or
//! (`--check`) says what differs. Idempotent: run again with new role files, it changes only
//! what differs.

use std::collections::BTreeSet;
use std::fmt;

use zookeeper_client::{Acl, Client, Error as ZkError};

use super::policy::{AclPolicy, Node};
use crate::error::ClusterError;
use crate::zk::{self, layout, ZkConfig};

/// One node whose state is not what the policy asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Absolute path (chroot included).
    pub path: String,
    pub what: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// Brings the chroot to `policy` (or, with `check_only`, changes nothing) and returns what
/// differed before. The caller's credentials must be the policy's admin's, or ZooKeeper
/// refuses once the chroot is secured.
pub async fn init(
    config: &ZkConfig,
    policy: &AclPolicy,
    check_only: bool,
) -> Result<Vec<Difference>, ClusterError> {
    policy
        .validate()
        .map_err(|e| ClusterError::malformed("access policy", "role files", e))?;
    let root = zk::connect_root(config).await?;
    let chroot = config.chroot.trim_end_matches('/').to_owned();
    let policy_json = zk::to_json(policy, "access policy", layout::ACL_POLICY)?;
    let mut nodes = vec![
        (chroot.clone(), Node::Chroot, None),
        (
            format!("{chroot}{}", layout::ACL_POLICY),
            Node::Policy,
            Some(policy_json),
        ),
    ];
    for dir in layout::ROOTS {
        let kind = Node::of_root(dir).expect("every root has a kind");
        nodes.push((format!("{chroot}{dir}"), kind, None));
    }
    let mut differences = Vec::new();
    for (path, kind, data) in nodes {
        let want = policy.acl(kind, None);
        let differ = |what: String| Difference {
            path: path.clone(),
            what,
        };
        match root.get_acl(&path).await {
            Err(ZkError::NoNode) => {
                differences.push(differ("missing".into()));
                if !check_only {
                    create_parents(&root, &path).await?;
                    let data = data.as_deref().unwrap_or(b"");
                    let options = kind.mode(false).with_acls((&want[..]).into());
                    match root.create(&path, data, &options).await {
                        Ok(_) | Err(ZkError::NodeExists) => {}
                        Err(e) => return Err(ClusterError::zk("create", &path, e)),
                    }
                }
            }
            Ok((have, _)) => {
                if as_set(&have) != as_set(&want) {
                    differences.push(differ(format!(
                        "ACL is {}, the policy wants {}",
                        show(&have),
                        show(&want)
                    )));
                    if !check_only {
                        root.set_acl(&path, &want, None)
                            .await
                            .map_err(|e| ClusterError::zk("set ACL of", &path, e))?;
                    }
                }
                if let Some(data) = data {
                    let (stored, _) = root
                        .get_data(&path)
                        .await
                        .map_err(|e| ClusterError::zk("read", &path, e))?;
                    if stored != data {
                        differences
                            .push(differ("the stored roles differ from the role files".into()));
                        if !check_only {
                            root.set_data(&path, &data, None)
                                .await
                                .map_err(|e| ClusterError::zk("write", &path, e))?;
                        }
                    }
                }
            }
            Err(e) => return Err(ClusterError::zk("read the ACL of", &path, e)),
        }
    }
    Ok(differences)
}

/// The chroot's ancestors (`/a` of `/a/ptl`), left open as ZooKeeper's root is.
async fn create_parents(root: &Client, path: &str) -> Result<(), ClusterError> {
    let mut prefix = String::new();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        prefix.push('/');
        prefix.push_str(part);
        let open = super::policy::open();
        let options = Node::Chroot.mode(false).with_acls((&open[..]).into());
        match root.create(&prefix, b"", &options).await {
            Ok(_) | Err(ZkError::NodeExists) => {}
            Err(e) => return Err(ClusterError::zk("create", &prefix, e)),
        }
    }
    Ok(())
}

fn as_set(acl: &[Acl]) -> BTreeSet<String> {
    acl.iter()
        .map(|a| format!("{}:{}={}", a.scheme(), a.id(), a.permission()))
        .collect()
}

fn show(acl: &[Acl]) -> String {
    as_set(acl).into_iter().collect::<Vec<_>>().join(", ")
}
