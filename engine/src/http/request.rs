//! A request in HTTP/1.1 wire form: request line, headers, framing, body, written into a
//! connection's reusable output buffer so that sending it is one `write`.
//!
//! Framing follows what hyper does for a body held in memory: no body, no framing header
//! (a `content-length` the plan set is sent as it is); a body goes with the plan's own
//! `content-length` if it has one, else with one computed here; a plan that sets
//! `transfer-encoding` gets its body as a single chunk.

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method};

/// Appends one `name: value` header line.
#[inline]
pub fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `method target HTTP/1.1`, the headers and the body to `out`.
pub fn encode(method: &Method, target: &str, headers: &HeaderMap, body: &[u8], out: &mut Vec<u8>) {
    out.reserve(64 + target.len() + headers.len() * 32 + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let chunked = !body.is_empty() && headers.contains_key(TRANSFER_ENCODING);
    for (name, value) in headers {
        if chunked && name == CONTENT_LENGTH {
            continue;
        }
        write_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if body.is_empty() {
        out.extend_from_slice(b"\r\n");
        return;
    }
    if chunked {
        if !ends_in_chunked(headers) {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        write_chunk(body, out);
        return;
    }
    if !headers.contains_key(CONTENT_LENGTH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// `body` as one chunk and the last chunk.
pub fn write_chunk(body: &[u8], out: &mut Vec<u8>) {
    let mut size = [0u8; 16];
    let n = hex(body.len(), &mut size);
    out.extend_from_slice(&size[..n]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
}

/// Whether the last transfer coding the headers list is `chunked`.
fn ends_in_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.as_bytes().rsplit(|&b| b == b',').next())
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// `n` in lowercase hex into `out`; returns the length.
fn hex(mut n: usize, out: &mut [u8; 16]) -> usize {
    let mut tmp = [0u8; 16];
    let mut i = 0;
    loop {
        tmp[i] = b"0123456789abcdef"[n & 15];
        i += 1;
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    for (j, b) in tmp[..i].iter().rev().enumerate() {
        out[j] = *b;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn enc(method: Method, headers: &[(&str, &str)], body: &[u8]) -> String {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let mut out = b"stale".to_vec();
        out.clear();
        encode(&method, "/a?b=1", &map, body, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_get_has_no_framing() {
        assert_eq!(
            enc(Method::GET, &[("host", "h:1"), ("x-a", "1")], b""),
            "GET /a?b=1 HTTP/1.1\r\nhost: h:1\r\nx-a: 1\r\n\r\n"
        );
    }

    #[test]
    fn a_body_gets_its_length() {
        assert_eq!(
            enc(Method::POST, &[("host", "h")], b"{\"a\":1}"),
            "POST /a?b=1 HTTP/1.1\r\nhost: h\r\ncontent-length: 7\r\n\r\n{\"a\":1}"
        );
    }

    #[test]
    fn a_length_the_plan_set_is_kept() {
        assert_eq!(
            enc(Method::PUT, &[("content-length", "3")], b"abc"),
            "PUT /a?b=1 HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"
        );
        assert_eq!(
            enc(Method::POST, &[("content-length", "0")], b""),
            "POST /a?b=1 HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
        );
    }

    #[test]
    fn repeated_headers_keep_their_order() {
        assert_eq!(
            enc(Method::GET, &[("x-a", "1"), ("x-a", "2")], b""),
            "GET /a?b=1 HTTP/1.1\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
        );
    }

    #[test]
    fn transfer_encoding_sends_one_chunk() {
        assert_eq!(
            enc(
                Method::POST,
                &[("transfer-encoding", "chunked"), ("content-length", "9")],
                &[b'x'; 26]
            ),
            format!(
                "POST /a?b=1 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1a\r\n{}\r\n0\r\n\r\n",
                "x".repeat(26)
            )
        );
        assert_eq!(
            enc(Method::POST, &[("transfer-encoding", "gzip")], b"z"),
            "POST /a?b=1 HTTP/1.1\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn hex_sizes() {
        let mut b = [0u8; 16];
        for (n, s) in [(0usize, "0"), (9, "9"), (255, "ff"), (4096, "1000")] {
            let len = hex(n, &mut b);
            assert_eq!(&b[..len], s.as_bytes());
        }
    }
}
