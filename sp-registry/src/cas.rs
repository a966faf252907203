//! The CAS 3.0 side of a service (CAS protocol 3.0 specification: §2.1.1
//! and §2.5.1 the `service` URL, §2.5.4 and §2.6 proxy callbacks
//! (`pgtUrl`) and proxy tickets, appendix C single logout).
//!
//! A service is found by its service URL ([`crate::Registry::by_cas_service`]):
//! the URL must match one of its [`ServicePattern`]s, and a URL that several
//! services match is refused (fail closed) rather than given to one of them.

use crate::pattern::ServicePattern;

/// A CAS 3.0 service as registered (`[cas]`).
#[derive(Debug, Clone)]
pub struct CasService {
    /// The service URLs it may ask tickets for (at least one).
    pub services: Vec<ServicePattern>,
    /// Whether it may obtain proxy-granting tickets and use proxy tickets
    /// (default false: proxy tickets are refused).
    pub allow_proxy: bool,
    /// Where proxy-granting tickets may be sent (`pgtUrl`), `https://` only;
    /// empty unless `allow_proxy`.
    pub proxy_callbacks: Vec<ServicePattern>,
    /// Where single-logout requests are POSTed; `None`: to the service URL
    /// that received the ticket.
    pub logout_url: Option<String>,
}

impl CasService {
    /// Whether `url` matches one of the service's patterns.
    pub fn service_allowed(&self, url: &str) -> bool {
        self.services.iter().any(|pattern| pattern.matches(url))
    }

    /// Whether a proxy-granting ticket may be sent to `url` (`pgtUrl`):
    /// never unless `allow_proxy`, then only to a URL matching one of the
    /// `proxy_callbacks`.
    pub fn proxy_callback_allowed(&self, url: &str) -> bool {
        self.allow_proxy
            && self
                .proxy_callbacks
                .iter()
                .any(|pattern| pattern.matches(url))
    }
}

/// Why no single CAS service answers to a service URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CasLookupError {
    /// No pattern of any service matches the URL (or the URL is refused:
    /// unparsable, with user information or a fragment).
    #[error("no registered CAS service matches the service URL")]
    NoMatch,
    /// Several services match the URL: refused rather than guessed.
    #[error("several CAS services match the service URL: {}", services.join(", "))]
    Ambiguous {
        /// The ids of the services whose patterns match, in registry order.
        services: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas(allow_proxy: bool, callbacks: &[&str]) -> CasService {
        CasService {
            services: vec![ServicePattern::parse("https://r.example.fr/app/*").unwrap()],
            allow_proxy,
            proxy_callbacks: callbacks
                .iter()
                .map(|text| ServicePattern::parse(text).unwrap())
                .collect(),
            logout_url: None,
        }
    }

    #[test]
    fn service_urls() {
        let service = cas(false, &[]);
        assert!(service.service_allowed("https://r.example.fr/app/x"));
        assert!(!service.service_allowed("https://r.example.fr/other"));
    }

    #[test]
    fn proxy_callbacks_only_when_proxying_is_allowed() {
        let callback = "https://r.example.fr/pgt";
        let proxy = cas(true, &[callback]);
        assert!(proxy.proxy_callback_allowed(callback));
        assert!(!proxy.proxy_callback_allowed("https://r.example.fr/pgt2"));
        let no_proxy = cas(false, &[callback]);
        assert!(!no_proxy.proxy_callback_allowed(callback));
    }
}
