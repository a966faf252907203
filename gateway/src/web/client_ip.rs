//! Who the client is (issue 7, "Overload and abuse": `X-Forwarded-For`
//! trusted only from configured proxies). The client IP is the TCP peer,
//! unless the peer is one of `[server] trusted_proxies`: then it is the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy
//! (each proxy appends the address it received the request from, so entries
//! on the left of the first untrusted one could have been written by the
//! client). A malformed header, or none, leaves the peer. Every rate limit,
//! failure counter and log of the gateway uses this one address.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use toml::Spanned;

use crate::state::AppState;

/// The client's address, as [`TrustedProxies::client_ip`] resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// `[server] trusted_proxies`: the reverse proxies whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// The configured entries; the configuration check refuses bad ones
    /// (see `limits::check`), so an entry that does not parse is skipped.
    pub fn from_config(entries: &[Spanned<String>]) -> Self {
        Self(
            entries
                .iter()
                .filter_map(|entry| idp_connectors::headers::parse_proxy(entry.get_ref()).ok())
                .collect(),
        )
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = idp_connectors::headers::canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client IP of a request from `peer` carrying `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = idp_connectors::headers::canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut entries = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return peer;
            };
            for entry in text.split(',') {
                match entry.trim().parse::<IpAddr>() {
                    Ok(ip) => entries.push(idp_connectors::headers::canonical(ip)),
                    Err(_) => return peer,
                }
            }
        }
        entries
            .iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .or_else(|| entries.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The TCP peer of a request (unspecified when the server does not record
/// it, as in tests calling the router directly).
fn peer_of(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Resolves (once per request, then kept in its extensions) the client IP.
pub fn resolve(parts: &mut Parts, trusted: &TrustedProxies) -> IpAddr {
    if let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>() {
        return *ip;
    }
    let ip = trusted.client_ip(peer_of(parts), &parts.headers);
    parts.extensions.insert(ClientIp(ip));
    ip
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(resolve(parts, &state.limits.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::from_config(
            &entries
                .iter()
                .map(|e| Spanned::new(0..0, (*e).to_owned()))
                .collect::<Vec<_>>(),
        )
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_peer_when_it_is_not_a_trusted_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = xff(&["203.0.113.9"]);
        assert_eq!(
            trusted.client_ip(ip("10.1.2.3"), &headers),
            ip("203.0.113.9")
        );
        assert_eq!(
            trusted.client_ip(ip("198.51.100.4"), &headers),
            ip("198.51.100.4")
        );
        assert_eq!(
            proxies(&[]).client_ip(ip("10.1.2.3"), &headers),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_across_headers() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.10"]);
        let headers = xff(&["1.1.1.1, 203.0.113.9", "192.0.2.10, 10.0.0.7"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_malformed_header_or_none_leaves_the_peer() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            trusted.client_ip(peer, &xff(&["203.0.113.9, nonsense"])),
            peer
        );
        assert_eq!(trusted.client_ip(peer, &xff(&["203.0.113.9:443"])), peer);
        assert_eq!(trusted.client_ip(peer, &HeaderMap::new()), peer);
        assert_eq!(
            trusted.client_ip(peer, &xff(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn only_trusted_entries_give_the_left_most() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), &xff(&["10.0.0.9, 10.0.0.8"])),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        let trusted = proxies(&["127.0.0.1"]);
        assert_eq!(
            trusted.client_ip(ip("::ffff:127.0.0.1"), &xff(&["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }
}
