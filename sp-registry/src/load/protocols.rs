//! Checks of the `[cas]` and `[oidc]` tables of a service file: CAS protocol
//! 3.0 service URL patterns and proxy callbacks (§2.5.4: `https://` only),
//! OpenID Connect client metadata (RFC 7591 §2 names; OpenID Connect Core
//! 1.0 §3.1.2.1 redirect URIs compared exactly; RFC 7636 PKCE, required of
//! public clients). The rules themselves are documented in `crate::cas`,
//! `crate::oidc` and `crate::pattern`.

use serde_json::Value;
use toml::Spanned;

use super::Checker;
use crate::cas::CasService;
use crate::error::LoadErrorKind;
use crate::format::{RawCas, RawOidc};
use crate::oidc::{ClientType, OidcClient, TokenAuthMethod, parse_jwks};
use crate::pattern::{ServicePattern, check_uri};

impl Checker<'_> {
    /// The `[cas]` table; `None` when it is invalid (errors recorded).
    pub(super) fn cas(&mut self, raw: &Spanned<RawCas>) -> Option<CasService> {
        let table = raw.get_ref();
        let before = self.errors.len();
        let services_field = "cas.services";
        if table.services.get_ref().is_empty() {
            let reason = LoadErrorKind::NoCasServices;
            self.push(&table.services.span(), services_field, reason);
        }
        let services = self.patterns(table.services.get_ref(), services_field, false);
        let proxy_callbacks = match &table.proxy_callbacks {
            Some(list) => {
                let field = "cas.proxy_callbacks";
                if !table.allow_proxy && !list.get_ref().is_empty() {
                    let reason = LoadErrorKind::ProxyCallbacksWithoutProxy;
                    self.push(&list.span(), field, reason);
                }
                self.patterns(list.get_ref(), field, true)
            }
            None => Vec::new(),
        };
        let logout_url = table.logout_url.as_ref().map(|url| {
            self.uri(url, "cas.logout_url");
            url.get_ref().clone()
        });
        (self.errors.len() == before).then_some(CasService {
            services,
            allow_proxy: table.allow_proxy,
            proxy_callbacks,
            logout_url,
        })
    }

    /// Service URL patterns; with `https_only`, `http://` is refused even
    /// for local hosts (proxy callbacks).
    fn patterns(
        &mut self,
        list: &[Spanned<String>],
        field: &str,
        https_only: bool,
    ) -> Vec<ServicePattern> {
        let mut patterns = Vec::new();
        for text in list {
            match ServicePattern::parse(text.get_ref()) {
                Ok(pattern) if https_only && !pattern.is_https() => {
                    let reason = LoadErrorKind::ProxyCallbackNotHttps(text.get_ref().clone());
                    self.push(&text.span(), field, reason);
                }
                Ok(pattern) => patterns.push(pattern),
                Err(source) => {
                    let reason = LoadErrorKind::InvalidServicePattern {
                        pattern: text.get_ref().clone(),
                        source,
                    };
                    self.push(&text.span(), field, reason);
                }
            }
        }
        patterns
    }

    /// A URI registered for exact comparison (`crate::pattern::check_uri`).
    fn uri(&mut self, value: &Spanned<String>, field: &str) {
        if let Err(source) = check_uri(value.get_ref()) {
            let reason = LoadErrorKind::InvalidUri {
                uri: value.get_ref().clone(),
                source,
            };
            self.push(&value.span(), field, reason);
        }
    }

    /// The `[oidc]` table; `None` when it is invalid (errors recorded).
    pub(super) fn oidc(&mut self, raw: &Spanned<RawOidc>) -> Option<OidcClient> {
        let table = raw.get_ref();
        let before = self.errors.len();
        let client_id = &table.client_id;
        if !is_client_id(client_id.get_ref()) {
            let reason = LoadErrorKind::InvalidClientId(client_id.get_ref().clone());
            self.push(&client_id.span(), "oidc.client_id", reason);
        }
        let client_type = table
            .client_type
            .as_ref()
            .map_or_else(ClientType::default, |value| *value.get_ref());
        let auth_method = self.auth_method(raw, client_type);
        // Without the key, the span of the table's header.
        let method_span = table
            .token_endpoint_auth_method
            .as_ref()
            .map_or_else(|| raw.span(), Spanned::span);
        let client_secret_sha256 = match (&table.client_secret_sha256, auth_method.uses_secret()) {
            (Some(digest), true) => self.sha256_hex(digest, "oidc.client_secret_sha256"),
            (Some(digest), false) => {
                let reason = LoadErrorKind::ClientSecretNotUsed(auth_method);
                self.push(&digest.span(), "oidc.client_secret_sha256", reason);
                None
            }
            (None, true) => {
                let reason = LoadErrorKind::MissingClientSecret;
                self.push(&method_span, "oidc.client_secret_sha256", reason);
                None
            }
            (None, false) => None,
        };
        let private_key_jwt = auth_method == TokenAuthMethod::PrivateKeyJwt;
        let jwks = match (&table.jwks_file, private_key_jwt) {
            (Some(file), true) => self.jwks(file),
            (Some(file), false) => {
                let reason = LoadErrorKind::JwksFileNotUsed(auth_method);
                self.push(&file.span(), "oidc.jwks_file", reason);
                None
            }
            (None, true) => {
                let reason = LoadErrorKind::MissingJwksFile;
                self.push(&method_span, "oidc.jwks_file", reason);
                None
            }
            (None, false) => None,
        };
        let redirect_uris = &table.redirect_uris;
        if redirect_uris.get_ref().is_empty() {
            let reason = LoadErrorKind::NoRedirectUris;
            self.push(&redirect_uris.span(), "oidc.redirect_uris", reason);
        }
        for uri in redirect_uris.get_ref() {
            self.uri(uri, "oidc.redirect_uris");
        }
        for uri in &table.post_logout_redirect_uris {
            self.uri(uri, "oidc.post_logout_redirect_uris");
        }
        if let Some(uri) = &table.backchannel_logout_uri {
            self.uri(uri, "oidc.backchannel_logout_uri");
        }
        let require_pkce = match &table.require_pkce {
            Some(value) if !*value.get_ref() && client_type == ClientType::Public => {
                let reason = LoadErrorKind::PublicClientWithoutPkce;
                self.push(&value.span(), "oidc.require_pkce", reason);
                false
            }
            Some(value) => *value.get_ref(),
            None => true,
        };
        (self.errors.len() == before).then(|| OidcClient {
            client_id: client_id.get_ref().clone(),
            client_type,
            auth_method,
            client_secret_sha256,
            jwks,
            redirect_uris: strings(redirect_uris.get_ref()),
            post_logout_redirect_uris: strings(&table.post_logout_redirect_uris),
            backchannel_logout_uri: table
                .backchannel_logout_uri
                .as_ref()
                .map(|uri| uri.get_ref().clone()),
            id_token_alg: table.id_token_signed_response_alg,
            require_pkce,
        })
    }

    /// `token_endpoint_auth_method`, by default `client_secret_basic` for a
    /// confidential client and `none` for a public one; `none` if and only
    /// if the client is public.
    fn auth_method(&mut self, raw: &Spanned<RawOidc>, client_type: ClientType) -> TokenAuthMethod {
        let field = "oidc.token_endpoint_auth_method";
        let Some(method) = &raw.get_ref().token_endpoint_auth_method else {
            return match client_type {
                ClientType::Confidential => TokenAuthMethod::ClientSecretBasic,
                ClientType::Public => TokenAuthMethod::None,
            };
        };
        let value = *method.get_ref();
        match (client_type, value) {
            (ClientType::Confidential, TokenAuthMethod::None) => {
                let reason = LoadErrorKind::ConfidentialClientWithoutAuthentication;
                self.push(&method.span(), field, reason);
            }
            (ClientType::Public, TokenAuthMethod::None) | (ClientType::Confidential, _) => {}
            (ClientType::Public, _) => {
                let reason = LoadErrorKind::PublicClientAuthenticates(value);
                self.push(&method.span(), field, reason);
            }
        }
        value
    }

    /// The keys of the JSON Web Key Set file `file` (relative to the folder).
    fn jwks(&mut self, file: &Spanned<String>) -> Option<Vec<Value>> {
        let field = "oidc.jwks_file";
        let path = self.dir.join(file.get_ref());
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(source) => {
                let reason = LoadErrorKind::ReferencedFile { path, source };
                self.push(&file.span(), field, reason);
                return None;
            }
        };
        match parse_jwks(&text) {
            Ok(keys) => Some(keys),
            Err(source) => {
                self.push(&file.span(), field, LoadErrorKind::Jwks { path, source });
                None
            }
        }
    }
}

/// Whether `client_id` is `[A-Za-z0-9._-]+`.
fn is_client_id(client_id: &str) -> bool {
    !client_id.is_empty()
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn strings(list: &[Spanned<String>]) -> Vec<String> {
    list.iter().map(|value| value.get_ref().clone()).collect()
}
