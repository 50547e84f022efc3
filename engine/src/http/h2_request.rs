//! A request the VM wrote in HTTP/1.1 wire form, turned into an HTTP/2 request: the request
//! line becomes the `:method` and `:path` pseudo-headers, `host` becomes `:authority`, the
//! HTTP/1.1 connection headers (which HTTP/2 forbids) are left out, and the body is taken off
//! its framing (length or a single chunk). The VM and every injection that edits the wire form
//! (corrupt, header) thus work unchanged for HTTP/2, at the price of one parse per request on
//! the HTTP/2 path only.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri};

/// Why the wire form could not be made into an HTTP/2 request (a client-side failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H2RequestError {
    #[error("the request head is not valid HTTP/1.1")]
    Head,
    #[error("the request has no host to send as :authority")]
    NoHost,
    #[error("the request's body framing is invalid")]
    Body,
    #[error("{0} is not valid in an HTTP/2 request")]
    Invalid(&'static str),
}

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2): they describe one HTTP/1.1 connection.
const CONNECTION_HEADERS: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

const MAX_HEADERS: usize = 128;

/// `wire` as an HTTP/2 request for a target of `scheme` (`http` or `https`), and its body.
pub fn from_wire(wire: &[u8], scheme: &str) -> Result<(Request<()>, Bytes), H2RequestError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(wire) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(H2RequestError::Head),
    };
    let method = parsed
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(H2RequestError::Head)?;
    let path = parsed.path.ok_or(H2RequestError::Head)?;
    let mut builder = Request::builder().method(method);
    let mut host = None;
    let mut chunked = false;
    let mut length = None;
    for h in parsed.headers.iter() {
        let lower = h.name.to_ascii_lowercase();
        match lower.as_str() {
            "host" => {
                host = Some(std::str::from_utf8(h.value).map_err(|_| H2RequestError::NoHost)?);
                continue;
            }
            "transfer-encoding" => chunked = true,
            "content-length" => {
                length = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok());
            }
            _ => {}
        }
        if CONNECTION_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| H2RequestError::Invalid("a header name"))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| H2RequestError::Invalid("a header"))?;
        builder = builder.header(name, value);
    }
    let host = host.ok_or(H2RequestError::NoHost)?;
    let uri = Uri::builder()
        .scheme(scheme)
        .authority(host)
        .path_and_query(path)
        .build()
        .map_err(|_| H2RequestError::Invalid("the request target"))?;
    let request = builder
        .uri(uri)
        .body(())
        .map_err(|_| H2RequestError::Invalid("the request"))?;
    let rest = &wire[head_len..];
    let body = if chunked && !rest.is_empty() {
        single_chunk(rest)?
    } else {
        match length {
            Some(n) if n <= rest.len() => &rest[..n],
            Some(_) => return Err(H2RequestError::Body),
            None => rest,
        }
    };
    Ok((request, Bytes::copy_from_slice(body)))
}

/// The data of `size\r\ndata\r\n0\r\n\r\n`, the only chunked form the VM writes.
fn single_chunk(rest: &[u8]) -> Result<&[u8], H2RequestError> {
    let line_end = rest
        .windows(2)
        .position(|w| w == b"\r\n")
        .ok_or(H2RequestError::Body)?;
    let size = std::str::from_utf8(&rest[..line_end])
        .ok()
        .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
        .ok_or(H2RequestError::Body)?;
    let start = line_end + 2;
    rest.get(start..start.saturating_add(size))
        .ok_or(H2RequestError::Body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::encode;
    use http::HeaderMap;
    use proptest::prelude::*;

    fn wire(method: &Method, target: &str, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(method, target, headers, body, &mut out);
        out
    }

    #[test]
    fn host_becomes_the_authority_and_connection_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com:8080"));
        headers.insert("connection", HeaderValue::from_static("keep-alive"));
        headers.insert("x-fault", HeaderValue::from_static("1"));
        let w = wire(&Method::GET, "/a?b=1", &headers, b"");
        let (req, body) = from_wire(&w, "http").expect("converts");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().to_string(), "http://example.com:8080/a?b=1");
        assert!(req.headers().get("host").is_none());
        assert!(req.headers().get("connection").is_none());
        assert_eq!(req.headers()["x-fault"], "1");
        assert!(body.is_empty());
    }

    #[test]
    fn a_request_without_host_is_refused() {
        let w = wire(&Method::GET, "/", &HeaderMap::new(), b"");
        assert_eq!(from_wire(&w, "http").err(), Some(H2RequestError::NoHost));
        assert_eq!(
            from_wire(b"GET / HTTP/1.1\r\n", "http").err(),
            Some(H2RequestError::Head)
        );
    }

    proptest! {
        #[test]
        fn bodies_come_back_whatever_their_framing(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            chunked in any::<bool>(),
        ) {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static("h"));
            if chunked {
                headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
            }
            let w = wire(&Method::POST, "/p", &headers, &body);
            let (req, got) = from_wire(&w, "https").expect("converts");
            prop_assert_eq!(&got[..], &body[..]);
            prop_assert!(req.headers().get("transfer-encoding").is_none());
            prop_assert_eq!(req.uri().scheme_str(), Some("https"));
        }
    }
}
