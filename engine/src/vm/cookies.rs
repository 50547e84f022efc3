//! The per-iteration cookie jar of scenarios with `cookies on`: `Set-Cookie` name=value pairs
//! replayed as one `Cookie` header. A single target is assumed, so Domain and Path are ignored;
//! `Max-Age=0` (or a past-style empty value) removes a cookie.

use super::iteration::Iteration;
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};

/// Records the cookies a response sets.
pub(crate) fn store(it: &mut Iteration, headers: &HeaderMap) {
    for v in headers.get_all(SET_COOKIE) {
        let raw = v.as_bytes();
        let mut attrs = raw.split(|&b| b == b';');
        let Some(pair) = attrs.next() else { continue };
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = pair[..eq].trim_ascii();
        let value = pair[eq + 1..].trim_ascii();
        if name.is_empty() {
            continue;
        }
        let expired = attrs.any(|a| {
            let a = a.trim_ascii();
            a.len() > 8
                && a[..8].eq_ignore_ascii_case(b"max-age=")
                && std::str::from_utf8(&a[8..])
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .is_some_and(|n| n <= 0)
        });
        let existing = it.cookies.iter().position(|(n, _)| n == name);
        match (existing, expired || value.is_empty()) {
            (Some(i), true) => {
                it.cookies.remove(i);
            }
            (Some(i), false) => {
                it.cookies[i].1.clear();
                it.cookies[i].1.extend_from_slice(value);
            }
            (None, true) => {}
            (None, false) => it.cookies.push((name.to_vec(), value.to_vec())),
        }
    }
}

/// Whether the jar's cookies make a valid `Cookie` value.
pub(crate) fn jar_is_valid(it: &Iteration) -> bool {
    let ok = |b: &[u8]| b.iter().all(|&c| c >= 32 && c != 127 || c == b'\t');
    it.cookies.iter().all(|(n, v)| ok(n) && ok(v))
}

/// Appends the `Cookie` value (`a=1; b=2`) for the next request.
pub(crate) fn write_value(it: &Iteration, out: &mut Vec<u8>) {
    for (i, (n, v)) in it.cookies.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"; ");
        }
        out.extend_from_slice(n);
        out.push(b'=');
        out.extend_from_slice(v);
    }
}

/// The `Cookie` header for the next request, if the jar holds anything.
pub(crate) fn header_value(it: &Iteration) -> Option<HeaderValue> {
    if it.cookies.is_empty() {
        return None;
    }
    let len: usize = it.cookies.iter().map(|(n, v)| n.len() + v.len() + 3).sum();
    let mut out = Vec::with_capacity(len);
    write_value(it, &mut out);
    HeaderValue::from_maybe_shared(bytes::Bytes::from(out)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jar(set_cookies: &[&str]) -> Iteration {
        let mut it = Iteration::default();
        let mut h = HeaderMap::new();
        for c in set_cookies {
            h.append(SET_COOKIE, HeaderValue::from_str(c).expect("valid header"));
        }
        store(&mut it, &h);
        it
    }

    #[test]
    fn replays_name_value_pairs() {
        let it = jar(&["sid=abc; Path=/; HttpOnly", "theme = dark", "broken"]);
        assert_eq!(
            header_value(&it).expect("a cookie header"),
            "sid=abc; theme=dark"
        );
    }

    #[test]
    fn later_values_replace_and_max_age_zero_removes() {
        let mut it = jar(&["sid=abc", "cart=1"]);
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("sid=def"));
        h.append(SET_COOKIE, HeaderValue::from_static("cart=1; Max-Age=0"));
        store(&mut it, &h);
        assert_eq!(header_value(&it).expect("a cookie header"), "sid=def");
        let empty = jar(&[]);
        assert!(header_value(&empty).is_none());
    }

    #[test]
    fn positive_max_age_keeps_the_cookie() {
        let it = jar(&["a=1; Max-Age=3600", "b=2; max-age=10"]);
        assert_eq!(header_value(&it).expect("a cookie header"), "a=1; b=2");
    }
}
