//! Connecting to ZooKeeper under the cluster's chroot, and the few typed helpers every module
//! uses to read and write JSON znodes.

pub mod chunks;
pub mod clock;
pub mod durable;
pub(crate) mod json_watch;
pub mod layout;
pub mod retry;
pub mod tls;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zookeeper_client::{
    Acl, Client, Connector, Error as ZkError, MultiReadResult, SaslOptions, Stat,
};

use crate::access::{self, Credentials, Node};
use crate::error::ClusterError;
pub use tls::ZkTls;

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
    /// The login every session of this process makes (`--zk-auth-file`); `None` is anonymous,
    /// which only an open chroot lets in.
    pub credentials: Option<Credentials>,
    /// TLS to the ensemble's secure client port (`--zk-tls-ca` …); `None` is plain TCP.
    pub tls: Option<ZkTls>,
}

impl ZkConfig {
    pub fn new(connect: impl Into<String>) -> ZkConfig {
        ZkConfig {
            connect: connect.into(),
            chroot: layout::DEFAULT_CHROOT.to_owned(),
            session_timeout: Duration::from_secs(6),
            connect_timeout: Duration::from_secs(10),
            credentials: None,
            tls: None,
        }
    }

    pub fn with_tls(mut self, tls: Option<ZkTls>) -> ZkConfig {
        self.tls = tls;
        self
    }

    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> ZkConfig {
        self.credentials = credentials;
        self
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

/// A connector with this process's session timeout, login and TLS settings; every session
/// (first ones and resumed ones) is made from it, and opened by [`open_session`].
pub(crate) fn connector(config: &ZkConfig) -> Connector {
    let mut connector = Client::connector().with_session_timeout(config.session_timeout);
    if let Some(tls) = &config.tls {
        connector = connector.with_tls(tls.options());
    }
    match &config.credentials {
        Some(Credentials::Digest { user, password }) => {
            connector.with_auth("digest", format!("{user}:{password}").as_bytes())
        }
        // The SASL exchange is part of every connection, so a resumed session logs in again.
        Some(Credentials::Sasl { user, password }) => {
            connector.with_sasl(SaslOptions::digest_md5(user.clone(), password.clone()))
        }
        None => connector,
    }
}

/// Opens a session on the configured hosts with `connector`: with TLS configured, every host
/// is a secure client port.
pub(crate) async fn open_session(
    connector: Connector,
    config: &ZkConfig,
) -> Result<Client, ZkError> {
    match &config.tls {
        Some(_) => connector.secure_connect(&config.connect).await,
        None => connector.connect(&config.connect).await,
    }
}

/// Logins refused in a row before a refusal is final.
const AUTH_TRIES: u32 = 3;

/// Opens a session at ZooKeeper's root (not the chroot): what `ptl zk init` needs to create
/// the chroot itself.
pub async fn connect_root(config: &ZkConfig) -> Result<Client, ClusterError> {
    let unreachable = |detail: String| ClusterError::Unreachable {
        connect: config.connect.clone(),
        timeout: config.connect_timeout,
        detail,
    };
    // Failing eagerly and retrying until the deadline turns "nothing listens" into a clear
    // error after `connect_timeout` rather than a silent wait, yet rides out a server that
    // is still starting.
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let mut refused = 0;
    loop {
        let connecting = open_session(connector(config).with_fail_eagerly(), config);
        let mut last = match tokio::time::timeout_at(deadline, connecting).await {
            Ok(Ok(client)) => return Ok(client),
            // Wrong credentials do not get better by waiting; but a right SASL login was once
            // refused by a loaded server (a coordinator in CI, its agents' same logins
            // accepted), so a refusal is believed the third time, a few hundred ms on.
            Ok(Err(ZkError::AuthFailed)) if refused >= AUTH_TRIES - 1 => {
                return Err(ClusterError::AuthFailed)
            }
            Ok(Err(ZkError::AuthFailed)) => {
                refused += 1;
                ZkError::AuthFailed.to_string()
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        // zookeeper-client says only "connection loss" when TLS fails: find out why. A refused
        // certificate does not get better by waiting either.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if let Some(tls) = config.tls.as_ref().filter(|_| !left.is_zero()) {
            if let Some(failure) = tls.diagnose(&config.connect, left).await {
                if failure.permanent {
                    return Err(ClusterError::TlsRefused {
                        server: failure.server,
                        why: failure.why,
                    });
                }
                last = format!("TLS to {}: {}", failure.server, failure.why);
            }
        }
        if tokio::time::Instant::now() + CONNECT_RETRY >= deadline {
            return Err(unreachable(last));
        }
        tokio::time::sleep(CONNECT_RETRY).await;
    }
}

/// Opens a session and returns a client rooted at the chroot. An open chroot (no access
/// policy) is created with its top-level directories when missing, as on a laptop, but only by
/// an anonymous process; a secured one must have been made by `ptl zk init`, and an anonymous
/// or unlisted login is refused here, before anything else is tried.
pub async fn connect(config: &ZkConfig) -> Result<Client, ClusterError> {
    let chroot = config.chroot.trim_end_matches('/');
    if !chroot.starts_with('/') || chroot.contains("//") || chroot.len() < 2 {
        return Err(ClusterError::BadChroot(config.chroot.clone()));
    }
    let root = connect_root(config).await?;
    // Looked at before creating: creating a node that exists is refused, not ignored, when the
    // parent does not grant CREATE.
    let exists = root
        .check_stat(chroot)
        .await
        .map_err(|e| ClusterError::zk("read", chroot, e))?;
    if exists.is_none() {
        // A process given a login expects a secured chroot; making an open one would let it
        // (and everyone) run there unprotected, even in the moment before `ptl zk init` runs.
        if config.credentials.is_some() {
            return Err(ClusterError::NoChroot(chroot.to_owned()));
        }
        let open = access::policy::open();
        root.mkdir(
            chroot,
            &Node::Chroot.mode(false).with_acls((&open[..]).into()),
        )
        .await
        .map_err(|e| ClusterError::zk("create", chroot, e))?;
    }
    let client = root
        .chroot(chroot.to_owned())
        .map_err(|_| ClusterError::BadChroot(config.chroot.clone()))?;
    let policy = access::policy::load(&client).await?;
    for dir in layout::ROOTS {
        let missing = client
            .check_stat(dir)
            .await
            .map_err(|e| ClusterError::zk("read", dir, e))?
            .is_none();
        if missing {
            let kind = Node::of_root(dir).expect("every root has a kind");
            let acl = match &policy {
                Some(policy) => policy.acl(kind, None),
                None => access::policy::open(),
            };
            create_with(&client, dir, b"", kind, &acl).await?;
        }
    }
    Ok(client)
}

/// Creates a node of kind `node` (non-sequential) with the ACL the chroot's policy gives it;
/// an existing one is left as it is. Returns whether it was created.
pub async fn create_if_missing(
    client: &Client,
    path: &str,
    data: &[u8],
    node: Node,
) -> Result<bool, ClusterError> {
    let acl = access::policy::acl_for(client, node, None).await?;
    create_with(client, path, data, node, &acl).await
}

/// [`create_if_missing`] with an ACL already resolved: for nodes made often (deltas), whose
/// ACL the writer looks up once.
pub async fn create_with(
    client: &Client,
    path: &str,
    data: &[u8],
    node: Node,
    acl: &[Acl],
) -> Result<bool, ClusterError> {
    match client
        .create(path, data, &node.mode(false).with_acls(acl.into()))
        .await
    {
        Ok(_) => Ok(true),
        Err(ZkError::NodeExists) => Ok(false),
        Err(e) => Err(ClusterError::zk("create", path, e)),
    }
}

/// Creates a sequential node of kind `node` under `prefix`; returns its full path.
pub async fn create_sequential(
    client: &Client,
    prefix: &str,
    data: &[u8],
    node: Node,
) -> Result<String, ClusterError> {
    let acl = access::policy::acl_for(client, node, None).await?;
    let options = node.mode(true).with_acls((&acl[..]).into());
    let (_, sequence) = client
        .create(prefix, data, &options)
        .await
        .map_err(|e| ClusterError::zk("create", prefix, e))?;
    Ok(format!("{prefix}{sequence}"))
}

/// Reads and parses a JSON node; `None` when it does not exist or is still empty (made before
/// its value, as the coordinator makes an agent's done marker for the agent to fill).
pub async fn get_json<T: DeserializeOwned>(
    client: &Client,
    path: &str,
    what: &'static str,
) -> Result<Option<(T, Stat)>, ClusterError> {
    match client.get_data(path).await {
        Ok((data, _)) if data.is_empty() => Ok(None),
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

/// Writes a JSON node, creating it as a `node` when missing.
pub async fn put_json<T: Serialize>(
    client: &Client,
    path: &str,
    value: &T,
    what: &'static str,
    node: Node,
) -> Result<Stat, ClusterError> {
    let data = to_json(value, what, path)?;
    match client.set_data(path, &data, None).await {
        Ok(stat) => Ok(stat),
        Err(ZkError::NoNode) => {
            let acl = access::policy::acl_for(client, node, None).await?;
            let options = node.mode(false).with_acls((&acl[..]).into());
            match client.create(path, &data, &options).await {
                Ok((stat, _)) => Ok(stat),
                // Created concurrently: ours is the newer value, write it over.
                Err(ZkError::NodeExists) => client
                    .set_data(path, &data, None)
                    .await
                    .map_err(|e| ClusterError::zk("write", path, e)),
                Err(e) => Err(ClusterError::zk("create", path, e)),
            }
        }
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

/// Requests a session keeps in flight at once for [`pipelined`]: ZooKeeper answers a session's
/// requests in order, so the round trips overlap instead of adding up.
pub const PIPELINE: usize = 64;

/// `f` over `items`, [`PIPELINE`] at a time on the one session, results in `items`' order. A
/// thousand agents' reads per poll take a few round trips' time instead of a thousand.
pub async fn pipelined<I, T, F, Fut>(items: I, f: F) -> Vec<T>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(items)
        .map(f)
        .buffered(PIPELINE)
        .collect()
        .await
}

/// The children of `dir` that hold data, with it, read in one request per batch: the done
/// markers agents have filled in, skipping those still empty and those gone since the listing.
pub async fn written_children(
    client: &Client,
    dir: &str,
) -> Result<Vec<(String, Vec<u8>)>, ClusterError> {
    // Well under ZooKeeper's 1 MiB reply limit for markers of a few hundred bytes.
    const BATCH: usize = 256;
    let names = children(client, dir).await?;
    let mut written = Vec::new();
    for batch in names.chunks(BATCH) {
        let mut reader = client.new_multi_reader();
        for name in batch {
            reader
                .add_get_data(&format!("{dir}/{name}"))
                .map_err(|e| ClusterError::zk("read", dir, e))?;
        }
        let results = reader
            .commit()
            .await
            .map_err(|e| ClusterError::zk("read", dir, e))?;
        for (name, result) in batch.iter().zip(results) {
            match result {
                MultiReadResult::Data { data, .. } if !data.is_empty() => {
                    written.push((name.clone(), data))
                }
                MultiReadResult::Error { err } if err != ZkError::NoNode => {
                    return Err(ClusterError::zk("read", &format!("{dir}/{name}"), err))
                }
                _ => {}
            }
        }
    }
    Ok(written)
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
