//! The one retry policy for ZooKeeper operations. A lost connection (a server restarting, a
//! network blip, a leader election, quorum lost for a while) is not an answer: the same
//! request is sent again, with backoff, until it is answered or the caller's deadline passes.
//! Only idempotent operations go through here (reads, `set_data` of a whole value, creates of
//! nodes whose name is their identity, where "already exists" after a retry means "done").
//! A session that expired is an answer: the caller must open a new one.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::Error as ZkError;

use crate::error::ClusterError;

/// First pause after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Whether ZooKeeper did not answer, so that the same request may succeed later on the same
/// session.
pub fn is_retryable(e: &ZkError) -> bool {
    matches!(
        e,
        ZkError::ConnectionLoss
            | ZkError::Timeout
            | ZkError::Throttled
            | ZkError::NoHosts
            // A socket error (connection reset while a server dies), wrapped by the client.
            | ZkError::Custom(_)
    )
}

/// An error that may say "not answered" (retry) rather than give an answer.
pub trait Retryable {
    fn retryable(&self) -> bool;
}

impl Retryable for ZkError {
    fn retryable(&self) -> bool {
        is_retryable(self)
    }
}

/// The crate's own helpers (`zk::put_json`, `zk::create_if_missing`, …) go through it too.
impl Retryable for ClusterError {
    fn retryable(&self) -> bool {
        matches!(self, ClusterError::Zk { source, .. } if is_retryable(source))
    }
}

/// Runs `op` until it returns something other than a retryable error, or until `deadline`
/// (`None`: as long as it takes); then the last error.
pub async fn retry<T, E, F, Fut>(deadline: Option<Instant>, mut op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        match op().await {
            Err(e) if e.retryable() => {
                let next = Instant::now() + backoff;
                if deadline.is_some_and(|d| next > d) {
                    return Err(e);
                }
                tokio::time::sleep_until(next).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test(start_paused = true)]
    async fn connection_loss_is_retried_and_answers_are_not() {
        let calls = Cell::new(0);
        let got = retry(None, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 4 {
                    Err(ZkError::ConnectionLoss)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(got, Ok(4));

        calls.set(0);
        let got: Result<(), _> = retry(None, || {
            calls.set(calls.get() + 1);
            async { Err(ZkError::NoNode) }
        })
        .await;
        assert_eq!(got, Err(ZkError::NoNode));
        assert_eq!(calls.get(), 1, "an answer is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_the_retries_with_the_last_error() {
        let deadline = Instant::now() + Duration::from_millis(500);
        let calls = Cell::new(0);
        let got: Result<(), _> = retry(Some(deadline), || {
            calls.set(calls.get() + 1);
            async { Err(ZkError::ConnectionLoss) }
        })
        .await;
        assert_eq!(got, Err(ZkError::ConnectionLoss));
        // 50 + 100 + 200 ms fit before the deadline; the next pause (400 ms) would not.
        assert_eq!(calls.get(), 4);
        assert!(Instant::now() <= deadline);
    }
}
