//! A small OpenID provider for the relying-party tests, served by axum on
//! 127.0.0.1:0: discovery, JWKS, token endpoint (client authentication,
//! single-use codes, redirect_uri and PKCE S256 checked) and userinfo, plus
//! attacker endpoints (`/evil/...`) that must never be reached. Every request
//! is counted by path. ID tokens are built by the tests (header and claims
//! as JSON, so that any field can be mutated) and signed with real RSA 2048
//! and EC P-256 keys generated with openssl, through jsonwebtoken (aws-lc).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use idp_connectors::config::OidcIdpConfig;
use idp_connectors::mapping::{Mapping, MappingConfig};
use idp_connectors::oidc::{
    CallbackParams, ClientSecret, OidcConnector, OidcError, OidcSetupError, PendingAuth,
};
use jsonwebtoken::{Algorithm, EncodingKey};
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sso_core::Identity;
use tokio::task::JoinHandle;

pub const CLIENT_ID: &str = "gateway";
pub const CLIENT_SECRET: &str = "op-shared-secret";
pub const REDIRECT_URI: &str = "https://sso.example.fr/oidc/callback/fim";
pub const SUBJECT: &str = "agent-42";

/// The attribute mapping of the national agents' provider ("FIM").
pub const FIM_MAPPING: &str = r#"
subject = "name_id"
[[rules]]
from = "email"
to = "email"
[[rules]]
from = "given_name"
to = "given_name"
[[rules]]
from = "FrEduFonctAdm"
to = "profile"
map = { ENS = "National_ENS", DIR = "National_DIR" }
[[rules]]
from = "FrEduFonctAdm"
to = "function"
[[rules]]
from = "FrEduRne"
to = "uai"
field_separator = "$"
field = 0
"#;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key of the provider (or of an attacker).
pub struct Key {
    pub kid: String,
    encoding: EncodingKey,
    /// The public key as a JWK (with `kid`).
    pub jwk: Value,
    /// The public key as PEM (SubjectPublicKeyInfo).
    pub public_pem: Vec<u8>,
}

impl Key {
    pub fn rsa(kid: &str) -> Arc<Key> {
        let rsa = Rsa::generate(2048).unwrap();
        let jwk = json!({
            "kty": "RSA", "use": "sig", "kid": kid,
            "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
        });
        let pkey = PKey::from_rsa(rsa).unwrap();
        Arc::new(Key {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_pem(&pkey.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            jwk,
            public_pem: pkey.public_key_to_pem().unwrap(),
        })
    }

    pub fn ec(kid: &str) -> Arc<Key> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut x = openssl::bn::BigNum::new().unwrap();
        let mut y = openssl::bn::BigNum::new().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
            "x": b64(&x.to_vec_padded(32).unwrap()), "y": b64(&y.to_vec_padded(32).unwrap()),
        });
        let pkey = PKey::from_ec_key(ec).unwrap();
        Arc::new(Key {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ec_pem(&pkey.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            jwk,
            public_pem: pkey.public_key_to_pem().unwrap(),
        })
    }
}

/// How a test token is signed.
#[derive(Clone)]
pub enum Signing {
    /// With a key and an algorithm.
    Key(Arc<Key>, Algorithm),
    /// HMAC with the given bytes as the secret.
    Hmac(Vec<u8>, Algorithm),
    /// No signature at all (`alg: none`).
    Unsigned,
}

/// A compact JWS of `header` and `claims`, as given (nothing is added).
pub fn compact(header: &Value, claims: &Value, signing: &Signing) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match signing {
        Signing::Key(key, alg) => {
            jsonwebtoken::crypto::sign(input.as_bytes(), &key.encoding, *alg).unwrap()
        }
        Signing::Hmac(secret, alg) => {
            jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(secret), *alg)
                .unwrap()
        }
        Signing::Unsigned => String::new(),
    };
    format!("{input}.{signature}")
}

struct Grant {
    id_token: String,
    access_token: String,
    code_challenge: String,
    redirect_uri: String,
}

/// How the token endpoint expects the client to authenticate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExpectedAuth {
    Basic,
    Post,
}

struct OpState {
    issuer: String,
    discovery_issuer: Option<String>,
    iss_parameter_supported: bool,
    keys: Vec<Arc<Key>>,
    grants: HashMap<String, Grant>,
    userinfo: HashMap<String, Value>,
    hits: HashMap<String, usize>,
    expected_auth: ExpectedAuth,
    userinfo_as_jwt: bool,
    counter: usize,
}

type Shared = Arc<Mutex<OpState>>;

/// The running provider.
pub struct TestOp {
    pub issuer: String,
    state: Shared,
    server: JoinHandle<()>,
    /// The key the provider signs with by default (`k1`, RS256).
    pub key: Arc<Key>,
}

/// The authentication request as the provider received it.
#[derive(Debug)]
pub struct AuthRequest {
    pub params: HashMap<String, String>,
}

impl AuthRequest {
    pub fn get(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

/// One login in progress: everything a test may mutate before the callback.
pub struct Login {
    pub request: AuthRequest,
    pub pending: PendingAuth,
    pub header: Value,
    pub claims: Value,
    pub signing: Signing,
    /// What the userinfo endpoint answers for this login's access token.
    pub userinfo: Value,
    pub callback: CallbackParams,
    /// Replaces the signed ID token entirely when set.
    pub raw_id_token: Option<String>,
    /// Edits the compact token after signing (tampering).
    pub tamper: Option<Box<dyn FnOnce(String) -> String + Send>>,
}

async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
    *state
        .lock()
        .unwrap()
        .hits
        .entry(request.uri().path().to_owned())
        .or_default() += 1;
    next.run(request).await
}

async fn discovery(State(state): State<Shared>) -> Json<Value> {
    let state = state.lock().unwrap();
    let base = &state.issuer;
    Json(json!({
        "issuer": state.discovery_issuer.as_deref().unwrap_or(base),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": state.iss_parameter_supported,
    }))
}

async fn jwks(State(state): State<Shared>) -> Json<Value> {
    let state = state.lock().unwrap();
    let keys: Vec<Value> = state.keys.iter().map(|key| key.jwk.clone()).collect();
    Json(json!({ "keys": keys }))
}

fn token_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

fn url_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((url_decode(id), url_decode(secret)))
}

async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    let credentials = match state.expected_auth {
        ExpectedAuth::Basic if !form.contains_key("client_secret") => basic_credentials(&headers),
        ExpectedAuth::Post if !headers.contains_key(header::AUTHORIZATION) => form
            .get("client_id")
            .cloned()
            .zip(form.get("client_secret").cloned()),
        _ => None,
    };
    if credentials != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(grant) = form.get("code").and_then(|code| state.grants.remove(code)) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = b64(&Sha256::digest(verifier.as_bytes()));
    if challenge != grant.code_challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    Json(json!({
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": grant.id_token,
    }))
    .into_response()
}

async fn userinfo(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let state = state.lock().unwrap();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token.and_then(|token| state.userinfo.get(token)) {
        Some(claims) if state.userinfo_as_jwt => (
            [(header::CONTENT_TYPE, "application/jwt")],
            compact(&json!({ "alg": "none" }), claims, &Signing::Unsigned),
        )
            .into_response(),
        Some(claims) => Json(claims.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// An attacker's endpoint: answers with the attacker's key set, if ever asked.
async fn evil(State(state): State<Shared>) -> Json<Value> {
    let state = state.lock().unwrap();
    let keys: Vec<Value> = state.keys.iter().map(|key| key.jwk.clone()).collect();
    Json(json!({ "keys": keys }))
}

impl TestOp {
    pub async fn start() -> TestOp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let key = Key::rsa("k1");
        let state: Shared = Arc::new(Mutex::new(OpState {
            issuer: issuer.clone(),
            discovery_issuer: None,
            iss_parameter_supported: true,
            keys: vec![Arc::clone(&key)],
            grants: HashMap::new(),
            userinfo: HashMap::new(),
            hits: HashMap::new(),
            expected_auth: ExpectedAuth::Basic,
            userinfo_as_jwt: false,
            counter: 0,
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/evil/jwks", get(evil))
            .route("/evil/cert", get(evil))
            .layer(middleware::from_fn_with_state(Arc::clone(&state), count))
            .with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestOp {
            issuer,
            state,
            server,
            key,
        }
    }

    /// Stops serving: the provider is down.
    pub async fn stop(&self) {
        self.server.abort();
        while !self.server.is_finished() {
            tokio::task::yield_now().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Requests received on `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Replaces the published key set.
    pub fn publish(&self, keys: &[Arc<Key>]) {
        self.state.lock().unwrap().keys = keys.to_vec();
    }

    pub fn set_iss_parameter_supported(&self, supported: bool) {
        self.state.lock().unwrap().iss_parameter_supported = supported;
    }

    pub fn set_discovery_issuer(&self, issuer: &str) {
        self.state.lock().unwrap().discovery_issuer = Some(issuer.to_owned());
    }

    /// Userinfo answers as a JWT (`application/jwt`) from now on.
    pub fn send_userinfo_as_jwt(&self) {
        self.state.lock().unwrap().userinfo_as_jwt = true;
    }

    pub fn expect_auth(&self, auth: ExpectedAuth) {
        self.state.lock().unwrap().expected_auth = auth;
    }

    /// An `[[oidc_idp]]` table for this provider, with `extra` lines added.
    pub fn config(&self, extra: &str) -> OidcIdpConfig {
        toml::from_str(&format!(
            r#"
id = "fim"
label = "Personnel de l'Éducation nationale"
issuer = "{}"
client_id = "{CLIENT_ID}"
client_secret_file = "fim.secret"
redirect_uri = "{REDIRECT_URI}"
scopes = ["openid", "email"]
mapping = "fim"
{extra}
"#,
            self.issuer
        ))
        .unwrap()
    }

    pub async fn try_connector(&self, extra: &str) -> Result<OidcConnector, OidcSetupError> {
        connector_for(self.config(extra)).await
    }

    pub async fn connector(&self, extra: &str) -> OidcConnector {
        self.try_connector(extra).await.unwrap()
    }

    /// Starts a login: the browser is sent to the provider, which reads the
    /// request; the test then decides what the provider answers.
    pub fn begin(&self, connector: &OidcConnector) -> Login {
        let (url, pending) = connector.authorization_request();
        let url = url::Url::parse(&url).unwrap();
        assert_eq!(
            url.as_str().split('?').next(),
            Some(self.url("/authorize").as_str())
        );
        let request = AuthRequest {
            params: url.query_pairs().into_owned().collect(),
        };
        let now = now();
        let claims = json!({
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "auth_time": now - 10,
            "nonce": request.get("nonce"),
            "acr": "urn:ac:otp",
            "email": "id-token@ac-rennes.fr",
        });
        let userinfo = json!({
            "sub": SUBJECT,
            "email": "prof@ac-rennes.fr",
            "given_name": "Camille",
            "FrEduFonctAdm": "ENS",
            "FrEduRne": ["0350001A$UAJ$PU$N$T3$LYC$340", "0351234B$UAJ$PU$N$T3$CLG$340"],
        });
        let callback = CallbackParams {
            state: Some(request.get("state").to_owned()),
            iss: Some(self.issuer.clone()),
            ..CallbackParams::default()
        };
        Login {
            header: json!({ "alg": "RS256", "kid": self.key.kid, "typ": "JWT" }),
            signing: Signing::Key(Arc::clone(&self.key), Algorithm::RS256),
            request,
            pending,
            claims,
            userinfo,
            callback,
            raw_id_token: None,
            tamper: None,
        }
    }

    /// The provider issues a code for `login` and the browser comes back:
    /// the connector's answer.
    pub async fn finish(
        &self,
        connector: &OidcConnector,
        mut login: Login,
    ) -> Result<Identity, OidcError> {
        let mut id_token = login
            .raw_id_token
            .take()
            .unwrap_or_else(|| compact(&login.header, &login.claims, &login.signing));
        if let Some(tamper) = login.tamper.take() {
            id_token = tamper(id_token);
        }
        let code = {
            let mut state = self.state.lock().unwrap();
            state.counter += 1;
            let code = format!("code-{}", state.counter);
            let access_token = format!("access-{}", state.counter);
            state
                .userinfo
                .insert(access_token.clone(), login.userinfo.clone());
            state.grants.insert(
                code.clone(),
                Grant {
                    id_token,
                    access_token,
                    code_challenge: login.request.get("code_challenge").to_owned(),
                    redirect_uri: login.request.get("redirect_uri").to_owned(),
                },
            );
            code
        };
        if login.callback.code.is_none() && login.callback.error.is_none() {
            login.callback.code = Some(code);
        }
        connector.complete(&login.pending, &login.callback).await
    }

    /// A login with nothing changed.
    pub async fn login(&self, connector: &OidcConnector) -> Result<Identity, OidcError> {
        let login = self.begin(connector);
        self.finish(connector, login).await
    }

    /// The positive control (an untouched login is accepted), then the
    /// login mutated by `mutate`: its error.
    pub async fn accepted_then_refused(
        &self,
        connector: &OidcConnector,
        mutate: impl FnOnce(&mut Login),
    ) -> OidcError {
        let identity = self.login(connector).await.unwrap();
        assert_eq!(identity.subject, SUBJECT);
        let mut login = self.begin(connector);
        mutate(&mut login);
        self.finish(connector, login).await.unwrap_err()
    }
}

impl Drop for TestOp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn fim_mapping() -> Mapping {
    let config: MappingConfig = toml::from_str(FIM_MAPPING).unwrap();
    Mapping::new(&config).unwrap()
}

pub async fn connector_for(config: OidcIdpConfig) -> Result<OidcConnector, OidcSetupError> {
    OidcConnector::new(
        config,
        fim_mapping(),
        ClientSecret::new(format!("{CLIENT_SECRET}\n")),
        idp_connectors::oidc::http_client().unwrap(),
    )
    .await
}
