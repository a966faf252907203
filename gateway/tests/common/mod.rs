//! A browser-like HTTP client for the end-to-end tests: cookie jar, redirects
//! followed by hand (so every hop is recorded), SAML auto-submitting forms
//! submitted as a browser with JavaScript would.

#![cfg(test)]
#![allow(dead_code)]

pub mod browser;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use sso_gateway::demo::{DemoStack, DemoStore, Testbed};
use sso_store::testing::RedisServer;
use tokio::net::TcpListener;

pub use sso_testbed::html::{Form as SamlForm, form, link, saml_form};

/// Two trusted-header upstreams: `arena` behind 127.0.0.1 (the tests'
/// own address) and `arena-distant` behind an address the tests never
/// have.
pub const HEADER_IDPS: &str = r#"[[header_idp]]
id = "arena"
label = "Personnel — portail ARENA"
trusted_proxies = ["127.0.0.1"]
subject_header = "ct-remote-user"
mapping = "agents"

[[header_idp]]
id = "arena-distant"
label = "Personnel — portail ARENA distant"
trusted_proxies = ["192.0.2.10"]
subject_header = "ct-remote-user"
mapping = "agents"
"#;

/// A page the browser ended on.
#[derive(Debug)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub body: String,
}

/// A browser with its own cookie jar.
pub struct Browser {
    client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    /// Every URL requested, in order.
    pub visited: Vec<String>,
    /// The last SAML form submitted.
    pub last_saml_form: Option<SamlForm>,
    /// A SAML form whose action starts with this is not submitted: the page
    /// holding it is returned (a peer that is not a real server).
    pub stop_at: Option<String>,
    /// A redirect whose target starts with this is not followed: the page
    /// returned has the target as its URL and the redirect's status (a
    /// message held before it is delivered).
    pub hold_redirects_to: Option<String>,
}

impl Browser {
    pub fn new() -> Self {
        Self::with_headers(reqwest::header::HeaderMap::new())
    }

    /// A browser sending these headers with every request (what a reverse
    /// proxy in front of the gateway would add).
    pub fn with_headers(headers: reqwest::header::HeaderMap) -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            client: reqwest::Client::builder()
                .cookie_provider(std::sync::Arc::clone(&jar))
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            jar,
            visited: Vec::new(),
            last_saml_form: None,
            stop_at: None,
            hold_redirects_to: None,
        }
    }

    /// Opens a URL and follows redirects and SAML auto-posts.
    pub async fn open(&mut self, url: &str) -> Page {
        self.visited.push(url.to_owned());
        let response = self.client.get(url).send().await.unwrap();
        self.follow(response).await
    }

    /// Posts a form and follows.
    pub async fn post(&mut self, url: &str, fields: &[(String, String)]) -> Page {
        self.visited.push(url.to_owned());
        let response = self.client.post(url).form(fields).send().await.unwrap();
        self.follow(response).await
    }

    async fn follow(&mut self, mut response: reqwest::Response) -> Page {
        loop {
            let url = response.url().clone();
            let status = response.status();
            if status.is_redirection() {
                let location = response.headers()[reqwest::header::LOCATION]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let next = url.join(&location).unwrap().to_string();
                if self
                    .hold_redirects_to
                    .as_ref()
                    .is_some_and(|prefix| next.starts_with(prefix))
                {
                    return Page {
                        url: next,
                        status: status.as_u16(),
                        body: String::new(),
                    };
                }
                self.visited.push(next.clone());
                response = self.client.get(&next).send().await.unwrap();
                continue;
            }
            let body = response.text().await.unwrap();
            if let Some((action, fields)) = saml_form(&body) {
                let next = url.join(&action).unwrap().to_string();
                let stop = self.stop_at.as_ref().is_some_and(|s| next.starts_with(s));
                if !stop {
                    self.visited.push(next.clone());
                    response = self.client.post(&next).form(&fields).send().await.unwrap();
                    self.last_saml_form = Some((next, fields));
                    continue;
                }
            }
            return Page {
                url: url.to_string(),
                status: status.as_u16(),
                body,
            };
        }
    }

    /// On a simulated IdP's account page, logs in as `login`.
    pub async fn login_as(&mut self, page: &Page, login: &str) -> Page {
        assert!(
            page.body.contains(login),
            "account {login} not offered on {}",
            page.url
        );
        let (action, mut fields) = form(&page.body).expect("a login form");
        fields.push(("login".to_owned(), login.to_owned()));
        let target = reqwest::Url::parse(&page.url)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        self.post(&target, &fields).await
    }

    /// Opens a URL that must answer with a redirect, without following it;
    /// returns the absolute target (a message held before it is delivered).
    pub async fn redirect_target(&mut self, url: &str) -> String {
        self.visited.push(url.to_owned());
        let response = self.client.get(url).send().await.unwrap();
        assert!(
            response.status().is_redirection(),
            "{url} answered {} instead of a redirect",
            response.status()
        );
        let location = response.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap();
        response.url().join(location).unwrap().to_string()
    }

    /// The `Cookie` header this browser sends to `url` (empty when none).
    pub fn cookies(&self, url: &str) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&reqwest::Url::parse(url).unwrap())
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// Whether any visited URL contains `part`.
    pub fn went_through(&self, part: &str) -> bool {
        self.visited.iter().any(|url| url.contains(part))
    }
}

/// A demo stack on a free port, with Redis or memory.
pub struct Stack {
    pub stack: DemoStack,
    pub redis: Option<RedisServer>,
}

impl Stack {
    pub async fn redis() -> Self {
        let redis = RedisServer::start().await.unwrap();
        let stack = DemoStack::spawn(DemoStore::Redis(redis.url()))
            .await
            .unwrap();
        Self {
            stack,
            redis: Some(redis),
        }
    }

    /// On Redis, on a listener already bound, with extra services and
    /// configuration (see `DemoStack::start`).
    pub async fn redis_on(
        listener: tokio::net::TcpListener,
        options: sso_gateway::demo::DemoOptions,
    ) -> Self {
        let redis = RedisServer::start().await.unwrap();
        let stack = DemoStack::start(listener, DemoStore::Redis(redis.url()), options)
            .await
            .unwrap();
        Self {
            stack,
            redis: Some(redis),
        }
    }

    /// On Redis, with extra service files (see `DemoStack::spawn_with`).
    pub async fn redis_with(extra_services: Vec<(String, String)>) -> Self {
        let redis = RedisServer::start().await.unwrap();
        let stack = DemoStack::spawn_with(DemoStore::Redis(redis.url()), extra_services)
            .await
            .unwrap();
        Self {
            stack,
            redis: Some(redis),
        }
    }

    pub async fn memory() -> Self {
        Self::memory_with(Vec::new()).await
    }

    /// In memory, with extra service files (see `DemoStack::spawn_with`).
    pub async fn memory_with(extra_services: Vec<(String, String)>) -> Self {
        let stack = DemoStack::spawn_with(DemoStore::Memory, extra_services)
            .await
            .unwrap();
        Self { stack, redis: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.base_url)
    }

    /// A second gateway with this stack's configuration, keys and upstream
    /// IdPs, served at another public URL (another port): the party a message
    /// addressed to this stack must not be accepted by. Returns its base URL.
    pub async fn gateway_at_another_url(&self) -> String {
        self.gateway_at_another_url_with(|text| text).await
    }

    /// [`Stack::gateway_at_another_url`] with its configuration text changed
    /// by `change` (e.g. a shorter ticket lifetime).
    pub async fn gateway_at_another_url_with(&self, change: impl Fn(String) -> String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = format!("http://{}", listener.local_addr().unwrap());
        let text = std::fs::read_to_string(&self.stack.config_path).unwrap();
        let public_url = format!("public_url = \"{}\"", self.stack.base_url);
        assert!(text.contains(&public_url), "{text}");
        let path = self
            .stack
            .config_path
            .with_file_name("gateway-elsewhere.toml");
        std::fs::write(
            &path,
            change(text.replace(&public_url, &format!("public_url = \"{other}\""))),
        )
        .unwrap();
        let loaded = sso_gateway::config::LoadedConfig::load(&path).unwrap();
        let (router, _) = sso_gateway::server::build(&loaded, None).await.unwrap();
        tokio::spawn(sso_gateway::server::serve(listener, router));
        other
    }

    /// The counters of a simulated service provider.
    pub async fn sp_state(&self, sp: &str) -> serde_json::Value {
        reqwest::get(self.url(&format!("/testbed/{sp}/state.json")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// From the ENT home page to the ENT with a session, as `login` through `idp`.
pub async fn login_at_ent(stack: &Stack, browser: &mut Browser, idp: &str, login: &str) -> Page {
    let base = &stack.stack.base_url;
    login_at_ent_apart(base, base, browser, idp, login).await
}

/// [`login_at_ent`] with the simulators at `testbed` and the gateway at
/// `gateway` (two base URLs, see `sso_gateway::demo::Testbed`).
pub async fn login_at_ent_apart(
    testbed: &str,
    gateway: &str,
    browser: &mut Browser,
    idp: &str,
    login: &str,
) -> Page {
    let home = browser.open(&format!("{testbed}/testbed/ent/login")).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.url.starts_with(&format!("{gateway}/login?flow=")),
        "the gateway's discovery page expected, got {}",
        home.url
    );
    assert!(home.body.contains("Élève ou parent"));
    assert!(
        home.body
            .contains("Personnel de l&#x27;Éducation nationale"),
        "{}",
        home.body
    );
    assert!(
        home.body.contains("Mentions légales"),
        "legal notice before login"
    );
    let target =
        link(&home.body, &format!("/login/{idp}?flow=")).expect("a link to the identity provider");
    let accounts = browser.open(&format!("{gateway}{target}")).await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    browser.login_as(&accounts, login).await
}

/// Runs `sso-gateway <args>` with no environment override of the store or
/// the identifier secret (what the configuration says, nothing else):
/// success, stdout, stderr.
pub fn run_gateway(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args(args)
        .env_remove("SSO_REDIS_URL")
        .env_remove("SSO_IDENTIFIER_SECRET")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `sso-gateway <command> --config <config> <args>` against `redis`
/// (through `SSO_REDIS_URL`): success, stdout, stderr.
pub fn operator_command(
    command: &str,
    config: &std::path::Path,
    redis: &RedisServer,
    args: &[&str],
) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .arg(command)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("SSO_REDIS_URL", redis.url())
        .env_remove("SSO_IDENTIFIER_SECRET")
        .env_remove("SSO_ADMIN_TOKEN")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The simulators on a free port, for a gateway at `gateway_addr` on
/// `redis`: the testbed, the gateway's URL, the configuration folder.
pub async fn testbed_for(
    redis: &RedisServer,
    gateway_addr: SocketAddr,
) -> (Testbed, String, tempfile::TempDir) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{gateway_addr}");
    let out = tempfile::tempdir().unwrap();
    let testbed = Testbed::start(listener, &gateway, gateway_addr, &redis.url(), out.path())
        .await
        .unwrap();
    (testbed, gateway, out)
}

/// A child process, killed when dropped.
pub struct ChildProcess(pub std::process::Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sso-gateway serve --config <config>` in its own process (environment
/// overrides removed), its log in `log`.
pub fn serve_child(config: &Path, log: &Path) -> ChildProcess {
    ChildProcess(
        std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("SSO_PUBLIC_URL")
            .env_remove("SSO_LISTEN")
            .env_remove("SSO_REDIS_URL")
            .env_remove("SSO_IDENTIFIER_SECRET")
            .env_remove("SSO_ADMIN_TOKEN")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// Waits until the gateway at `gateway` is ready; fails with its log if it
/// exits or is not ready after a minute.
pub async fn wait_ready(child: &mut ChildProcess, gateway: &str, log: &Path) {
    for _ in 0..600 {
        if let Some(exit) = child.0.try_wait().unwrap() {
            panic!(
                "sso-gateway serve exited ({exit}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(response) = reqwest::get(format!("{gateway}/readyz")).await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "sso-gateway serve not ready:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Forwards a request as it came (method, path and query, headers, body)
/// to `base` and returns the answer as it is (redirects and cookies
/// included): the body of the tests' balancers in front of replicas.
pub async fn forward_to(
    client: &reqwest::Client,
    base: &str,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::header;
    let (parts, body) = request.into_parts();
    let target = format!("{base}{}", parts.uri.path_and_query().unwrap().as_str());
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let mut out = client.request(parts.method, target).body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST {
            out = out.header(name, value);
        }
    }
    let answer = out.send().await.unwrap();
    let mut response = axum::response::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    response
        .body(axum::body::Body::from(answer.bytes().await.unwrap()))
        .unwrap()
}
