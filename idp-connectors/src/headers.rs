//! Identity passed by a trusted reverse proxy in request headers (domain
//! rule "Agents (ARENA)": the académie portal's agent sets `ct-remote-user`,
//! `ctemail`, `FrEduRne`, ..., multi-values comma-separated).
//!
//! Headers are believed only from the configured proxies: a request from any
//! other peer is refused even when it carries them (anyone can send headers).
//! [`HeaderConnector::identity`] checks, in order, each with its own
//! [`HeaderError`] variant: the peer is a trusted proxy; the subject header
//! is present, given once, UTF-8 and not empty; every other header read is
//! given once (two values would let a client add its own to the proxy's) and
//! UTF-8. Values are then split on the separator, trimmed, and mapped by the
//! configured rules, whose `from` names are header names (case-insensitive).

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use sso_core::Identity;

use crate::config::HeaderIdpConfig;
use crate::mapping::{MapError, Mapping, UpstreamAttributes};

/// Why a header connector configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum HeaderConfigError {
    /// `trusted_proxies` is empty: no request could ever be accepted.
    #[error("`trusted_proxies` is empty")]
    NoTrustedProxies,
    /// An entry of `trusted_proxies` is neither an IP address nor a CIDR network.
    #[error("`trusted_proxies` entry {0:?} is neither an IP address nor a CIDR network")]
    BadProxy(String),
    /// A header name (subject header or mapping source) is not a valid HTTP header name.
    #[error("{0:?} is not a valid header name")]
    BadHeaderName(String),
    /// An empty separator.
    #[error("`separator` must not be empty")]
    EmptySeparator,
}

/// Why a request's headers are refused.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The request did not come from a trusted proxy.
    #[error("peer {0} is not a trusted proxy")]
    UntrustedPeer(IpAddr),
    /// A header read by the connector appears more than once.
    #[error("header {0:?} is given more than once")]
    DuplicateHeader(String),
    /// A header read by the connector is not valid UTF-8.
    #[error("header {0:?} is not valid UTF-8")]
    NotUtf8(String),
    /// The subject header is absent.
    #[error("the subject header {0:?} is absent")]
    MissingSubject(String),
    /// The subject header is empty.
    #[error("the subject header {0:?} is empty")]
    EmptySubject(String),
    /// The mapping found no subject.
    #[error("attribute mapping failed: {0}")]
    Mapping(#[from] MapError),
}

/// One upstream attribute: the name the mapping uses and the header it reads.
#[derive(Debug, Clone)]
struct Source {
    name: String,
    header: HeaderName,
}

/// A reverse proxy passing the identity in headers.
#[derive(Debug)]
pub struct HeaderConnector {
    config: HeaderIdpConfig,
    mapping: Mapping,
    trusted: Vec<IpNet>,
    subject: HeaderName,
    sources: Vec<Source>,
}

fn header_name(name: &str) -> Result<HeaderName, HeaderConfigError> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| HeaderConfigError::BadHeaderName(name.to_owned()))
}

/// A trusted-proxy entry: an IP address (a one-address network) or a CIDR
/// network, surrounding spaces ignored. Shared with the gateway's
/// `[server] trusted_proxies`.
pub fn parse_proxy(entry: &str) -> Result<IpNet, HeaderConfigError> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| HeaderConfigError::BadProxy(entry.to_owned()))
}

/// An IPv4 peer seen through a dual-stack socket (`::ffff:a.b.c.d`) is that IPv4 peer.
pub fn canonical(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        IpAddr::V4(_) => peer,
    }
}

impl HeaderConnector {
    /// Validates the configuration; `mapping` is the one it names.
    pub fn new(config: HeaderIdpConfig, mapping: Mapping) -> Result<Self, HeaderConfigError> {
        if config.trusted_proxies.is_empty() {
            return Err(HeaderConfigError::NoTrustedProxies);
        }
        if config.separator.is_empty() {
            return Err(HeaderConfigError::EmptySeparator);
        }
        let trusted = config
            .trusted_proxies
            .iter()
            .map(|entry| parse_proxy(entry.get_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        let subject = header_name(config.subject_header.get_ref())?;
        let sources = mapping
            .upstream_names()
            .map(|name| {
                Ok(Source {
                    name: name.to_owned(),
                    header: header_name(name)?,
                })
            })
            .collect::<Result<Vec<_>, HeaderConfigError>>()?;
        Ok(Self {
            config,
            mapping,
            trusted,
            subject,
            sources,
        })
    }

    /// Configuration identifier (`arena`).
    pub fn id(&self) -> &str {
        self.config.id.get_ref()
    }

    /// The configuration of this connector.
    pub fn config(&self) -> &HeaderIdpConfig {
        &self.config
    }

    /// The identity in the headers of a request that came from `peer`.
    pub fn identity(&self, peer: IpAddr, headers: &HeaderMap) -> Result<Identity, HeaderError> {
        let peer = canonical(peer);
        if !self.trusted.iter().any(|network| network.contains(&peer)) {
            return Err(HeaderError::UntrustedPeer(peer));
        }
        let subject = header_value(headers, &self.subject)?
            .ok_or_else(|| HeaderError::MissingSubject(self.subject.to_string()))?
            .trim();
        if subject.is_empty() {
            return Err(HeaderError::EmptySubject(self.subject.to_string()));
        }
        let mut upstream = UpstreamAttributes::new();
        for source in &self.sources {
            let Some(value) = header_value(headers, &source.header)? else {
                continue;
            };
            let values: Vec<String> = value
                .split(self.config.separator.as_str())
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .collect();
            if !values.is_empty() {
                upstream.insert(source.name.clone(), values);
            }
        }
        let mut identity = self.mapping.apply(
            self.id(),
            Some(subject),
            &upstream,
            chrono::Utc::now().timestamp(),
        )?;
        identity.authn_context = self.config.authn_context.clone();
        Ok(identity)
    }
}

/// The single value of a header, as UTF-8; None when absent.
fn header_value<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'h str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HeaderError::DuplicateHeader(name.to_string()));
    }
    std::str::from_utf8(value.as_bytes())
        .map(Some)
        .map_err(|_| HeaderError::NotUtf8(name.to_string()))
}
