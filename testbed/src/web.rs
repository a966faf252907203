//! Small HTTP helpers shared by the simulators: browser cookies scoped to one
//! simulator's path, and in-memory maps whose entries expire (pending requests,
//! sessions). The simulators keep all their state in memory, as the demo runs
//! in one process.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// Most entries an [`Expiring`] map keeps: the oldest go first beyond that.
const MAX_ENTRIES: usize = 10_000;

/// The value of the cookie `name` sent by the browser, if any.
pub(crate) fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, scoped to `path`, session-long.
pub(crate) fn set_cookie(name: &str, value: &str, path: &str) -> String {
    format!("{name}={value}; Path={path}; HttpOnly")
}

/// A `Set-Cookie` value that deletes the cookie.
pub(crate) fn clear_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; HttpOnly; Max-Age=0")
}

/// The path of `base_url` (`/testbed/ent` for `http://host/testbed/ent`), used
/// as cookie path so that simulators on one host keep separate cookies.
pub(crate) fn cookie_path(base_url: &str) -> String {
    let path = url::Url::parse(base_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let cleaned: String = path
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != ';' && *c != ',')
        .collect();
    if cleaned.is_empty() {
        "/".to_owned()
    } else {
        cleaned
    }
}

/// A `303 See Other` to `location`, setting the given cookies.
pub(crate) fn redirect(location: String, cookies: Vec<String>) -> Response {
    let mut headers = vec![(LOCATION, location)];
    headers.extend(cookies.into_iter().map(|c| (SET_COOKIE, c)));
    (StatusCode::SEE_OTHER, AppendHeaders(headers)).into_response()
}

/// A fresh unguessable token (256 bits from the operating system's CSPRNG
/// through `rand`'s thread generator), base64url without padding: 43
/// characters, all of them URL-safe (OAuth codes, access tokens, `state`,
/// `nonce`, PKCE verifiers, cookie values).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Locks a mutex, recovering the data if another thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds a `Server-Timing` entry (W3C Server Timing) naming a call this
/// simulator made to the gateway while answering, e.g.
/// `gateway;desc="GET /cas/p3/serviceValidate";dur=1.234`: the load
/// generator times the gateway's server-to-server steps this way, which
/// no browser sees.
pub(crate) fn with_gateway_timing(
    mut response: Response,
    step: &str,
    took: std::time::Duration,
) -> Response {
    let entry = format!(
        "gateway;desc=\"{}\";dur={:.3}",
        step.replace(['"', '\\'], ""),
        took.as_secs_f64() * 1000.0
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&entry) {
        response
            .headers_mut()
            .append(axum::http::HeaderName::from_static("server-timing"), value);
    }
    response
}

/// A map whose entries expire `ttl` after insertion.
pub(crate) struct Expiring<V> {
    ttl: Duration,
    entries: HashMap<String, (Instant, V)>,
}

impl<V> Expiring<V> {
    /// An empty map.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: HashMap::new(),
        }
    }

    fn prune(&mut self) {
        let now = Instant::now();
        self.entries.retain(|_, (expires, _)| *expires > now);
        while self.entries.len() >= MAX_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (expires, _))| *expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
    }

    /// Inserts or replaces an entry, with a fresh expiry.
    pub(crate) fn insert(&mut self, key: String, value: V) {
        self.prune();
        self.entries.insert(key, (Instant::now() + self.ttl, value));
    }

    /// The live entry under `key`, or a new default one; either way its expiry
    /// starts again from now.
    pub(crate) fn refresh_or_default(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let now = Instant::now();
        let live = matches!(self.entries.get(key), Some((expires, _)) if *expires > now);
        if !live {
            self.prune();
            self.entries.remove(key);
        }
        let entry = self
            .entries
            .entry(key.to_owned())
            .or_insert_with(|| (now, V::default()));
        entry.0 = now + self.ttl;
        &mut entry.1
    }

    /// The live entry under `key`.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let now = Instant::now();
        match self.entries.get_mut(key) {
            Some((expires, value)) if *expires > now => Some(value),
            _ => None,
        }
    }

    /// Removes and returns the live entry under `key` (a one-time use).
    pub(crate) fn take(&mut self, key: &str) -> Option<V> {
        let now = Instant::now();
        match self.entries.remove(key) {
            Some((expires, value)) if expires > now => Some(value),
            _ => None,
        }
    }

    /// Removes every entry for which `pred` holds; returns how many.
    pub(crate) fn remove_where(&mut self, pred: impl Fn(&V) -> bool) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, (_, v)| !pred(v));
        before - self.entries.len()
    }

    /// Number of live entries.
    pub(crate) fn live(&self) -> usize {
        let now = Instant::now();
        self.entries.values().filter(|(e, _)| *e > now).count()
    }
}

/// The client a simulator calls the gateway with, server to server: no
/// redirect followed, 5 s timeout.
pub(crate) fn back_channel_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn reads_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; testbed_sp=_abc; b=2"),
        );
        assert_eq!(read_cookie(&h, "testbed_sp").as_deref(), Some("_abc"));
        assert_eq!(read_cookie(&h, "testbed"), None);
    }

    #[test]
    fn random_tokens_are_url_safe_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn cookie_path_is_the_base_path() {
        assert_eq!(
            cookie_path("http://127.0.0.1:8080/testbed/ent"),
            "/testbed/ent"
        );
        assert_eq!(
            cookie_path("http://127.0.0.1:8080/testbed/ent/"),
            "/testbed/ent"
        );
        assert_eq!(cookie_path("http://127.0.0.1:8080"), "/");
        assert_eq!(cookie_path("not a url"), "/");
    }

    #[test]
    fn entries_are_taken_once_and_expire() {
        let mut m = Expiring::new(Duration::from_secs(60));
        m.insert("k".into(), 1);
        assert_eq!(m.live(), 1);
        assert_eq!(m.take("k"), Some(1));
        assert_eq!(m.take("k"), None);
        *m.refresh_or_default("f") += 2;
        *m.refresh_or_default("f") += 3;
        assert_eq!(m.take("f"), Some(5));
        let mut gone = Expiring::new(Duration::ZERO);
        gone.insert("k".into(), 1);
        assert_eq!(gone.take("k"), None);
        assert_eq!(gone.live(), 0);
        *gone.refresh_or_default("f") += 1;
        assert_eq!(
            *gone.refresh_or_default("f"),
            0,
            "an expired entry starts afresh"
        );
    }
}
