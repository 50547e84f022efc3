//! Connecting to ZooKeeper under the cluster's chroot, and the few typed helpers every module
//! uses to read and write JSON znodes.

pub mod chunks;
pub mod clock;
pub mod durable;
pub(crate) mod json_watch;
pub mod layout;
pub mod retry;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error as ZkError, Stat};

use crate::error::ClusterError;

pub const PERSISTENT: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());
pub const PERSISTENT_SEQUENTIAL: CreateOptions<'static> =
    CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
pub const EPHEMERAL: CreateOptions<'static> = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
pub const EPHEMERAL_SEQUENTIAL: CreateOptions<'static> =
    CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());

/// Pause between connection attempts while the ensemble is not answering.
const CONNECT_RETRY: Duration = Duration::from_millis(250);

/// How to reach the cluster's ZooKeeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkConfig {
    /// `host:port[,host:port…]`, as `--zk` takes it.
    pub connect: String,
    /// Everything ptl stores lives under this absolute path.
    pub chroot: String,
    /// Asked of the server, which clamps it to its own bounds (2 to 20 ticks by default). An
    /// agent's ephemeral node vanishes this long after the agent dies.
    pub session_timeout: Duration,
    /// Giving up on an unreachable ensemble after this long is what keeps commands from hanging.
    pub connect_timeout: Duration,
}

impl ZkConfig {
    pub fn new(connect: impl Into<String>) -> ZkConfig {
        ZkConfig {
            connect: connect.into(),
            chroot: layout::DEFAULT_CHROOT.to_owned(),
            session_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(10),
        }
    }

    pub fn with_chroot(mut self, chroot: impl Into<String>) -> ZkConfig {
        self.chroot = chroot.into();
        self
    }

    pub fn with_session_timeout(mut self, timeout: Duration) -> ZkConfig {
        self.session_timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> ZkConfig {
        self.connect_timeout = timeout;
        self
    }
}

/// Opens a session, creates the chroot and its top-level directories when missing, and returns
/// a client rooted there.
pub async fn connect(config: &ZkConfig) -> Result<Client, ClusterError> {
    let chroot = config.chroot.trim_end_matches('/');
    if !chroot.starts_with('/') || chroot.contains("//") || chroot.len() < 2 {
        return Err(ClusterError::BadChroot(config.chroot.clone()));
    }
    let unreachable = |detail: String| ClusterError::Unreachable {
        connect: config.connect.clone(),
        timeout: config.connect_timeout,
        detail,
    };
    // Failing eagerly and retrying until the deadline turns "nothing listens" into a clear
    // error after `connect_timeout` rather than a silent wait, yet rides out a server that
    // is still starting.
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let root = loop {
        let connecting = Client::connector()
            .with_session_timeout(config.session_timeout)
            .with_fail_eagerly()
            .connect(&config.connect);
        let last = match tokio::time::timeout_at(deadline, connecting).await {
            Ok(Ok(client)) => break client,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if tokio::time::Instant::now() + CONNECT_RETRY >= deadline {
            return Err(unreachable(last));
        }
        tokio::time::sleep(CONNECT_RETRY).await;
    };
    root.mkdir(chroot, &PERSISTENT)
        .await
        .map_err(|e| ClusterError::zk("create", chroot, e))?;
    let client = root
        .chroot(chroot.to_owned())
        .map_err(|_| ClusterError::BadChroot(config.chroot.clone()))?;
    for dir in layout::ROOTS {
        create_if_missing(&client, dir, b"").await?;
    }
    Ok(client)
}

/// Creates a persistent node; an existing one is left as it is. Returns whether it was created.
pub async fn create_if_missing(
    client: &Client,
    path: &str,
    data: &[u8],
) -> Result<bool, ClusterError> {
    match client.create(path, data, &PERSISTENT).await {
        Ok(_) => Ok(true),
        Err(ZkError::NodeExists) => Ok(false),
        Err(e) => Err(ClusterError::zk("create", path, e)),
    }
}

/// Reads and parses a JSON node; `None` when it does not exist.
pub async fn get_json<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    what: &'static str,
) -> Result<Option<(T, Stat)>, ClusterError> {
    match client.get_data(path).await {
        Ok((data, stat)) => {
            let value = serde_json::from_slice(&data)
                .map_err(|e| ClusterError::malformed(what, path, e))?;
            Ok(Some((value, stat)))
        }
        Err(ZkError::NoNode) => Ok(None),
        Err(e) => Err(ClusterError::zk("read", path, e)),
    }
}

pub fn to_json<T: Serialize>(
    value: &T,
    what: &'static str,
    path: &str,
) -> Result<Vec<u8>, ClusterError> {
    serde_json::to_vec(value).map_err(|e| ClusterError::malformed(what, path, e))
}

/// Writes a JSON node, creating it (persistent) when missing.
pub async fn put_json<T: Serialize>(
    client: &Client,
    path: &str,
    value: &T,
    what: &'static str,
) -> Result<Stat, ClusterError> {
    let data = to_json(value, what, path)?;
    match client.set_data(path, &data, None).await {
        Ok(stat) => Ok(stat),
        Err(ZkError::NoNode) => match client.create(path, &data, &PERSISTENT).await {
            Ok((stat, _)) => Ok(stat),
            // Created concurrently: ours is the newer value, write it over.
            Err(ZkError::NodeExists) => client
                .set_data(path, &data, None)
                .await
                .map_err(|e| ClusterError::zk("write", path, e)),
            Err(e) => Err(ClusterError::zk("create", path, e)),
        },
        Err(e) => Err(ClusterError::zk("write", path, e)),
    }
}

/// Children of a node, sorted (sequential names sort by sequence); empty when it does not exist.
pub async fn children(client: &Client, path: &str) -> Result<Vec<String>, ClusterError> {
    match client.list_children(path).await {
        Ok(mut names) => {
            names.sort();
            Ok(names)
        }
        Err(ZkError::NoNode) => Ok(Vec::new()),
        Err(e) => Err(ClusterError::zk("list", path, e)),
    }
}

/// Deletes a node and everything under it; a missing node is fine.
pub async fn delete_tree(client: &Client, path: &str) -> Result<(), ClusterError> {
    let mut stack = vec![path.to_owned()];
    let mut order = Vec::new();
    while let Some(node) = stack.pop() {
        for child in children(client, &node).await? {
            stack.push(format!("{node}/{child}"));
        }
        order.push(node);
    }
    for node in order.iter().rev() {
        match client.delete(node, None).await {
            Ok(()) | Err(ZkError::NoNode) => {}
            Err(e) => return Err(ClusterError::zk("delete", node, e)),
        }
    }
    Ok(())
}
