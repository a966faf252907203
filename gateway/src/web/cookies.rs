//! Reading the `Cookie` header and writing `Set-Cookie` values. The session
//! cookie is `Secure; HttpOnly; SameSite=Lax`; the browser-binding cookie
//! must reach the ACS on the IdP's cross-site POST, hence `SameSite=None`
//! (which requires `Secure`) except on a plain-HTTP local demo.

use std::collections::BTreeMap;
use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::{HeaderValue, header, request::Parts};

/// The cookies of a request.
#[derive(Debug, Default, Clone)]
pub struct CookieJar(BTreeMap<String, String>);

impl CookieJar {
    /// A cookie's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CookieJar {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut cookies = BTreeMap::new();
        for value in parts.headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    cookies
                        .entry(name.to_owned())
                        .or_insert_with(|| value.to_owned());
                }
            }
        }
        Ok(Self(cookies))
    }
}

/// How a cookie crosses sites.
#[derive(Debug, Clone, Copy)]
pub enum SameSite {
    /// Sent on top-level navigations only.
    Lax,
    /// Sent on cross-site POSTs too (needs `Secure`).
    None,
}

/// A `Set-Cookie` value. `max_age` None: a browser-session cookie;
/// Some(0): deletion.
pub fn set_cookie(
    name: &str,
    value: &str,
    secure: bool,
    same_site: SameSite,
    max_age: Option<u64>,
) -> Option<HeaderValue> {
    let same_site = match (same_site, secure) {
        (SameSite::None, true) => "None",
        _ => "Lax",
    };
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if secure {
        text.push_str("; Secure");
    }
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_cookie_flags() {
        let cookie = set_cookie("sso_session", "abc", true, SameSite::Lax, None).unwrap();
        assert_eq!(
            cookie,
            "sso_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let deletion = set_cookie("sso_session", "", true, SameSite::Lax, Some(0)).unwrap();
        assert_eq!(
            deletion,
            "sso_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0"
        );
    }

    #[test]
    fn binding_cookie_crosses_sites_only_when_secure() {
        let secure = set_cookie("sso_browser", "t", true, SameSite::None, None).unwrap();
        assert_eq!(
            secure,
            "sso_browser=t; Path=/; HttpOnly; SameSite=None; Secure"
        );
        let demo = set_cookie("sso_browser", "t", false, SameSite::None, None).unwrap();
        assert_eq!(
            demo, "sso_browser=t; Path=/; HttpOnly; SameSite=Lax",
            "SameSite=None needs Secure"
        );
    }

    #[test]
    fn a_value_that_cannot_be_a_header_is_refused() {
        assert!(set_cookie("sso_session", "a\nb", true, SameSite::Lax, None).is_none());
    }
}
