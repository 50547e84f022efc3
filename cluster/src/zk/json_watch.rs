//! Following one JSON znode for as long as anyone listens: each version read is handed on, the
//! watch is set again after every change, and the loop ends with its listeners or the session.
//! The agent's followers (pause windows, assignment epochs) share it. It follows a durable
//! session: a client that gave up is replaced by the one that resumed the session.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::watch;
use zookeeper_client::Error as ZkError;

use crate::zk::durable::SessionHandle;

/// Wait before reading again after an error the session survives (a lost connection).
const RETRY: Duration = Duration::from_millis(200);

/// What a missing node means to the follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenMissing {
    /// The run is gone: stop following.
    Stop,
    /// Not written yet: wait for it to be created.
    Wait,
}

/// Reads `path` and hands each version that parses as `T` to `on_value`, until every receiver
/// of `tx` is dropped, the session ends, or (with [`WhenMissing::Stop`]) the node is missing.
/// A version that does not parse is skipped, not fatal: the next one may.
pub(crate) async fn follow_json<T, S>(
    session: &SessionHandle,
    path: &str,
    missing: WhenMissing,
    tx: &watch::Sender<S>,
    mut on_value: impl FnMut(T, &watch::Sender<S>),
) where
    T: DeserializeOwned,
{
    let mut session = session.clone();
    loop {
        let client = session.client();
        let watcher = match client.get_and_watch_data(path).await {
            Ok((data, _, watcher)) => {
                if let Ok(value) = serde_json::from_slice::<T>(&data) {
                    on_value(value, tx);
                }
                watcher
            }
            Err(ZkError::NoNode) if missing == WhenMissing::Wait => {
                match client.check_and_watch_stat(path).await {
                    // Created between the two calls: read it.
                    Ok((Some(_), _)) => continue,
                    Ok((None, watcher)) => watcher,
                    Err(ZkError::SessionExpired | ZkError::ClientClosed) => {
                        if session.next_client().await.is_none() {
                            return;
                        }
                        continue;
                    }
                    Err(_) => {
                        tokio::time::sleep(RETRY).await;
                        continue;
                    }
                }
            }
            Err(ZkError::NoNode) => return,
            Err(ZkError::SessionExpired | ZkError::ClientClosed) => {
                if session.next_client().await.is_none() {
                    return;
                }
                continue;
            }
            Err(_) => {
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        tokio::select! {
            _ = watcher.changed() => {}
            _ = tx.closed() => return,
        }
    }
}
