//! What ZooKeeper says of itself (`mntr`, over the client port: the servers must whitelist
//! it, `4lw.commands.whitelist=mntr`) and what `/proc` says of a process (the coordinator's
//! CPU and RSS): the harness's instruments, read once a second.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One reading of the ensemble, summed over its servers where that is meaningful.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZkReading {
    /// Write requests the servers completed for their clients (`zk_cnt_updatelatency`): each
    /// create, set, delete, and each `multi` as one.
    pub writes: u64,
    /// Bytes the servers received from clients (`zk_bytes_received_count`): every request,
    /// reads' small ones included.
    pub bytes_received: u64,
    /// Nodes in the tree (`zk_znode_count`, the largest any server reports).
    pub znodes: u64,
    /// Data and path bytes in the tree (`zk_approximate_data_size`, the largest any reports).
    pub data_bytes: u64,
    /// Servers that answered.
    pub servers: usize,
}

/// Reads `mntr` from every `host:port` of a connect string; servers that do not answer are
/// left out (`servers` says how many did).
pub async fn read(connect: &str) -> ZkReading {
    let mut reading = ZkReading::default();
    for server in connect.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(text) = mntr(server).await else {
            continue;
        };
        reading.servers += 1;
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            match key {
                "zk_cnt_updatelatency" => reading.writes += value,
                "zk_bytes_received_count" => reading.bytes_received += value,
                "zk_znode_count" => reading.znodes = reading.znodes.max(value),
                "zk_approximate_data_size" => reading.data_bytes = reading.data_bytes.max(value),
                _ => {}
            }
        }
    }
    reading
}

async fn mntr(server: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        stream.write_all(b"mntr").await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
        .filter(|r| r.contains("zk_znode_count"))
}

/// A process's CPU time so far and its resident memory, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcReading {
    pub cpu_s: f64,
    pub rss_bytes: u64,
}

/// Clock ticks per second of `/proc/<pid>/stat`'s times: 100 on every Linux ptl runs on.
const TICKS_PER_S: f64 = 100.0;

pub fn read_proc(pid: u32) -> Option<ProcReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(ProcReading {
        cpu_s: ticks / TICKS_PER_S,
        rss_bytes: rss_kb * 1024,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = read_proc(std::process::id()).expect("own /proc");
        assert!(me.rss_bytes > 0);
        assert!(me.cpu_s >= 0.0);
        assert_eq!(read_proc(u32::MAX), None);
    }
}
