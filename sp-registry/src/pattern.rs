//! URLs registered in a service file: the service URL patterns of CAS
//! services (CAS 3.0 protocol §2.2.1 and §2.5.1: the `service` parameter,
//! which the server checks against the services it knows before it issues
//! or validates a ticket) and the exact URLs of OpenID Connect clients
//! (OpenID Connect Core 1.0 §3.1.2.1: a `redirect_uri` is compared with the
//! registered ones by simple string comparison).
//!
//! Rules every registered URL follows: absolute, `https://` (`http://` only
//! for the hosts `localhost` and `127.0.0.1`, for the demo and tests), a
//! host, no user information, no fragment, no space or control character.
//!
//! A [`ServicePattern`] adds: the scheme, host and port are literal (a `*`
//! there is refused) and the path has no `.` or `..` segment; each `*` of
//! the path matches any run of characters except `?` and `#`, each `*` of
//! the query any run of characters; every other character is literal. The
//! matcher is a hand-written glob, not a regex: the pattern, once
//! normalised by the `url` crate (WHATWG URL parsing: scheme and host in
//! lower case, default port removed), is cut at its first `?` into a path
//! glob and an optional query glob, each a list of literal pieces that the
//! `*`s separate. A candidate URL is parsed the same way (refused when it
//! does not parse, carries user information or a fragment, or holds a space
//! or control character), which resolves its dot segments, and is cut at
//! its first `?` likewise (no `?` can precede the query in a serialised
//! URL); both parts must match, anchored at both ends, and a pattern without
//! a query only matches URLs without one.

use url::Url;

/// Hosts that may be reached over plain `http://` (demo and tests).
const LOCAL_HOSTS: &[&str] = &["localhost", "127.0.0.1"];

/// Why a URL of a service file is refused (rules shared by service patterns
/// and registered URIs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// A space or an ASCII control character.
    #[error("it contains a space or a control character")]
    Whitespace,
    /// A scheme other than `https` (or `http`).
    #[error("it must start with https:// (http:// only for localhost or 127.0.0.1)")]
    UnsupportedScheme,
    /// Nothing between `://` and the path.
    #[error("it has no host")]
    MissingHost,
    /// `user@` or `user:password@` before the host.
    #[error("it must not contain user information (user@ or user:password@)")]
    Userinfo,
    /// A `#fragment`.
    #[error("it must not contain a fragment (#...)")]
    Fragment,
    /// `http://` to a host other than `localhost` or `127.0.0.1`.
    #[error("http:// is only allowed for localhost and 127.0.0.1, not {0:?}: use https://")]
    HttpNotLocal(String),
    /// The URL parser refuses it.
    #[error("it is not a valid URL: {0}")]
    Invalid(#[source] url::ParseError),
}

/// Why a service URL pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A rule every registered URL follows.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A `*` in the scheme, host or port, which must be literal.
    #[error("`*` is only allowed in the path and the query, never in the scheme, host or port")]
    WildcardInOrigin,
    /// A `.` or `..` path segment (the parser would resolve it, so that the
    /// pattern would not mean what it says).
    #[error("the path must not contain `.` or `..` segments")]
    DotSegment,
}

/// Why a registered URI (OpenID Connect redirect URIs, logout URLs) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// A rule every registered URL follows.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A `*`: these URIs are compared exactly, a wildcard would be literal.
    #[error("it must not contain `*`: URIs are compared exactly, without wildcards")]
    Wildcard,
}

/// A service URL pattern of a CAS service, e.g.
/// `https://cas-res.example.fr/app/*` (matching rules in the module
/// documentation).
#[derive(Debug, Clone)]
pub struct ServicePattern {
    /// The pattern as written.
    text: String,
    /// The pattern as the URL parser serialises it.
    normalized: String,
    /// `scheme://host[:port]`, as [`url::Origin::ascii_serialization`] gives it.
    origin: String,
    /// Literal pieces of the part before the query, separated by `*`.
    path: Vec<String>,
    /// Literal pieces of the query (without `?`), separated by `*`; `None`
    /// when the pattern has no query.
    query: Option<Vec<String>>,
}

impl ServicePattern {
    /// Parses and checks a pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let parts = RawParts::split(text)?;
        if parts.authority.contains('*') {
            return Err(PatternError::WildcardInOrigin);
        }
        if has_dot_segment(parts.path) {
            return Err(PatternError::DotSegment);
        }
        let url = parse_checked(text, &parts)?;
        let normalized = url.as_str().to_owned();
        let (path, query) = match normalized.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (normalized.as_str(), None),
        };
        Ok(Self {
            text: text.to_owned(),
            origin: url.origin().ascii_serialization(),
            path: glob(path),
            query: query.map(glob),
            normalized,
        })
    }

    /// Whether `url` matches the pattern (module documentation). A URL that
    /// does not parse, or has user information, a fragment, a space or a
    /// control character, matches nothing.
    pub fn matches(&self, url: &str) -> bool {
        parse_candidate(url).is_some_and(|candidate| self.matches_parsed(&candidate))
    }

    /// The pattern as written in the service file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The pattern as the URL parser serialises it: two patterns with the
    /// same normalised form match the same URLs.
    pub(crate) fn normalized(&self) -> &str {
        &self.normalized
    }

    /// `scheme://host[:port]` of the URLs the pattern can match.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether the pattern only matches `https://` URLs.
    pub(crate) fn is_https(&self) -> bool {
        self.normalized.starts_with("https://")
    }

    /// [`ServicePattern::matches`] for a candidate already parsed by
    /// [`parse_candidate`].
    pub(crate) fn matches_parsed(&self, candidate: &Url) -> bool {
        let (path, query) = match candidate.as_str().split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (candidate.as_str(), None),
        };
        if !glob_matches(&self.path, path) {
            return false;
        }
        match (&self.query, query) {
            (None, None) => true,
            (Some(pieces), Some(query)) => glob_matches(pieces, query),
            (None, Some(_)) | (Some(_), None) => false,
        }
    }
}

/// A candidate service URL, parsed; `None` when it must match nothing: it
/// does not parse, or it has user information, a fragment, a space or a
/// control character.
pub(crate) fn parse_candidate(url: &str) -> Option<Url> {
    if has_whitespace(url) {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    let clean =
        parsed.username().is_empty() && parsed.password().is_none() && parsed.fragment().is_none();
    clean.then_some(parsed)
}

/// Checks a URI registered for exact comparison (redirect URIs, logout
/// URLs): the shared rules and no `*`. The URI is kept as written.
pub(crate) fn check_uri(text: &str) -> Result<(), UriError> {
    let parts = RawParts::split(text)?;
    if text.contains('*') {
        return Err(UriError::Wildcard);
    }
    parse_checked(text, &parts)?;
    Ok(())
}

/// A URL's text cut before parsing, so that the rules apply to what was
/// written (the parser forgives a lot: `https:host`, `https:///host`, `\`).
struct RawParts<'a> {
    /// Between `://` and the first `/`, `\`, `?` or `#`.
    authority: &'a str,
    /// From there to the first `?` or `#`.
    path: &'a str,
}

impl<'a> RawParts<'a> {
    fn split(text: &'a str) -> Result<Self, UrlError> {
        if has_whitespace(text) {
            return Err(UrlError::Whitespace);
        }
        let (scheme, rest) = text.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return Err(UrlError::UnsupportedScheme);
        }
        if text.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '\\', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.is_empty() {
            return Err(UrlError::MissingHost);
        }
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let path_end = after.find('?').unwrap_or(after.len());
        let (path, _) = after.split_at(path_end);
        Ok(Self { authority, path })
    }
}

/// Parses a URL whose raw parts passed [`RawParts::split`] and applies the
/// rules on the parsed form.
fn parse_checked(text: &str, parts: &RawParts<'_>) -> Result<Url, UrlError> {
    let url = Url::parse(text).map_err(UrlError::Invalid)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Userinfo);
    }
    let host = url.host_str().ok_or(UrlError::MissingHost)?;
    if url.scheme() == "http" && !LOCAL_HOSTS.contains(&host) {
        return Err(UrlError::HttpNotLocal(parts.authority.to_owned()));
    }
    Ok(url)
}

fn has_whitespace(text: &str) -> bool {
    text.bytes().any(|b| b == b' ' || b.is_ascii_control())
}

/// Whether a raw path has a segment that URL parsing resolves (`.`, `..`,
/// or their percent-encoded forms).
fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\']).any(|segment| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

/// The literal pieces of a glob, around its `*`s (one more piece than stars).
fn glob(text: &str) -> Vec<String> {
    text.split('*').map(str::to_owned).collect()
}

/// Whether `text` matches the glob `pieces` as a whole: the first piece is a
/// prefix, the last a suffix, and the others appear in order between them
/// (leftmost occurrences suffice, `*` having no other constraint).
fn glob_matches(pieces: &[String], text: &str) -> bool {
    match pieces {
        [] => text.is_empty(),
        [only] => text == only,
        [first, middle @ .., last] => {
            let Some(rest) = text.strip_prefix(first.as_str()) else {
                return false;
            };
            let Some(mut rest) = rest.strip_suffix(last.as_str()) else {
                return false;
            };
            for piece in middle {
                let Some(at) = rest.find(piece.as_str()) else {
                    return false;
                };
                rest = rest.get(at + piece.len()..).unwrap_or_default();
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> ServicePattern {
        ServicePattern::parse(text).unwrap()
    }

    #[test]
    fn exact_pattern_matches_itself_and_its_normal_forms() {
        let login = pattern("https://cas-res.example.fr/login");
        assert!(login.matches("https://cas-res.example.fr/login"));
        assert!(login.matches("HTTPS://Cas-Res.example.fr:443/login"));
        assert!(login.matches("https://cas-res.example.fr/app/../login"));
        assert_eq!(login.as_str(), "https://cas-res.example.fr/login");
        assert_eq!(login.origin(), "https://cas-res.example.fr");
        assert!(login.is_https());
    }

    #[test]
    fn look_alike_urls_do_not_match() {
        let login = pattern("https://cas-res.example.fr/login");
        assert!(login.matches("https://cas-res.example.fr/login"));
        for url in [
            "https://cas-res.example.fr.evil.example/login",
            "https://cas-res.example.fr@evil.example/",
            "https://cas-res.example.fr@evil.example/login",
            "https://user:pw@cas-res.example.fr/login",
            "https://cas-resXexample.fr/login",
            "http://cas-res.example.fr/login",
            "https://cas-res.example.fr/login/../admin",
            "https://cas-res.example.fr/login#frag",
            "https://cas-res.example.fr/login#",
            "https://cas-res.example.fr/login/",
            "https://cas-res.example.fr/Login",
            "https://cas-res.example.fr/loginx",
            "https://cas-res.example.fr/login?x=1",
            " https://cas-res.example.fr/login",
            "https://cas-res.example.fr/lo\tgin",
            "https://cas-res.example.fr/lo\ngin",
            "cas-res.example.fr/login",
            "not a url",
            "",
        ] {
            assert!(!login.matches(url), "{url}");
        }
    }

    #[test]
    fn path_wildcard_stays_in_the_path() {
        let app = pattern("https://cas-res.example.fr/app/*");
        assert!(app.matches("https://cas-res.example.fr/app/"));
        assert!(app.matches("https://cas-res.example.fr/app/x/y.html"));
        assert!(!app.matches("https://cas-res.example.fr/app"));
        assert!(!app.matches("https://cas-res.example.fr/app/x?next=/"));
        assert!(!app.matches("https://cas-res.example.fr/app/x#y"));
        assert!(!app.matches("https://cas-res.example.fr/app/../admin"));
        assert!(!app.matches("https://cas-res.example.fr/app/%2e%2e/admin"));
        assert!(!app.matches("https://cas-res.example.fr/application"));
        assert!(!app.matches("https://cas-res.example.fr:8443/app/x"));
    }

    #[test]
    fn several_wildcards_in_order() {
        let p = pattern("https://x.example.fr/a*/b*/c");
        assert!(p.matches("https://x.example.fr/a/b/c"));
        assert!(p.matches("https://x.example.fr/a1/b2/x/c"));
        assert!(!p.matches("https://x.example.fr/a1/c"));
        assert!(!p.matches("https://x.example.fr/a/b/c/d"));
        // The last piece is a suffix that does not overlap the first.
        let overlap = pattern("https://x.example.fr/ab*ba");
        assert!(overlap.matches("https://x.example.fr/abba"));
        assert!(!overlap.matches("https://x.example.fr/aba"));
    }

    #[test]
    fn query_handling() {
        let no_query = pattern("https://x.example.fr/login");
        assert!(no_query.matches("https://x.example.fr/login"));
        assert!(!no_query.matches("https://x.example.fr/login?"));
        assert!(!no_query.matches("https://x.example.fr/login?a=1"));

        let any_query = pattern("https://x.example.fr/login?*");
        assert!(any_query.matches("https://x.example.fr/login?"));
        assert!(any_query.matches("https://x.example.fr/login?next=/a?b&c=*"));
        assert!(!any_query.matches("https://x.example.fr/login"));
        assert!(!any_query.matches("https://x.example.fr/login?a#b"));

        let fixed = pattern("https://x.example.fr/login?app=ent&next=*");
        assert!(fixed.matches("https://x.example.fr/login?app=ent&next="));
        assert!(fixed.matches("https://x.example.fr/login?app=ent&next=/a/b?c"));
        assert!(!fixed.matches("https://x.example.fr/login?next=/&app=ent"));
        assert!(!fixed.matches("https://x.example.fr/login?app=ent2&next=/"));

        // A path `*` never reaches into the query.
        let path_star = pattern("https://x.example.fr/*?a=1");
        assert!(path_star.matches("https://x.example.fr/p/q?a=1"));
        assert!(!path_star.matches("https://x.example.fr/p?x?a=1"));
    }

    #[test]
    fn port_handling() {
        let default = pattern("https://x.example.fr:443/login");
        assert_eq!(default.normalized(), "https://x.example.fr/login");
        assert!(default.matches("https://x.example.fr/login"));
        assert!(default.matches("https://x.example.fr:443/login"));
        assert!(!default.matches("https://x.example.fr:8443/login"));

        let other = pattern("https://x.example.fr:8443/login");
        assert_eq!(other.origin(), "https://x.example.fr:8443");
        assert!(other.matches("https://x.example.fr:8443/login"));
        assert!(!other.matches("https://x.example.fr/login"));
        assert!(!other.matches("https://x.example.fr:443/login"));
        assert!(!other.matches("https://x.example.fr:84430/login"));
    }

    #[test]
    fn dots_and_other_characters_are_literal() {
        let p = pattern("https://x.example.fr/a.b+c(d)[e]$^|{f}\\/*");
        assert!(p.matches("https://x.example.fr/a.b+c(d)[e]$^|{f}//z"));
        assert!(!p.matches("https://x.example.fr/aXb+c(d)[e]$^|{f}//z"));
        assert!(!p.matches("https://x.example.fr/abbbc(d)[e]$^|{f}//z"));
    }

    #[test]
    fn http_only_for_local_hosts() {
        for local in [
            "http://localhost:8080/app/*",
            "http://127.0.0.1/login",
            "http://LOCALHOST/login",
        ] {
            let p = pattern(local);
            assert!(!p.is_https(), "{local}");
        }
        assert!(pattern("http://localhost:8080/app/*").matches("http://localhost:8080/app/x"));
        assert_eq!(
            ServicePattern::parse("http://cas-res.example.fr/login").unwrap_err(),
            PatternError::Url(UrlError::HttpNotLocal("cas-res.example.fr".into()))
        );
        assert_eq!(
            ServicePattern::parse("http://localhost.example.fr/login").unwrap_err(),
            PatternError::Url(UrlError::HttpNotLocal("localhost.example.fr".into()))
        );
    }

    #[test]
    fn refused_patterns() {
        assert!(ServicePattern::parse("https://x.example.fr/app/*?*").is_ok());
        let refused = [
            ("https://*.example.fr/login", PatternError::WildcardInOrigin),
            ("https://x.example.*/login", PatternError::WildcardInOrigin),
            (
                "https://x.example.fr:*/login",
                PatternError::WildcardInOrigin,
            ),
            ("https://x.example.fr*", PatternError::WildcardInOrigin),
            ("http*://x.example.fr/", UrlError::UnsupportedScheme.into()),
            ("ftp://x.example.fr/", UrlError::UnsupportedScheme.into()),
            ("https:x.example.fr/", UrlError::UnsupportedScheme.into()),
            ("x.example.fr/login", UrlError::UnsupportedScheme.into()),
            ("https:///x.example.fr/", UrlError::MissingHost.into()),
            ("https://u@x.example.fr/", UrlError::Userinfo.into()),
            ("https://u:p@x.example.fr/", UrlError::Userinfo.into()),
            ("https://x.example.fr/a#*", UrlError::Fragment.into()),
            ("https://x.example.fr/a b", UrlError::Whitespace.into()),
            (" https://x.example.fr/", UrlError::Whitespace.into()),
            ("https://x.example.fr/a/../*", PatternError::DotSegment),
            ("https://x.example.fr/./a", PatternError::DotSegment),
            ("https://x.example.fr/%2E%2e/a", PatternError::DotSegment),
            ("https://x.example.fr\\..\\a", PatternError::DotSegment),
        ];
        for (text, expected) in refused {
            assert_eq!(ServicePattern::parse(text).unwrap_err(), expected, "{text}");
        }
        assert!(matches!(
            ServicePattern::parse("https://x.example.fr:99999/"),
            Err(PatternError::Url(UrlError::Invalid(_)))
        ));
    }

    #[test]
    fn registered_uris() {
        assert_eq!(check_uri("https://ent.example.fr/cb?x=1"), Ok(()));
        assert_eq!(check_uri("http://127.0.0.1:9000/cb"), Ok(()));
        assert_eq!(
            check_uri("https://ent.example.fr/*"),
            Err(UriError::Wildcard)
        );
        assert_eq!(
            check_uri("https://ent.example.fr/cb#x"),
            Err(UrlError::Fragment.into())
        );
        assert_eq!(
            check_uri("http://ent.example.fr/cb"),
            Err(UrlError::HttpNotLocal("ent.example.fr".into()).into())
        );
        assert_eq!(
            check_uri("/relative/cb"),
            Err(UrlError::UnsupportedScheme.into())
        );
    }
}
