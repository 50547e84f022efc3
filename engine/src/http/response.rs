//! The head of an HTTP/1.x response: its status, how its body is framed (RFC 9112 §6.3) and
//! whether the connection stays open after it. The header map is built only when a step reads
//! headers (captures, cookies); otherwise only the framing headers are looked at.

use super::error::{HttpError, ProtocolError};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::mem::MaybeUninit;

/// Largest head accepted, as hyper's default buffer limit.
pub const MAX_HEAD: usize = 8192 + 4096 * 100;
/// Most headers accepted in one head, as hyper's default.
pub const MAX_HEADERS: usize = 100;

/// How the body after a head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Read until the server closes: the connection cannot be reused.
    UntilClose,
}

#[derive(Debug)]
pub struct Head {
    pub status: u16,
    /// Bytes the head took.
    pub len: usize,
    pub framing: Framing,
    /// Whether the connection may carry another request after this answer.
    pub keep_alive: bool,
    /// Only when asked for (boxed: answers travel up several futures, better small).
    pub headers: Option<Box<HeaderMap>>,
}

impl Head {
    /// A 1xx answer other than 101: another head follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses the head at the start of `buf`: `None` if it is not complete yet. `head_request`:
/// the request was a HEAD (its answer has no body whatever the headers say).
pub fn parse(
    buf: &[u8],
    head_request: bool,
    want_headers: bool,
) -> Result<Option<Head>, HttpError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > MAX_HEAD {
                Err(HttpError::Protocol(ProtocolError::HeadTooLarge(MAX_HEAD)))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::Protocol(ProtocolError::TooManyHeaders(
                MAX_HEADERS,
            )))
        }
        Err(_) => return Err(HttpError::Protocol(ProtocolError::Head)),
    };
    if len > MAX_HEAD {
        return Err(HttpError::Protocol(ProtocolError::HeadTooLarge(MAX_HEAD)));
    }
    let status = match resp.code {
        Some(c @ 100..=999) => c,
        _ => return Err(HttpError::Protocol(ProtocolError::Head)),
    };
    let http11 = resp.version == Some(1);

    let mut keep_alive = http11;
    let mut close = false;
    let mut transfer_encoding: Option<&[u8]> = None;
    let mut content_length: Option<u64> = None;
    let mut bad_length = false;
    let mut headers = want_headers.then(|| Box::new(HeaderMap::with_capacity(resp.headers.len())));
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        match framing_header(name) {
            Some(FramingHeader::ContentLength) => match parse_length(h.value) {
                Some(n) if content_length.unwrap_or(n) == n => content_length = Some(n),
                _ => bad_length = true,
            },
            // The last coding of the last line is the one that frames the body.
            Some(FramingHeader::TransferEncoding) => transfer_encoding = Some(h.value),
            Some(FramingHeader::Connection) => {
                if has_token(h.value, b"close") {
                    close = true;
                } else if has_token(h.value, b"keep-alive") {
                    keep_alive = true;
                }
            }
            None => {}
        }
        if let Some(headers) = headers.as_mut() {
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_bytes(h.value),
            ) else {
                return Err(HttpError::Protocol(ProtocolError::Head));
            };
            headers.append(n, v);
        }
    }
    if close {
        keep_alive = false;
    }

    let framing = match status {
        101 => {
            // A protocol switch nobody asked for: nothing more can go on this connection.
            keep_alive = false;
            Framing::Empty
        }
        100..=199 | 204 | 304 => Framing::Empty,
        _ if head_request => Framing::Empty,
        _ => match (transfer_encoding, content_length) {
            (Some(_), _) if !http11 => {
                return Err(HttpError::Protocol(ProtocolError::TransferEncoding))
            }
            (Some(te), _) if last_coding_is_chunked(te) => Framing::Chunked,
            (Some(_), _) => Framing::UntilClose,
            _ if bad_length => return Err(HttpError::Protocol(ProtocolError::ContentLength)),
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        },
    };
    if framing == Framing::UntilClose {
        keep_alive = false;
    }
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        headers,
    }))
}

enum FramingHeader {
    ContentLength,
    TransferEncoding,
    Connection,
}

/// Which of the headers that frame an answer `name` is, if any. By length first: most
/// headers are none of them and cost one comparison; then eight bytes at a time.
fn framing_header(name: &[u8]) -> Option<FramingHeader> {
    match name.len() {
        14 => folded_eq(name, b"content-length").then_some(FramingHeader::ContentLength),
        17 => folded_eq(name, b"transfer-encoding").then_some(FramingHeader::TransferEncoding),
        10 => folded_eq(name, b"connection").then_some(FramingHeader::Connection),
        _ => None,
    }
}

/// `name == lower` ignoring ASCII case, for a token `name` and a lowercase `lower` of the same
/// length (8 to 24 bytes) made of letters and `-`. Among token characters only letters fold
/// onto the lowercase letters, and only `-` onto `-`, when bit 5 is set; so each word is
/// compared with that bit set in every byte (the words may overlap).
fn folded_eq(name: &[u8], lower: &[u8]) -> bool {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let word = |b: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let n = lower.len();
    debug_assert!(name.len() == n && (8..=24).contains(&n));
    let mut at = 0;
    loop {
        let start = at.min(n - 8);
        if word(name, start) | FOLD != word(lower, start) {
            return false;
        }
        if start + 8 >= n {
            return true;
        }
        at += 8;
    }
}

/// A `content-length` value: digits, or a list of equal values (`5, 5`).
fn parse_length(value: &[u8]) -> Option<u64> {
    let mut found = None;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = part.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

fn last_coding_is_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        parse(raw.as_bytes(), false, true)
            .expect("valid")
            .expect("complete")
    }

    fn error(raw: &str) -> ProtocolError {
        match parse(raw.as_bytes(), false, false) {
            Err(HttpError::Protocol(p)) => p,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    #[test]
    fn content_length_frames_the_body_and_keeps_alive() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\nrest");
        assert_eq!(h.status, 200);
        assert_eq!(h.framing, Framing::Length(12));
        assert!(h.keep_alive);
        assert_eq!(
            h.len,
            "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n".len()
        );
        let headers = h.headers.expect("asked for");
        assert_eq!(headers["x-a"], "b");
        assert_eq!(headers["content-length"], "12");
    }

    #[test]
    fn headers_are_built_only_when_asked() {
        let h = parse(
            b"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
        )
        .expect("valid")
        .expect("complete");
        assert!(h.headers.is_none());
        assert_eq!(h.framing, Framing::Length(0));
    }

    #[test]
    fn chunked_wins_over_content_length() {
        let h = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.keep_alive);
    }

    #[test]
    fn no_length_means_until_close() {
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.keep_alive);
    }

    #[test]
    fn bodiless_statuses_and_head_requests() {
        for s in [
            "204 No Content",
            "304 Not Modified",
            "100 Continue",
            "103 Early Hints",
        ] {
            let h = head(&format!("HTTP/1.1 {s}\r\nContent-Length: 10\r\n\r\n"));
            assert_eq!(h.framing, Framing::Empty, "{s}");
            assert!(h.keep_alive);
        }
        assert!(head("HTTP/1.1 100 Continue\r\n\r\n").is_interim());
        assert!(!head("HTTP/1.1 101 Switching\r\n\r\n").is_interim());
        assert!(!head("HTTP/1.1 101 Switching\r\n\r\n").keep_alive);
        let h = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            true,
            false,
        )
        .expect("valid")
        .expect("complete");
        assert_eq!(h.framing, Framing::Empty);
    }

    #[test]
    fn connection_tokens() {
        assert!(
            !head("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").keep_alive
        );
        assert!(
            !head("HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
                .keep_alive,
            "a close is not undone"
        );
        assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
        assert!(
            head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
                .keep_alive
        );
        assert!(
            head("HTTP/1.1 200 OK\r\nConnection: upgrade, x\r\nContent-Length: 0\r\n\r\n")
                .keep_alive
        );
    }

    #[test]
    fn lengths() {
        assert_eq!(
            head("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n").framing,
            Framing::Length(5)
        );
        for bad in ["5, 6", "-1", "", "0x10", "1 2", "99999999999999999999"] {
            assert_eq!(
                error(&format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n")),
                ProtocolError::ContentLength,
                "{bad:?}"
            );
        }
        assert_eq!(
            error("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            ProtocolError::ContentLength
        );
        assert_eq!(
            error("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ProtocolError::TransferEncoding
        );
    }

    proptest::proptest! {
        // The quick name match agrees with a case-insensitive comparison on any token,
        // including every casing of the three names it looks for.
        #[test]
        fn framing_names_match_case_insensitively(
            name in "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}",
            pick in 0usize..4,
            flips in proptest::collection::vec(proptest::prelude::any::<bool>(), 17),
        ) {
            let names = ["content-length", "transfer-encoding", "connection"];
            let name: String = match names.get(pick) {
                Some(n) => n.chars().zip(&flips).map(|(c, &f)| if f { c.to_ascii_uppercase() } else { c }).collect(),
                None => name,
            };
            let expected = names.iter().position(|n| name.eq_ignore_ascii_case(n));
            let got = framing_header(name.as_bytes()).map(|h| match h {
                FramingHeader::ContentLength => 0,
                FramingHeader::TransferEncoding => 1,
                FramingHeader::Connection => 2,
            });
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn partial_and_malformed_heads() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le", false, false)
            .expect("valid so far")
            .is_none());
        assert!(parse(b"", false, false).expect("valid so far").is_none());
        assert_eq!(error("HTTP/1.1 2000 OK\r\n\r\n"), ProtocolError::Head);
        assert_eq!(error("SMTP ready\r\n\r\n"), ProtocolError::Head);
        assert_eq!(
            error("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
            ProtocolError::Head
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        assert_eq!(
            error(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")),
            ProtocolError::TooManyHeaders(MAX_HEADERS)
        );
        let big = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD));
        assert_eq!(error(&big), ProtocolError::HeadTooLarge(MAX_HEAD));
    }
}
