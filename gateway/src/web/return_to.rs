//! Coming back to a gateway page after a login that no downstream service
//! started (issue 8: a steering user opens `/pilotage`, logs in through the
//! discovery page and their upstream IdP, and lands back on `/pilotage`).
//!
//! Open redirects are a security rule (OWASP "Unvalidated Redirects and
//! Forwards"; OAuth 2.0 security BCP §4.11): the page to come back to is
//! never a URL taken from the request. `GET /login?retour=<path>` accepts
//! only a path of [`PAGES`], compared exactly (no scheme, host, `//`,
//! query or prefix match), and remembers it in a short-lived cookie
//! ([`RETURN_COOKIE`], which must survive the IdP's cross-site POST, hence
//! `SameSite=None` like the browser binding); anything else is ignored and
//! the login ends on the home page as before. After the login the cookie's
//! value is checked against the same list again (a cookie can be planted)
//! and the cookie is deleted.

use axum::http::HeaderValue;

use super::CookieJar;
use super::cookies::{SameSite, set_cookie};
use crate::state::AppState;

/// The cookie remembering the page to come back to.
pub const RETURN_COOKIE: &str = "sso_retour";

/// The gateway pages a login may come back to.
pub const PAGES: &[&str] = &["/pilotage", "/pilotage/moi"];

/// The page of [`PAGES`] that `requested` names exactly, if any.
pub fn known(requested: &str) -> Option<&'static str> {
    PAGES.iter().copied().find(|page| *page == requested)
}

/// The `Set-Cookie` remembering `requested` until the login ends, or `None`
/// when it is not a known page (it is then ignored).
pub fn remember(state: &AppState, requested: &str) -> Option<HeaderValue> {
    let Some(page) = known(requested) else {
        tracing::warn!(
            length = requested.len(),
            "return path after login refused: not a known gateway page"
        );
        return None;
    };
    set_cookie(
        RETURN_COOKIE,
        page,
        state.config.session.secure_cookies,
        SameSite::None,
        Some(state.config.session.flow_timeout_seconds),
    )
}

/// Where a login without a downstream service ends: the remembered page
/// when it is known, the home page otherwise.
pub fn landing(jar: &CookieJar) -> &'static str {
    jar.get(RETURN_COOKIE).and_then(known).unwrap_or("/")
}

/// The deletion of the return cookie, when the browser sent one.
pub fn forget(state: &AppState, jar: &CookieJar) -> Option<HeaderValue> {
    jar.get(RETURN_COOKIE)?;
    set_cookie(
        RETURN_COOKIE,
        "",
        state.config.session.secure_cookies,
        SameSite::None,
        Some(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_pages_are_accepted() {
        assert_eq!(known("/pilotage"), Some("/pilotage"), "positive control");
        assert_eq!(known("/pilotage/moi"), Some("/pilotage/moi"));
        for refused in [
            "https://evil.example/pilotage",
            "//evil.example/pilotage",
            "/\\evil.example",
            "/pilotage?x=https://evil.example",
            "/pilotage/../admin/api/registry",
            "/pilotage/",
            "/pilotagex",
            "/admin/api/registry",
            "/",
            "",
            "pilotage",
        ] {
            assert_eq!(known(refused), None, "{refused:?}");
        }
    }
}
