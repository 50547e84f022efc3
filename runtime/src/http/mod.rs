//! The HTTP client: plain HTTP/1.1 keep-alive connections over hyper's connection-level API,
//! pooled per engine worker. (HTTPS is not supported yet.)

pub mod connection;
pub mod error;
pub mod pool;
pub mod stream;

pub use connection::{Body, Connection, SendOutcome};
pub use error::HttpError;
pub use pool::{Endpoint, Lease, Pool};
