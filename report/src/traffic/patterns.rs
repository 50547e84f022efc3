//! Endpoint patterns: a request's method and path with its IDs folded to `{id}` (numbers,
//! UUIDs, hex strings of 8 or more characters with a digit), and its query left out, so
//! `GET /users/42?x=1` and `GET /users/7` are one endpoint, `GET /users/{id}`.

/// What kind of ID a folded segment held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Number(u64),
    Uuid,
    /// Hex of this many characters.
    Hex(usize),
}

/// Which kind of ID `segment` is, if any.
pub fn id_kind(segment: &str) -> Option<IdKind> {
    let b = segment.as_bytes();
    if !b.is_empty() && b.len() <= 19 && b.iter().all(u8::is_ascii_digit) {
        return segment.parse().ok().map(IdKind::Number);
    }
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    if b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.split(|&c| c == b'-').all(hex)
    {
        return Some(IdKind::Uuid);
    }
    if b.len() >= 8 && hex(b) && b.iter().any(u8::is_ascii_digit) {
        return Some(IdKind::Hex(b.len()));
    }
    None
}

/// The path without its query or fragment.
pub fn path_only(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

/// `GET /users/{id}` for `GET /users/42?x=1`.
pub fn endpoint(method: &str, path: &str) -> String {
    let mut out = String::with_capacity(method.len() + path.len() + 1);
    out.push_str(method);
    out.push(' ');
    for (i, segment) in path_only(path).split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if id_kind(segment).is_some() {
            out.push_str("{id}");
        } else {
            out.push_str(segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_and_words_stay() {
        assert_eq!(endpoint("GET", "/users/42?x=1"), "GET /users/{id}");
        assert_eq!(
            endpoint(
                "GET",
                "/o/123e4567-e89b-12d3-a456-426614174000/items/5f2b9c1e"
            ),
            "GET /o/{id}/items/{id}"
        );
        assert_eq!(endpoint("POST", "/search"), "POST /search");
        // A word of hex letters only is a word.
        assert_eq!(endpoint("GET", "/facade/deadbeef"), "GET /facade/deadbeef");
        assert_eq!(endpoint("GET", "/"), "GET /");
    }
}
