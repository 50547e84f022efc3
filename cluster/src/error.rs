//! `ClusterError`: everything that can go wrong talking to ZooKeeper and running a cluster run.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("ZooKeeper at {connect} is unreachable: no session within {timeout:?} ({detail})")]
    Unreachable {
        connect: String,
        timeout: Duration,
        detail: String,
    },

    #[error("invalid ZooKeeper chroot {0:?}: it must be an absolute path like /ptl")]
    BadChroot(String),

    #[error("ZooKeeper {op} {path}: {source}")]
    Zk {
        op: &'static str,
        path: String,
        #[source]
        source: zookeeper_client::Error,
    },

    #[error("ZooKeeper {op} {path}: no answer within {timeout:?}")]
    ZkTimeout {
        op: &'static str,
        path: String,
        timeout: Duration,
    },

    #[error("malformed {what} at {path}: {detail}")]
    Malformed {
        what: &'static str,
        path: String,
        detail: String,
    },

    #[error("invalid plan hash {0:?}: expected 64 lowercase hex digits")]
    BadPlanHash(String),

    #[error("plan {0} is not stored in ZooKeeper")]
    PlanNotFound(String),

    #[error("plan {hash} in ZooKeeper is corrupt: {detail}")]
    PlanCorrupt { hash: String, detail: String },

    #[error("the plan's bytecode cannot be run here: {0}")]
    Bytecode(String),

    #[error("run {0} does not exist")]
    RunNotFound(String),

    #[error("run {run} wants {wanted} agent(s) but only {available} registered within {waited:?}{refused}")]
    NotEnoughAgents {
        run: String,
        wanted: u32,
        available: u32,
        waited: Duration,
        /// Empty, or `; refused: <agent> <why>, …` for registered agents that may not take part.
        refused: String,
    },

    #[error("agent {agent} runs ptl {agent_version}, older than the coordinator's {ours}")]
    AgentTooOld {
        agent: String,
        agent_version: String,
        ours: String,
    },

    #[error("agent {agent}'s clock is off by {offset_ms} ms, more than the {tolerance_ms} ms start tolerance")]
    ClockSkew {
        agent: String,
        offset_ms: i64,
        tolerance_ms: i64,
    },

    #[error("run {run} did not finish within {waited:?} (state: {state})")]
    RunTimedOut {
        run: String,
        waited: Duration,
        state: String,
    },

    #[error("run {run} failed: {reason}")]
    RunFailed { run: String, reason: String },

    #[error("run {run} was stopped before it started ({reason})")]
    StoppedBeforeStart { run: String, reason: String },

    #[error("cannot {verb} run {run}: {why}")]
    CannotControl {
        verb: &'static str,
        run: String,
        why: String,
    },

    #[error("bad key file {0}")]
    BadKey(String),

    #[error("run {run} refused: {reason}")]
    Refused { run: String, reason: String },

    #[error("bad ZooKeeper auth file {file}: {why}")]
    BadCredentials { file: String, why: String },

    #[error("ZooKeeper has no {0}: with --zk-auth-file, ptl expects a chroot secured by `ptl zk init` and never creates an open one")]
    NoChroot(String),

    #[error("bad ZooKeeper TLS file {file}: {why}")]
    BadTlsFile { file: String, why: String },

    /// A certificate was refused, by us or by the server: retrying cannot help.
    #[error("TLS to ZooKeeper at {server} failed: {why} (check --zk-tls-ca, --zk-tls-cert and --zk-tls-key)")]
    TlsRefused { server: String, why: String },

    /// ZooKeeper's ACLs refused this login (or an anonymous one) the operation.
    #[error("ZooKeeper refused: not authorised to {op} {path} in the cluster's chroot (check --zk-auth-file, and the roles with `ptl zk init --check`)")]
    NotAuthorised { op: &'static str, path: String },

    #[error("ZooKeeper refused the login of --zk-auth-file (authentication failed)")]
    AuthFailed,

    #[error("the ZooKeeper session ended: {0}")]
    SessionLost(String),

    #[error("engine: {0}")]
    Engine(String),

    /// The engine could not run the agent's share (typed: the engine's own error).
    #[error("engine: {0}")]
    Run(#[from] ptl_engine::error::RuntimeError),
}

impl ClusterError {
    /// ZooKeeper did not answer (the same request may well succeed later), as opposed to what
    /// it answered being missing or wrong.
    pub fn is_transient(&self) -> bool {
        use zookeeper_client::Error as E;
        match self {
            ClusterError::Unreachable { .. }
            | ClusterError::ZkTimeout { .. }
            | ClusterError::SessionLost(_) => true,
            // Not answered (the retry policy's own rule), or the session is gone and a new
            // one may do.
            ClusterError::Zk { source, .. } => {
                crate::zk::retry::is_retryable(source)
                    || matches!(
                        source,
                        E::SessionExpired | E::SessionMoved | E::ClientClosed
                    )
            }
            _ => false,
        }
    }

    /// The client that got this error is dead (its session expired, as far as it knows): a
    /// durable session may go on with a new client.
    pub fn ends_client(&self) -> bool {
        use zookeeper_client::Error as E;
        matches!(
            self,
            ClusterError::Zk {
                source: E::SessionExpired | E::ClientClosed,
                ..
            }
        )
    }

    pub(crate) fn zk(op: &'static str, path: &str, source: zookeeper_client::Error) -> Self {
        use zookeeper_client::Error as E;
        match source {
            E::NoAuth => {
                return ClusterError::NotAuthorised {
                    op,
                    path: path.to_owned(),
                }
            }
            E::AuthFailed => return ClusterError::AuthFailed,
            _ => {}
        }
        ClusterError::Zk {
            op,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn malformed(what: &'static str, path: &str, detail: impl ToString) -> Self {
        ClusterError::Malformed {
            what,
            path: path.to_owned(),
            detail: detail.to_string(),
        }
    }
}
