//! The plan's base URL, parsed once: the scheme and authority every request goes to, the
//! path prefix request paths are joined onto, and the ready-made `Host` header value.

use super::VmError;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Uri};

#[derive(Debug, Clone)]
pub struct Target {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Path prefix without a trailing slash ("" for the root), prepended to every path.
    pub prefix: Vec<u8>,
    pub host: HeaderValue,
}

impl Target {
    pub fn parse(target: &str) -> Result<Target, VmError> {
        let bad = |reason: &str| VmError::InvalidTarget {
            target: target.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = target
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(bad("the scheme must be http or https"));
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        if authority.as_str().contains('@') {
            return Err(bad("user info is not supported"));
        }
        if uri.query().is_some() {
            return Err(bad("a query is not allowed in the target"));
        }
        let prefix = uri.path().trim_end_matches('/').as_bytes().to_vec();
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| bad("invalid host"))?;
        Ok(Target {
            scheme,
            authority,
            prefix,
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheme_authority_and_prefix() {
        let t = Target::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(t.scheme, Scheme::HTTP);
        assert_eq!(t.authority.as_str(), "127.0.0.1:8080");
        assert_eq!(t.prefix, b"");
        assert_eq!(t.host, "127.0.0.1:8080");

        let t = Target::parse("https://api.example.com/v2/").expect("valid");
        assert_eq!(t.scheme, Scheme::HTTPS);
        assert_eq!(t.prefix, b"/v2");
        assert_eq!(t.host, "api.example.com");
    }

    #[test]
    fn rejects_what_cannot_be_a_base_url() {
        for bad in [
            "",
            "127.0.0.1:8080",
            "/just/a/path",
            "ftp://host/",
            "http://host/?q=1",
            "http://user@host/",
            "http://ho st/",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(VmError::InvalidTarget { .. })),
                "{bad:?} should be rejected"
            );
        }
    }
}
