//! A TCP proxy between one process and a server (a ZooKeeper node, an HTTP target) that a test
//! can partition: [`TcpProxy::black_hole`] stops every byte in both directions without closing
//! anything, as a network partition does (the process stays up and its connections look
//! open; its peers' timeouts decide what happens), and [`TcpProxy::heal`] lets the held bytes
//! through again, in order, as TCP's retransmission would. [`TcpProxy::cut`] closes every
//! connection at once instead (a crashed middlebox, a reset).
//!
//! Plain threads, so it works beside any runtime a test uses; one thread per direction of each
//! connection, which is plenty for the few connections a coordination client opens.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often a held direction looks whether the partition healed.
const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct State {
    blocked: AtomicBool,
    closed: AtomicBool,
    /// Bumped by `cut`: connections of an older generation end.
    generation: AtomicU64,
    streams: Mutex<Vec<TcpStream>>,
}

/// A running proxy; dropping it closes the listener's thread's work and every connection.
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<State>,
}

impl TcpProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State::default());
        let accepting = state.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let state = accepting.clone();
                thread::spawn(move || connect(client, upstream, state));
            }
        });
        TcpProxy { addr, state }
    }

    /// Where the process under test connects instead of `upstream`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on no byte passes either way; connections stay open, new ones are accepted
    /// but not forwarded.
    pub fn black_hole(&self) {
        self.state.blocked.store(true, Ordering::SeqCst);
    }

    /// Bytes pass again, the held ones first.
    pub fn heal(&self) {
        self.state.blocked.store(false, Ordering::SeqCst);
    }

    /// Closes every open connection now (new ones are still forwarded).
    pub fn cut(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        for s in self
            .state
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so it sees `closed`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn connect(client: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let generation = state.generation.load(Ordering::SeqCst);
    // A connection made during a partition waits for it to heal before reaching upstream.
    while state.blocked.load(Ordering::SeqCst) {
        if state.closed.load(Ordering::SeqCst)
            || state.generation.load(Ordering::SeqCst) != generation
        {
            return;
        }
        thread::sleep(POLL);
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let clones = (client.try_clone(), server.try_clone());
    let (Ok(client_in), Ok(server_in)) = clones else {
        return;
    };
    {
        let mut streams = state.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.extend(client.try_clone().ok());
        streams.extend(server.try_clone().ok());
    }
    let back = state.clone();
    thread::spawn(move || pump(server_in, client, back, generation));
    pump(client_in, server, state, generation);
}

/// Copies `from` to `to` while the partition allows; ends with either side or a `cut`.
fn pump(mut from: TcpStream, mut to: TcpStream, state: Arc<State>, generation: u64) {
    let _ = from.set_read_timeout(Some(POLL));
    let mut buf = [0u8; 16 * 1024];
    loop {
        if state.closed.load(Ordering::SeqCst)
            || state.generation.load(Ordering::SeqCst) != generation
        {
            break;
        }
        // Held bytes stay in the kernel's buffers, in order, until the partition heals.
        if state.blocked.load(Ordering::SeqCst) {
            thread::sleep(POLL);
            continue;
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// A line echo server: the far side of the proxy.
    fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || {
                    let mut out = stream.try_clone().expect("clone");
                    for line in std::io::BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        if writeln!(out, "{line}").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn exchange(
        stream: &mut TcpStream,
        reader: &mut std::io::BufReader<TcpStream>,
        text: &str,
    ) -> std::io::Result<String> {
        writeln!(stream, "{text}")?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        Ok(line.trim_end().to_string())
    }

    #[test]
    fn a_black_hole_holds_bytes_until_healed_and_a_cut_closes() {
        let proxy = TcpProxy::start(echo());
        let mut stream = TcpStream::connect(proxy.addr()).expect("connect");
        let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
        assert_eq!(
            exchange(&mut stream, &mut reader, "one").expect("echo"),
            "one"
        );

        proxy.black_hole();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let held = exchange(&mut stream, &mut reader, "two");
        assert!(held.is_err(), "nothing passes a partition: {held:?}");

        proxy.heal();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut line = String::new();
        reader.read_line(&mut line).expect("the held line arrives");
        assert_eq!(
            line.trim_end(),
            "two",
            "held bytes pass, intact, after healing"
        );

        proxy.cut();
        let mut rest = String::new();
        let n = reader.read_line(&mut rest).unwrap_or(0);
        assert_eq!(n, 0, "a cut connection is closed");
    }
}
