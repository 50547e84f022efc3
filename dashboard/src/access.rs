//! Who may do what: an operator token may look and control, a viewer token may only look;
//! looking may be left open. A token comes as `Authorization: Bearer …`, as the `ptl_token`
//! cookie (set when the page is opened with `?token=…`, so the page's own requests and its
//! event stream carry it), or as a `token` query parameter. Handlers ask through two
//! extractors: [`Caller`] (what the request's token allows) and [`Viewer`] (401 unless it may
//! look).

use crate::reply;
use axum::extract::{FromRef, FromRequestParts};
use axum::response::Response;
use http::header::{AUTHORIZATION, COOKIE};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;

/// The cookie the page's requests carry the token in.
pub const COOKIE_NAME: &str = "ptl_token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Viewer,
    Operator,
}

#[derive(Debug, Clone, Default)]
pub struct Access {
    /// May control (stop, pause, resume) and look.
    pub operator_token: Option<String>,
    /// May only look.
    pub viewer_token: Option<String>,
    /// Anyone may look (control still needs the operator token).
    pub open_view: bool,
}

impl Access {
    /// The role a presented token grants, if any.
    pub fn role(&self, presented: Option<&str>) -> Option<Role> {
        let presented = presented?;
        if matches(self.operator_token.as_deref(), presented) {
            Some(Role::Operator)
        } else if matches(self.viewer_token.as_deref(), presented) {
            Some(Role::Viewer)
        } else {
            None
        }
    }

    /// Looking is open when asked for, or when no token was configured at all.
    pub fn may_view(&self, presented: Option<&str>) -> bool {
        self.open_view
            || (self.operator_token.is_none() && self.viewer_token.is_none())
            || self.role(presented).is_some()
    }

    /// Control always needs the operator token; without one configured, nobody may.
    pub fn may_control(&self, presented: Option<&str>) -> bool {
        self.role(presented) == Some(Role::Operator)
    }
}

/// Compares in time independent of where the first difference is, so response times do not
/// reveal how much of a guessed token was right.
fn matches(expected: Option<&str>, presented: &str) -> bool {
    let Some(expected) = expected.filter(|e| !e.is_empty()) else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The token a request carries: the header first, then the query, then the cookie.
pub fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = value.strip_prefix("Bearer ") {
            return Some(token.trim().to_string());
        }
    }
    if let Some(token) = query_token(query) {
        return Some(token);
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

pub fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Who sent a request: the token it carries, and what that token allows.
pub struct Caller {
    access: Arc<Access>,
    token: Option<String>,
}

impl Caller {
    pub fn may_view(&self) -> bool {
        self.access.may_view(self.token.as_deref())
    }

    pub fn may_control(&self) -> bool {
        self.access.may_control(self.token.as_deref())
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Arc<Access>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller {
            access: Arc::from_ref(state),
            token: presented_token(&parts.headers, parts.uri.query()),
        })
    }
}

/// A caller that may look; anyone else is answered 401.
pub struct Viewer;

impl<S> FromRequestParts<S> for Viewer
where
    Arc<Access>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await {
            Ok(caller) if caller.may_view() => Ok(Viewer),
            _ => Err(denied()),
        }
    }
}

/// The answer to looking without a viewer or operator token.
pub fn denied() -> Response {
    reply::error(
        StatusCode::UNAUTHORIZED,
        "a viewer or operator token is needed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn access() -> Access {
        Access {
            operator_token: Some("op-secret".into()),
            viewer_token: Some("view-secret".into()),
            open_view: false,
        }
    }

    #[test]
    fn roles_follow_the_tokens() {
        let a = access();
        assert_eq!(a.role(Some("op-secret")), Some(Role::Operator));
        assert_eq!(a.role(Some("view-secret")), Some(Role::Viewer));
        assert_eq!(a.role(Some("op-secre")), None);
        assert_eq!(a.role(Some("op-secretx")), None);
        assert_eq!(a.role(None), None);
        assert!(a.may_control(Some("op-secret")));
        assert!(!a.may_control(Some("view-secret")));
        assert!(a.may_view(Some("view-secret")));
        assert!(!a.may_view(None));
        assert!(!a.may_view(Some("nope")));
    }

    #[test]
    fn open_view_opens_looking_only() {
        let a = Access {
            open_view: true,
            ..access()
        };
        assert!(a.may_view(None));
        assert!(!a.may_control(None));
        assert!(!a.may_control(Some("view-secret")));
    }

    #[test]
    fn without_tokens_anyone_looks_and_nobody_controls() {
        let a = Access::default();
        assert!(a.may_view(None));
        assert!(!a.may_control(None));
        assert!(!a.may_control(Some("")));
    }

    #[test]
    fn tokens_are_read_from_header_query_and_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(
            presented_token(&h, Some("token=q%2F1&x=2")),
            Some("q/1".into())
        );
        h.insert(COOKIE, HeaderValue::from_static("a=b; ptl_token=c1"));
        assert_eq!(presented_token(&h, None), Some("c1".into()));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer h1"));
        assert_eq!(presented_token(&h, Some("token=q")), Some("h1".into()));
    }
}
