//! Where the cluster's dashboards are served: every coordinator serving one (`--http`) lists
//! its address under `/dashboards` for as long as its session lives, so a browser whose
//! coordinator died can be sent to another one, which shows the same runs (each dashboard
//! rebuilds them from ZooKeeper).

use zookeeper_client::Client;

use crate::access::Node;
use crate::error::ClusterError;
use crate::zk;
use crate::zk::layout;

/// Lists `url` among the cluster's dashboards until this client's session ends.
pub async fn announce(client: &Client, url: &str) -> Result<(), ClusterError> {
    zk::create_sequential(
        client,
        layout::DASHBOARD_PREFIX,
        url.as_bytes(),
        Node::DashboardEntry,
    )
    .await
    .map(|_| ())
}

/// The addresses of the dashboards served now, oldest first, each once.
pub async fn urls(client: &Client) -> Result<Vec<String>, ClusterError> {
    let mut urls = Vec::new();
    for name in zk::children(client, layout::DASHBOARDS).await? {
        let path = format!("{}/{name}", layout::DASHBOARDS);
        // One that went away between the listing and the read is simply not listed.
        if let Ok((data, _)) = client.get_data(&path).await {
            if let Ok(url) = String::from_utf8(data) {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
    }
    Ok(urls)
}
