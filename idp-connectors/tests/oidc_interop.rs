//! Interoperability of the OpenID Connect relying party (OpenID Connect Core
//! 1.0 §3.1 code flow, RFC 7636 PKCE, RFC 9207 `iss` parameter) with a real
//! provider nobody here wrote: the `oidc-provider` npm package (9.x), started
//! by `tests/interop/oidc_op.mjs` on a free port of 127.0.0.1.
//!
//! A browser-like `reqwest` client with a cookie jar follows the provider's
//! redirects one by one and fills in the forms its development interactions
//! render (login, then consent), up to the redirect to the connector's
//! callback; `OidcConnector::complete` then runs on the callback parameters,
//! exchanges the code with `client_secret_basic` and PKCE, verifies the ES256
//! or RS256 ID token against the provider's JWKS, reads userinfo and maps the
//! claims with a mapping like the gateway's `agents` one.
//!
//! Each negative test first has an untouched login accepted. Where the
//! refusal happens before the code is spent (`iss`, PKCE, client secret), the
//! untouched callback of the same login is accepted afterwards too: the
//! provider did not spend the code, so the refusal came from the check alone.
//!
//! The tests need the npm package: `scripts/test.sh` installs it (`npm ci`)
//! and sets `SSO_TEST_NODE_MODULES`; without that variable they are skipped
//! with a message.
#![cfg(test)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use idp_connectors::config::OidcIdpConfig;
use idp_connectors::mapping::{Mapping, MappingConfig};
use idp_connectors::oidc::{CallbackParams, ClientSecret, OidcConnector, OidcError, PendingAuth};
use regex::Regex;
use serde_json::{Value, json};
use sso_core::{Identity, Profile, attr};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The account the browser logs in with (oidc-provider's `sub`).
const ACCOUNT: &str = "camille.martin";
/// A client whose ID tokens are signed with ES256 (EC P-256).
const ES256_CLIENT: &str = "gateway-es256";
/// A client whose ID tokens are signed with RS256 (RSA 2048).
const RS256_CLIENT: &str = "gateway-rs256";
/// With the characters that RFC 6749 §2.3.1 form-encodes in HTTP Basic credentials.
const CLIENT_SECRET: &str = "interop:secret+0123/456%789 abc&def=~";
/// Scopes asked for by the connector; each releases claims (see `claims_by_scope`).
const SCOPES: &str = r#"["openid", "email", "profile", "fim"]"#;
/// How long the provider may take to start (a bound against a hung test, not an assertion).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Most HTTP exchanges a login may take before the test gives up.
const MAX_BROWSER_STEPS: usize = 20;

/// The mapping of the agents' provider, over OpenID Connect claims (like
/// `[mapping.agents]` of the example configuration).
const AGENTS_MAPPING: &str = r#"
subject = "name_id"
[[rules]]
from = "family_name"
to = "surname"
[[rules]]
from = "given_name"
to = "given_name"
[[rules]]
from = "email"
to = "email"
[[rules]]
from = "FrEduRne"
to = "uai"
split = ","
field_separator = "$"
field = 0
[[rules]]
from = "FrEduFonctAdm"
to = "function"
split = ","
[[rules]]
from = "FrEduFonctAdm"
to = "profile"
split = ","
map = { ENS = "National_ENS", DIR = "National_DIR", DOC = "National_DOC" }
"#;

fn claims_by_scope() -> Value {
    json!({
        "openid": ["sub"],
        "email": ["email", "email_verified"],
        "profile": ["given_name", "family_name"],
        "fim": ["FrEduFonctAdm", "FrEduRne"],
    })
}

fn account_claims() -> Value {
    json!({
        "email": "camille.martin@ac-rennes.fr",
        "email_verified": true,
        "given_name": "Camille",
        "family_name": "Martin",
        "FrEduFonctAdm": "ENS",
        "FrEduRne": [
            "0350001A$UAJ$PU$ENS$0350001A$T3$LYC$300",
            "0351234B$UAJ$PU$ENS$0351234B$T3$CLG$340",
        ],
    })
}

/// Where `npm ci` put oidc-provider, or `None` (with a message) when the
/// developer did not run `scripts/test.sh`.
fn node_modules() -> Option<PathBuf> {
    match std::env::var_os("SSO_TEST_NODE_MODULES") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.join("oidc-provider").join("package.json").is_file(),
                "SSO_TEST_NODE_MODULES={} holds no oidc-provider: run `npm ci --prefix idp-connectors/tests/interop`",
                path.display()
            );
            Some(path)
        }
        None => {
            eprintln!(
                "SKIPPED: SSO_TEST_NODE_MODULES is not set; scripts/test.sh installs the \
                 oidc-provider npm package and sets it"
            );
            None
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------------------
// The provider process.
// ---------------------------------------------------------------------------

/// oidc-provider running in a node process, killed when dropped.
struct InteropOp {
    child: Child,
    /// Held open: node exits when its standard input closes, even if this
    /// process is killed before `Drop` runs.
    _stdin: ChildStdin,
    /// Keeps the callback's port ours for the test; the browser stops at the
    /// redirect to it, as the gateway's handler would take over there.
    _callback_port: TcpListener,
    issuer: String,
    redirect_uri: String,
}

impl Drop for InteropOp {
    fn drop(&mut self) {
        // Best effort: the process may have exited already.
        let _ = self.child.start_kill();
    }
}

impl InteropOp {
    async fn start(node_modules: &Path) -> Self {
        let callback_port = TcpListener::bind("127.0.0.1:0").unwrap();
        let redirect_uri = format!(
            "http://{}/oidc/callback/fim",
            callback_port.local_addr().unwrap()
        );
        let clients: Vec<Value> = [(ES256_CLIENT, "ES256"), (RS256_CLIENT, "RS256")]
            .into_iter()
            .map(|(client_id, alg)| {
                json!({
                    "client_id": client_id,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uri": redirect_uri,
                    "id_token_alg": alg,
                })
            })
            .collect();
        let setup = json!({
            "clients": clients,
            "accounts": { ACCOUNT: account_claims() },
            "scopes": claims_by_scope(),
        });
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/oidc_op.mjs");
        let mut child = Command::new("node")
            .arg(&launcher)
            .arg(setup.to_string())
            .env("SSO_TEST_NODE_MODULES", node_modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start node {}: {err}", launcher.display()));
        let stdin = child.stdin.take().unwrap();
        // The provider's diagnostics, shown with the test's output when it fails.
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("[oidc-provider] {line}");
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(STARTUP_TIMEOUT, stdout.next_line())
            .await
            .expect("oidc-provider did not start in time")
            .unwrap()
            .expect("oidc-provider exited before serving (see its stderr above)");
        // It logs on stdout too: keep reading, or its writes fail (EPIPE).
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                eprintln!("[oidc-provider] {line}");
            }
        });
        let ready: Value = serde_json::from_str(&ready).unwrap();
        let issuer = ready["issuer"].as_str().unwrap().to_owned();
        InteropOp {
            child,
            _stdin: stdin,
            _callback_port: callback_port,
            issuer,
            redirect_uri,
        }
    }

    fn config(&self, client_id: &str, extra: &str) -> OidcIdpConfig {
        toml::from_str(&format!(
            r#"
id = "fim"
label = "Personnel de l'Éducation nationale"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret_file = "fim.secret"
token_auth_method = "client_secret_basic"
redirect_uri = "{redirect_uri}"
scopes = {SCOPES}
mapping = "agents"
{extra}
"#,
            issuer = self.issuer,
            redirect_uri = self.redirect_uri,
        ))
        .unwrap()
    }

    async fn connector_with_secret(
        &self,
        client_id: &str,
        extra: &str,
        secret: &str,
    ) -> OidcConnector {
        let mapping: MappingConfig = toml::from_str(AGENTS_MAPPING).unwrap();
        OidcConnector::new(
            self.config(client_id, extra),
            Mapping::new(&mapping).unwrap(),
            ClientSecret::new(secret),
            idp_connectors::oidc::http_client().unwrap(),
        )
        .await
        .unwrap()
    }

    async fn connector(&self, client_id: &str, extra: &str) -> OidcConnector {
        self.connector_with_secret(client_id, extra, CLIENT_SECRET)
            .await
    }

    /// A whole login in a fresh browser, up to the callback (not completed).
    async fn login(&self, connector: &OidcConnector) -> Login {
        let (url, pending) = connector.authorization_request();
        let journey = Browser::new().log_in(&url, &self.redirect_uri).await;
        Login { pending, journey }
    }

    /// A login completed with its untouched callback: the positive control.
    async fn accepted_login(&self, connector: &OidcConnector) -> Identity {
        let login = self.login(connector).await;
        connector
            .complete(&login.pending, &login.journey.callback)
            .await
            .unwrap()
    }
}

struct Login {
    pending: PendingAuth,
    journey: Journey,
}

// ---------------------------------------------------------------------------
// The browser.
// ---------------------------------------------------------------------------

/// What the browser went through.
struct Journey {
    /// The callback's parameters, as the gateway's handler would read them.
    callback: CallbackParams,
    /// The `prompt` of each form submitted, in order.
    forms: Vec<String>,
}

struct Browser {
    http: reqwest::Client,
}

/// A form as rendered: where it posts and its fields.
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

impl Form {
    fn parse(html: &str) -> Form {
        let form = Regex::new(r#"(?s)<form\b([^>]*)>(.*?)</form>"#).unwrap();
        let input = Regex::new(r#"<input\b([^>]*)>"#).unwrap();
        let captures = form
            .captures(html)
            .unwrap_or_else(|| panic!("no form in the page: {html}"));
        let method = attribute(&captures[1], "method").unwrap_or_default();
        assert!(method.eq_ignore_ascii_case("post"), "form method {method}");
        let action = attribute(&captures[1], "action").expect("form without action");
        let fields = input
            .captures_iter(&captures[2])
            .filter_map(|input| {
                let name = attribute(&input[1], "name")?;
                Some((name, attribute(&input[1], "value").unwrap_or_default()))
            })
            .collect();
        Form { action, fields }
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// Types `value` into the field `name`.
    fn fill(&mut self, name: &str, value: &str) {
        let field = self
            .fields
            .iter_mut()
            .find(|(field, _)| field == name)
            .unwrap_or_else(|| panic!("the form has no field {name:?}"));
        field.1 = value.to_owned();
    }
}

/// An HTML attribute's value, entities decoded.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let pattern = Regex::new(&format!(r#"\b{name}="([^"]*)""#)).unwrap();
    let raw = pattern.captures(attributes)?.get(1)?.as_str();
    Some(
        raw.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http }
    }

    /// Follows redirects and submits the provider's forms (any password is
    /// accepted by its development login page) until the provider redirects
    /// to `redirect_uri`.
    async fn log_in(&self, authorization_url: &str, redirect_uri: &str) -> Journey {
        let mut forms = Vec::new();
        let mut request = self.http.get(authorization_url);
        for _ in 0..MAX_BROWSER_STEPS {
            let response = request.send().await.unwrap();
            let url = response.url().clone();
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[reqwest::header::LOCATION]
                    .to_str()
                    .unwrap();
                let target = url.join(location).unwrap();
                if target[..url::Position::AfterPath] == *redirect_uri {
                    let mut callback = CallbackParams::default();
                    for (name, value) in target.query_pairs() {
                        let value = Some(value.into_owned());
                        match name.as_ref() {
                            "code" => callback.code = value,
                            "state" => callback.state = value,
                            "iss" => callback.iss = value,
                            "error" => callback.error = value,
                            "error_description" => callback.error_description = value,
                            _ => {}
                        }
                    }
                    return Journey { callback, forms };
                }
                request = self.http.get(target);
                continue;
            }
            let body = response.text().await.unwrap();
            assert_eq!(status, reqwest::StatusCode::OK, "{url}: {body}");
            let mut form = Form::parse(&body);
            let prompt = form.field("prompt").unwrap_or_default().to_owned();
            if prompt == "login" {
                form.fill("login", ACCOUNT);
                form.fill("password", "any password will do");
            }
            forms.push(prompt);
            request = self
                .http
                .post(url.join(&form.action).unwrap())
                .form(&form.fields);
        }
        panic!("no callback after {MAX_BROWSER_STEPS} steps");
    }
}

// ---------------------------------------------------------------------------
// The accepted login.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn code_flow_through_login_and_consent_pages_yields_the_mapped_identity() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;

    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], op.issuer.as_str());
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        json!(["S256"])
    );

    let connector = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    let before = now();
    let login = op.login(&connector).await;
    let after = now();
    assert_eq!(login.journey.forms, ["login", "consent"]);
    let callback = &login.journey.callback;
    assert_eq!(callback.iss.as_deref(), Some(op.issuer.as_str()));
    assert_eq!(
        callback.state.as_deref(),
        Some(login.pending.state.as_str())
    );
    assert!(callback.error.is_none());

    let identity = connector.complete(&login.pending, callback).await.unwrap();
    assert_eq!(identity.idp, "fim");
    assert_eq!(identity.subject, ACCOUNT);
    // auth_time: when the login form was submitted.
    assert!(
        (before..=after).contains(&identity.authn_instant),
        "authn_instant {} outside [{before}, {after}]",
        identity.authn_instant
    );
    // The development login records no acr: none is invented.
    assert_eq!(identity.authn_context, None);
    assert_eq!(identity.values(attr::SURNAME), ["Martin"]);
    assert_eq!(identity.values(attr::GIVEN_NAME), ["Camille"]);
    assert_eq!(
        identity.values(attr::EMAIL),
        ["camille.martin@ac-rennes.fr"]
    );
    assert_eq!(identity.values(attr::UAI), ["0350001A", "0351234B"]);
    assert_eq!(identity.values(attr::FUNCTION), ["ENS"]);
    assert_eq!(identity.profiles(), vec![Profile::Ens]);
}

#[tokio::test]
async fn rs256_and_es256_id_tokens_verify_and_an_unpinned_algorithm_is_refused() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;

    let rs256 = op.connector(RS256_CLIENT, "").await;
    assert_eq!(op.accepted_login(&rs256).await.subject, ACCOUNT);
    let es256 = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    assert_eq!(op.accepted_login(&es256).await.subject, ACCOUNT);

    // The same ES256 client, with only RS256 pinned (the default).
    let pinned_rs256 = op.connector(ES256_CLIENT, "").await;
    let login = op.login(&pinned_rs256).await;
    let err = pinned_rs256
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::AlgorithmNotAllowed { alg } if alg == "ES256"),
        "{err}"
    );
}

#[tokio::test]
async fn without_userinfo_only_the_id_token_claims_are_mapped() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;
    // oidc-provider puts scope claims in userinfo only when an access token
    // is issued (its `conformIdTokenClaims`): the ID token has `sub` alone.
    let connector = op
        .connector(
            ES256_CLIENT,
            "algorithms = [\"ES256\"]\nuse_userinfo = false",
        )
        .await;
    let identity = op.accepted_login(&connector).await;
    assert_eq!(identity.subject, ACCOUNT);
    assert!(identity.values(attr::EMAIL).is_empty());
    assert!(identity.profiles().is_empty());
}

// ---------------------------------------------------------------------------
// Refusals.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn replayed_code_is_refused_by_the_provider() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;
    let connector = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    let login = op.login(&connector).await;
    let identity = connector
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap();
    assert_eq!(identity.subject, ACCOUNT);

    let err = connector
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_grant"),
        "{err}"
    );
}

#[tokio::test]
async fn altered_iss_parameter_is_refused() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;
    let connector = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    op.accepted_login(&connector).await;

    let login = op.login(&connector).await;
    let other_port = TcpListener::bind("127.0.0.1:0").unwrap();
    let altered = [
        format!("http://{}", other_port.local_addr().unwrap()),
        format!("{}/", op.issuer),
        op.issuer.replacen("http://", "https://", 1),
        op.issuer.to_uppercase(),
    ];
    for iss in altered {
        let callback = CallbackParams {
            iss: Some(iss.clone()),
            ..login.journey.callback.clone()
        };
        let err = connector
            .complete(&login.pending, &callback)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, OidcError::IssParameterMismatch { found } if *found == iss),
            "{iss}: {err}"
        );
    }
    // oidc-provider advertises the parameter: its absence is refused too.
    let callback = CallbackParams {
        iss: None,
        ..login.journey.callback.clone()
    };
    let err = connector
        .complete(&login.pending, &callback)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::IssParameterMissing), "{err}");

    // Nothing was sent to the token endpoint: the code is still good.
    let identity = connector
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap();
    assert_eq!(identity.subject, ACCOUNT);
}

#[tokio::test]
async fn wrong_pkce_verifier_is_refused_by_the_provider() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;
    let connector = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    op.accepted_login(&connector).await;

    let login = op.login(&connector).await;
    let other = op.login(&connector).await;
    let mut pending = login.pending.clone();
    pending.pkce_verifier = other.pending.pkce_verifier.clone();
    let err = connector
        .complete(&pending, &login.journey.callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_grant"),
        "{err}"
    );
    // oidc-provider checks PKCE before spending the code.
    connector
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_client_secret_is_refused_by_the_provider() {
    let Some(node_modules) = node_modules() else {
        return;
    };
    let op = InteropOp::start(&node_modules).await;
    let connector = op
        .connector(ES256_CLIENT, r#"algorithms = ["ES256"]"#)
        .await;
    op.accepted_login(&connector).await;

    let impostor = op
        .connector_with_secret(
            ES256_CLIENT,
            r#"algorithms = ["ES256"]"#,
            "not-the-client-secret",
        )
        .await;
    let login = op.login(&impostor).await;
    let err = impostor
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::TokenEndpointError { error, .. } if error == "invalid_client"),
        "{err}"
    );
    // The same callback, completed with the right secret.
    connector
        .complete(&login.pending, &login.journey.callback)
        .await
        .unwrap();
}
