//! A simulated browser walking the real protocol messages: its own cookie
//! jar, redirects followed by hand and SAML auto-post forms submitted as
//! a browser with JavaScript would, so that every hop is timed and
//! attributed to the server that answered it (gateway or testbed).
//!
//! A visit (issue 6, "Scenarios"): open the entry page (the ENT's login,
//! or a resource's), pick the identity provider on the gateway's
//! discovery page, choose the account on the simulated IdP, come back
//! through the gateway to the landing page, then open resources from the
//! médiacentre list. A returning user skips the IdP: the gateway answers
//! from the session it holds.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderValue, LOCATION};
use url::Url;

use sso_testbed::html;

use crate::record::{Recorder, Side};

/// At most this many hops (redirects and auto-posts) per page opened.
const MAX_HOPS: usize = 16;
/// What a resource or landing page says once the user is logged in.
const LOGGED_IN: &str = "<strong>Connecté.</strong>";
/// Where the ENT lists the médiacentre's resources.
const MEDIACENTRE_LINK: &str = "/mediacentre/ouvrir/";

/// The base URLs of the gateway and of the simulators.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The gateway under test.
    pub gateway: Url,
    /// The simulated IdPs and services (`/testbed/...` under it).
    pub testbed: Url,
}

impl Targets {
    fn side(&self, url: &Url) -> Side {
        if url.origin() == self.gateway.origin() {
            Side::Gateway
        } else {
            Side::Testbed
        }
    }
}

/// Why an attempt failed; its [`StepError::kind`] groups failures in the
/// report.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A server answered with an error status.
    #[error("HTTP {status} at {step}")]
    Status {
        /// The status.
        status: u16,
        /// `METHOD /path`.
        step: String,
    },
    /// No answer in time.
    #[error("timeout at {step}")]
    Timeout {
        /// `METHOD /path`.
        step: String,
    },
    /// The connection failed.
    #[error("connection failed at {step}")]
    Connect {
        /// `METHOD /path`.
        step: String,
    },
    /// Another transport error.
    #[error("transport error at {step}: {reason}")]
    Transport {
        /// `METHOD /path`.
        step: String,
        /// reqwest's message.
        reason: String,
    },
    /// The page is not the one expected.
    #[error("unexpected page at {step}: {what}")]
    Unexpected {
        /// `METHOD /path` that gave the page.
        step: String,
        /// What was missing.
        what: &'static str,
    },
    /// A URL in a page or a `Location` does not parse.
    #[error("bad URL at {step}")]
    BadUrl {
        /// `METHOD /path` that gave it.
        step: String,
    },
}

impl StepError {
    /// The failure's kind, without the parts that vary (reports).
    pub fn kind(&self) -> String {
        match self {
            StepError::Transport { step, .. } => format!("transport error at {step}"),
            other => other.to_string(),
        }
    }
}

/// A cookie jar that can be emptied (a new visitor) or reduced to the
/// gateway's cookies (a returning user) without rebuilding the client.
#[derive(Default)]
struct SwapJar(RwLock<Arc<Jar>>);

impl SwapJar {
    fn current(&self) -> Arc<Jar> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn replace(&self, jar: Jar) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(jar);
    }
}

impl CookieStore for SwapJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.current().set_cookies(headers, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.current().cookies(url)
    }
}

/// One simulated user's browser.
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<SwapJar>,
}

/// A page the browser ended on.
#[derive(Debug)]
pub struct Page {
    /// Its URL.
    pub url: Url,
    /// The step that served it.
    pub step: String,
    /// Its HTML.
    pub body: String,
}

impl Browser {
    /// A browser with an empty jar; redirects are not followed by the
    /// client (the walk follows them, timing each).
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        let jar = Arc::new(SwapJar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(Arc::clone(&jar))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent("sso-load (goose)")
            .build()?;
        Ok(Self { client, jar })
    }

    /// The HTTP client (cookie jar included, redirects not followed), for
    /// callers that must see each hop (the failure drills' checkers).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Forgets every cookie: the next visit is a new visitor's.
    pub fn forget_all(&self) {
        self.jar.replace(Jar::default());
    }

    /// Keeps only the cookies the gateway set (its session): a returning
    /// user whose services' sessions have ended.
    pub fn keep_only(&self, gateway: &Url) {
        let kept = Jar::default();
        if let Some(header) = self.jar.cookies(gateway)
            && let Ok(text) = header.to_str()
        {
            for pair in text.split("; ") {
                kept.add_cookie_str(pair, gateway);
            }
        }
        self.jar.replace(kept);
    }
}

fn step_name(method: &str, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// One walk through pages, recording every exchange.
pub struct Walk<'a> {
    /// The browser.
    pub browser: &'a Browser,
    /// Where the gateway and the testbed are.
    pub targets: &'a Targets,
    /// Where exchanges are recorded.
    pub recorder: &'a Recorder,
}

enum Next {
    Get(Url),
    Post(Url, Vec<(String, String)>),
}

impl Walk<'_> {
    /// Opens `url`, following redirects and SAML auto-posts.
    pub async fn open(&self, url: Url) -> Result<Page, StepError> {
        self.walk(Next::Get(url)).await
    }

    /// Submits a form, then follows.
    pub async fn submit(&self, url: Url, fields: Vec<(String, String)>) -> Result<Page, StepError> {
        self.walk(Next::Post(url, fields)).await
    }

    async fn walk(&self, mut next: Next) -> Result<Page, StepError> {
        for _ in 0..MAX_HOPS {
            let (url, step, request) = match next {
                Next::Get(url) => {
                    let step = step_name("GET", &url);
                    let request = self.browser.client.get(url.clone());
                    (url, step, request)
                }
                Next::Post(url, fields) => {
                    let step = step_name("POST", &url);
                    let request = self.browser.client.post(url.clone()).form(&fields);
                    (url, step, request)
                }
            };
            let started = Instant::now();
            let response = request.send().await.map_err(|err| transport(&step, &err))?;
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            for (step, took) in gateway_timings(response.headers()) {
                self.recorder.step(&step, Side::Gateway, took);
            }
            let body = response
                .text()
                .await
                .map_err(|err| transport(&step, &err))?;
            self.recorder
                .step(&step, self.targets.side(&url), started.elapsed());
            if status.is_redirection() {
                let target = location
                    .and_then(|value| value.to_str().ok().map(str::to_owned))
                    .and_then(|location| url.join(&location).ok())
                    .ok_or_else(|| StepError::BadUrl { step: step.clone() })?;
                next = Next::Get(target);
                continue;
            }
            if !status.is_success() {
                return Err(StepError::Status {
                    status: status.as_u16(),
                    step,
                });
            }
            if let Some((action, fields)) = html::saml_form(&body) {
                let target = url
                    .join(&action)
                    .map_err(|_| StepError::BadUrl { step: step.clone() })?;
                next = Next::Post(target, fields);
                continue;
            }
            return Ok(Page { url, step, body });
        }
        Err(StepError::Unexpected {
            step: "(walk)".into(),
            what: "more than 16 redirects and auto-posts in a row",
        })
    }

    /// A link of `page` containing `part`, as an absolute URL.
    pub fn link(page: &Page, part: &str, what: &'static str) -> Result<Url, StepError> {
        let target = html::link(&page.body, part).ok_or_else(|| StepError::Unexpected {
            step: page.step.clone(),
            what,
        })?;
        page.url.join(&target).map_err(|_| StepError::BadUrl {
            step: page.step.clone(),
        })
    }
}

/// The gateway's server-to-server steps a simulator reports in
/// `Server-Timing` (`gateway;desc="GET /api/mediacentre";dur=1.234`), each
/// named `<desc> (server to server)`.
fn gateway_timings(headers: &reqwest::header::HeaderMap) -> Vec<(String, Duration)> {
    headers
        .get_all("server-timing")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| {
            let mut parts = entry.trim().split(';');
            if parts.next()? != "gateway" {
                return None;
            }
            let (mut desc, mut dur) = (None, None);
            for part in parts {
                match part.trim().split_once('=') {
                    Some(("desc", value)) => desc = Some(value.trim_matches('"').to_owned()),
                    Some(("dur", value)) => dur = value.parse::<f64>().ok(),
                    _ => {}
                }
            }
            let took = Duration::try_from_secs_f64(dur? / 1000.0).ok()?;
            Some((format!("{} (server to server)", desc?), took))
        })
        .collect()
}

fn transport(step: &str, err: &reqwest::Error) -> StepError {
    let step = step.to_owned();
    if err.is_timeout() {
        StepError::Timeout { step }
    } else if err.is_connect() {
        StepError::Connect { step }
    } else {
        StepError::Transport {
            step,
            reason: err.to_string(),
        }
    }
}

/// What one attempt of a visit achieved.
#[derive(Debug)]
pub struct Landed {
    /// Whether the user logged in at the IdP (false: the gateway's
    /// session answered).
    pub logged_in: bool,
    /// Resources opened.
    pub accesses: u8,
    /// From the first request to the landing page.
    pub login_time: Duration,
}

/// What a visit does.
#[derive(Debug, Clone, Copy)]
pub struct VisitPlan<'a> {
    /// Entry path on the testbed.
    pub entry: &'a str,
    /// Upstream IdP id at the gateway.
    pub idp: &'a str,
    /// Account at the simulated IdP.
    pub account: &'a str,
    /// Resources to open from the médiacentre list.
    pub resources: u8,
    /// Which resources first (rotates the choice between visits).
    pub offset: usize,
}

/// One attempt of a visit.
pub async fn visit(walk: &Walk<'_>, plan: VisitPlan<'_>) -> Result<Landed, StepError> {
    let started = Instant::now();
    let entry = walk
        .targets
        .testbed
        .join(plan.entry.trim_start_matches('/'))
        .map_err(|_| StepError::BadUrl {
            step: plan.entry.to_owned(),
        })?;
    let mut page = walk.open(entry).await?;
    let mut logged_in = false;
    // Without the login mark, the gateway's session did not answer: the
    // discovery page, then the IdP.
    if !page.body.contains(LOGGED_IN) {
        let choice = format!("/login/{}?flow=", plan.idp);
        let idp = Walk::link(&page, &choice, "no link to the identity provider")?;
        let accounts = walk.open(idp).await?;
        logged_in = true;
        page = if accounts.body.contains(LOGGED_IN) {
            // The IdP's own session answered (a retry after a failure
            // past the IdP): no login form.
            accounts
        } else {
            let (action, mut fields) =
                html::form(&accounts.body).ok_or_else(|| StepError::Unexpected {
                    step: accounts.step.clone(),
                    what: "no account form at the identity provider",
                })?;
            fields.push(("login".to_owned(), plan.account.to_owned()));
            let target = accounts.url.join(&action).map_err(|_| StepError::BadUrl {
                step: accounts.step.clone(),
            })?;
            walk.submit(target, fields).await?
        };
    }
    if !page.body.contains(LOGGED_IN) {
        return Err(StepError::Unexpected {
            step: page.step,
            what: "not logged in on the landing page",
        });
    }
    let login_time = started.elapsed();
    let resources: Vec<String> = html::links(&page.body)
        .into_iter()
        .filter(|target| target.contains(MEDIACENTRE_LINK))
        .collect();
    if usize::from(plan.resources) > resources.len() {
        return Err(StepError::Unexpected {
            step: page.step,
            what: "fewer resources in the médiacentre than the scenario opens",
        });
    }
    let mut accesses = 0;
    for index in 0..usize::from(plan.resources) {
        let Some(target) = resources.get((plan.offset + index) % resources.len()) else {
            break;
        };
        let url = page.url.join(target).map_err(|_| StepError::BadUrl {
            step: page.step.clone(),
        })?;
        let resource = walk.open(url).await?;
        if !resource.body.contains(LOGGED_IN) {
            return Err(StepError::Unexpected {
                step: resource.step,
                what: "the resource did not open with the session",
            });
        }
        accesses += 1;
    }
    Ok(Landed {
        logged_in,
        accesses,
        login_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_entries_of_the_gateway_are_read() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.append(
            "server-timing",
            HeaderValue::from_static("gateway;desc=\"GET /api/mediacentre\";dur=1.250, db;dur=3"),
        );
        headers.append("server-timing", HeaderValue::from_static("gateway;dur=2"));
        let timings = gateway_timings(&headers);
        assert_eq!(
            timings,
            [(
                "GET /api/mediacentre (server to server)".to_owned(),
                Duration::from_micros(1250)
            )]
        );
    }
}
