//! What the workspace's tests share, as one dev-only crate instead of `#[path]` includes and
//! copies: real servers on 127.0.0.1 ([`listen`], [`counting_server`], [`tls`]), a real
//! Apache ZooKeeper ([`zk_server`], optionally with SASL logins and TLS, its certificates from
//! [`zk_tls`]), a TCP proxy that partitions one process from a server ([`tcp_proxy`]),
//! hand-built plans ([`plans`]) for the crates below the compiler, and a seeded generator for
//! test data ([`draw`]).
//! Nothing here is a mock: the tests talk to real processes and sockets.

pub mod counting_server;
pub mod draw;
pub mod listen;
pub mod plans;
pub mod tcp_proxy;
pub mod tls;
pub mod zk_server;
pub mod zk_tls;

pub use zk_server::ZkServer;
