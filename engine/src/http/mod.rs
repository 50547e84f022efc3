//! The HTTP client: HTTP/1.1 keep-alive connections (plain, or over TLS with rustls), pooled
//! per engine worker, each driven inside the task that sends on it. Requests are written in
//! wire form straight from the VM's output; answers are parsed with `httparse`, and bodies (by
//! length, chunked, or until close) are read off the received bytes without building a header
//! map or collecting the body unless a step reads them.
//!
//! With a plan's `http 2`, the pool's requests go instead as HTTP/2 streams (the `h2` crate)
//! on a few connections per worker (`h2_pool`, `h2_connection`), converted from the same wire
//! form (`h2_request`).

mod body;
mod client_key;
pub(crate) mod connection;
mod deadline;
pub(crate) mod error;
pub(crate) mod h2_connection;
pub(crate) mod h2_pool;
pub(crate) mod h2_request;
pub(crate) mod pool;
pub(crate) mod request;
pub(crate) mod response;
mod stream;
pub(crate) mod tls;

pub use connection::{Connection, Response, SendOutcome, Want};
pub use error::{HttpError, ProtocolError};
pub use pool::{Endpoint, Lease, Pool};
pub use tls::{first_failure, TlsOptions, TlsSetupError, TlsTarget};
