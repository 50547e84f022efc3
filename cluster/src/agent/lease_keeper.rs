//! Renews an agent's [`Lease`] from its ZooKeeper session: a cheap read every so often, each
//! answer proving the ensemble heard from the agent when the read left. ZooKeeper expires a
//! session `session_timeout` after the last request it got from it, and only then can the
//! coordinator hand the agent's share to others; so a lease that ends [`LEASE_SHARE`] of the
//! session timeout after the last answered read ends well before anyone else can be sending
//! the share. The rule is in docs/cluster.md ("Fencing").

use std::sync::Arc;
use std::time::{Duration, Instant};

use ptl_engine::lease::Lease;
use zookeeper_client::Error as ZkError;

use crate::zk::durable::SessionHandle;

/// The lease lasts this share of the negotiated session timeout after a renewal left.
pub const LEASE_SHARE: f64 = 2.0 / 3.0;

/// Renewals per lease length: a few may be lost or slow before the lease lapses.
const RENEWALS_PER_LEASE: u32 = 5;

/// A process stalled longer than this (SIGSTOP, a whole-machine pause) holds its load until a
/// renewal sent after the stall is answered.
pub const STALL_BOUND: Duration = Duration::from_secs(1);

/// How long the lease lasts after a renewal left, for a session of `session_timeout`.
pub fn lease_length(session_timeout: Duration) -> Duration {
    session_timeout.mul_f64(LEASE_SHARE)
}

/// Keeps renewing `lease` while the session lives; revokes it when the session ends. The
/// task stops when the returned guard is dropped.
pub fn keep(session: SessionHandle, lease: Arc<Lease>) -> KeeperGuard {
    let length = lease_length(session.client().session_timeout());
    let every = (length / RENEWALS_PER_LEASE).max(Duration::from_millis(20));
    let task = tokio::spawn(async move {
        let mut held = false;
        loop {
            // Said once per change: an operator reading the agent's log sees why it held back.
            if held != lease.held() {
                held = !held;
                if held {
                    eprintln!("agent lease held: ZooKeeper answers");
                } else {
                    eprintln!(
                        "agent lease lapsed (no answer from ZooKeeper within {length:?}, or the process stalled): holding back load"
                    );
                }
            }
            let sent = Instant::now();
            let client = session.client();
            match tokio::time::timeout(length, client.check_stat("/")).await {
                Ok(Ok(_)) => lease.renew(sent, length),
                // This client gave up; only the server's word ends the session (and the lease).
                Ok(Err(ZkError::SessionExpired | ZkError::ClientClosed | ZkError::AuthFailed))
                    if session.ended() =>
                {
                    lease.revoke();
                    return;
                }
                // No answer yet (disconnected, quorum lost): the lease runs down by itself.
                Ok(Err(_)) | Err(_) => {}
            }
            tokio::time::sleep_until((sent + every).into()).await;
        }
    });
    KeeperGuard(task)
}

/// Stops the renewals when dropped.
pub struct KeeperGuard(tokio::task::JoinHandle<()>);

impl Drop for KeeperGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_ends_well_inside_the_session_timeout() {
        let session = Duration::from_secs(6);
        assert_eq!(lease_length(session), Duration::from_secs(4));
        assert!(lease_length(session) + STALL_BOUND < session);
    }
}
