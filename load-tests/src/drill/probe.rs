//! The checkers that run beside the drills' login load (issue 7, "Failure
//! drills": "whether any one-time item was accepted twice or any session
//! lost"):
//!
//! - one-time items: a browser with a gateway session obtains CAS service
//!   tickets one after the other through the simulated CAS resource, which
//!   redeems each once at the gateway (it must succeed: the resource
//!   shows the user as logged in); after each fault every ticket redeemed
//!   so far is presented again to `/cas/p3/serviceValidate` and must be
//!   refused;
//! - sessions: a pool of browsers logged in before the fault (acknowledged
//!   logins) come back after it to the ENT with their gateway cookie only;
//!   being sent to the identity provider again is a lost session;
//! - the French unavailable page of an IdP that is down.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::LOCATION;
use sso_testbed::html;
use url::Url;

use crate::record::Recorder;
use crate::walk::{Browser, Targets, VisitPlan, Walk, visit};

/// At most this many hops per page.
const MAX_HOPS: usize = 16;
/// What a simulated service shows once the user is logged in.
pub const LOGGED_IN: &str = "<strong>Connecté.</strong>";
/// Tickets presented again at the same time.
const RECHECKS_IN_FLIGHT: usize = 16;
/// The simulated CAS resource's login.
const CAS_ENTRY: &str = "testbed/atlas/login";
/// The ENT's login (the session pool's entry).
const ENT_ENTRY: &str = "/testbed/ent/login";
/// How long one browser request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// What the gateway's page says while an IdP is down.
const UNAVAILABLE: &str = "momentanément indisponible";

/// The last page of a walk followed hop by hop.
#[derive(Debug)]
pub struct Hop {
    /// Its status.
    pub status: u16,
    /// Its URL.
    pub url: Url,
    /// Its HTML.
    pub body: String,
}

/// Follows redirects and SAML auto-posts from `start`, passing every URL
/// to `seen` before requesting it; when `seen` answers `false` the walk
/// stops there (the last page is the one that pointed at it).
pub async fn follow(
    client: &reqwest::Client,
    start: Url,
    seen: impl FnMut(&Url) -> bool,
) -> Result<Hop, String> {
    follow_from(client, client.get(start.clone()), start, seen).await
}

/// [`follow`] from a request already built (a form's POST) to `start`.
async fn follow_from(
    client: &reqwest::Client,
    first: reqwest::RequestBuilder,
    start: Url,
    mut seen: impl FnMut(&Url) -> bool,
) -> Result<Hop, String> {
    let mut request = first;
    let mut url = start;
    let mut last = Hop {
        status: 0,
        url: url.clone(),
        body: String::new(),
    };
    for _ in 0..MAX_HOPS {
        if !seen(&url) {
            return Ok(last);
        }
        let response = request
            .send()
            .await
            .map_err(|err| format!("{} {}: {err}", url.path(), kind(&err)))?;
        let status = response.status();
        let location = response.headers().get(LOCATION).cloned();
        let body = response
            .text()
            .await
            .map_err(|err| format!("{}: {}", url.path(), kind(&err)))?;
        last = Hop {
            status: status.as_u16(),
            url: url.clone(),
            body: String::new(),
        };
        if status.is_redirection() {
            url = location
                .and_then(|value| value.to_str().ok().and_then(|l| url.join(l).ok()))
                .ok_or_else(|| format!("{}: redirect without a location", url.path()))?;
            request = client.get(url.clone());
            continue;
        }
        if status.is_success()
            && let Some((action, fields)) = html::saml_form(&body)
        {
            url = url
                .join(&action)
                .map_err(|_| format!("{}: bad form action", url.path()))?;
            request = client.post(url.clone()).form(&fields);
            continue;
        }
        return Ok(Hop {
            status: status.as_u16(),
            url,
            body,
        });
    }
    Err("more than 16 hops".into())
}

fn kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

/// A CAS service ticket redeemed once by the simulated resource.
#[derive(Debug, Clone)]
struct Ticket {
    service: String,
    ticket: String,
    /// When the resource redeemed it, ms since the run started.
    at_ms: u32,
}

/// What re-presenting the redeemed tickets found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayCheck {
    /// Tickets presented again.
    pub checked: usize,
    /// Tickets the gateway accepted a second time.
    pub accepted_twice: usize,
    /// Tickets whose second presentation got no answer.
    pub unanswered: usize,
}

/// The one-time items' checker.
pub struct TicketChecker {
    tickets: Mutex<Vec<Ticket>>,
    /// Tickets obtained and redeemed once.
    pub redeemed: AtomicU64,
    /// Attempts that did not end with a redeemed ticket.
    pub failed: AtomicU64,
}

impl TicketChecker {
    /// An empty checker.
    pub fn new() -> Self {
        Self {
            tickets: Mutex::new(Vec::new()),
            redeemed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    fn tickets(&self) -> Vec<Ticket> {
        self.tickets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Obtains tickets, one every `pause`, until `stop`.
    pub async fn run(&self, targets: &Targets, recorder: &Recorder, stop: &AtomicBool) {
        let Ok(browser) = Browser::new(REQUEST_TIMEOUT) else {
            return;
        };
        while !stop.load(Ordering::SeqCst) {
            match obtain(&browser, targets, true).await {
                Ok(Some(mut ticket)) => {
                    ticket.at_ms = recorder.now_ms();
                    self.redeemed.fetch_add(1, Ordering::SeqCst);
                    self.tickets
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(ticket);
                }
                Ok(None) => {
                    // No gateway session (first round, or lost): log in.
                    let walk = Walk {
                        browser: &browser,
                        targets,
                        recorder,
                    };
                    browser.forget_all();
                    if let Err(err) = visit(&walk, ent_plan("eleve.emma")).await {
                        tracing::debug!(error = %err, "the ticket checker could not log in");
                        self.failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "the ticket checker got no ticket");
                    self.failed.fetch_add(1, Ordering::SeqCst);
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Presents again every ticket redeemed since `since_ms` (the drill's
    /// start: older ones have expired anyway), [`RECHECKS_IN_FLIGHT`] at
    /// a time: each must be refused.
    pub async fn recheck(&self, targets: &Targets, since_ms: u32) -> ReplayCheck {
        let mut check = ReplayCheck::default();
        let client = plain_client();
        let tickets: Vec<Ticket> = self
            .tickets()
            .into_iter()
            .filter(|ticket| ticket.at_ms >= since_ms)
            .collect();
        for batch in tickets.chunks(RECHECKS_IN_FLIGHT) {
            let mut tasks = tokio::task::JoinSet::new();
            for ticket in batch {
                let (client, targets, ticket) = (client.clone(), targets.clone(), ticket.clone());
                tasks.spawn(async move { present(&client, &targets, &ticket).await });
            }
            while let Some(answer) = tasks.join_next().await {
                check.checked += 1;
                match answer.ok().flatten() {
                    Some(true) => check.accepted_twice += 1,
                    Some(false) => {}
                    None => check.unanswered += 1,
                }
            }
        }
        check
    }

    /// The checker's positive control: a ticket the resource did not
    /// redeem, presented by the checker, is accepted once and then
    /// refused. `Some(true)` when both held.
    pub async fn control(&self, targets: &Targets, recorder: &Recorder) -> Option<bool> {
        let browser = Browser::new(REQUEST_TIMEOUT).ok()?;
        let walk = Walk {
            browser: &browser,
            targets,
            recorder,
        };
        visit(&walk, ent_plan("eleve.nathan")).await.ok()?;
        let ticket = obtain(&browser, targets, false).await.ok()??;
        let client = plain_client();
        let first = present(&client, targets, &ticket).await?;
        let second = present(&client, targets, &ticket).await?;
        Some(first && !second)
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Presents `ticket` to the gateway's `/cas/p3/serviceValidate`: whether it
/// was accepted, `None` without a CAS answer.
async fn present(client: &reqwest::Client, targets: &Targets, ticket: &Ticket) -> Option<bool> {
    let mut url = targets.gateway.join("cas/p3/serviceValidate").ok()?;
    url.query_pairs_mut()
        .append_pair("service", &ticket.service)
        .append_pair("ticket", &ticket.ticket);
    let body = client.get(url).send().await.ok()?.text().await.ok()?;
    if body.contains("authenticationSuccess") {
        Some(true)
    } else if body.contains("authenticationFailure") {
        Some(false)
    } else {
        None
    }
}

/// One ticket through the CAS resource, which redeems it unless `redeem`
/// is false (the walk then stops at the redirect that carries it):
/// `Ok(None)` when the gateway asked for a login instead.
async fn obtain(
    browser: &Browser,
    targets: &Targets,
    redeem: bool,
) -> Result<Option<Ticket>, String> {
    browser.keep_only(&targets.gateway);
    let entry = targets
        .testbed
        .join(CAS_ENTRY)
        .map_err(|err| err.to_string())?;
    let (mut service, mut ticket) = (None, None);
    let hop = follow(browser.client(), entry, |url| {
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "service" if url.path().ends_with("/cas/login") => {
                    service = Some(value.into_owned());
                }
                "ticket" => ticket = Some(value.into_owned()),
                _ => {}
            }
        }
        redeem || ticket.is_none()
    })
    .await?;
    if html::link(&hop.body, "/login/educonnect?flow=").is_some() {
        return Ok(None);
    }
    let done = if redeem {
        hop.body.contains(LOGGED_IN)
    } else {
        hop.status == 303 || hop.status == 302
    };
    match (done, service, ticket) {
        (true, Some(service), Some(ticket)) => Ok(Some(Ticket {
            service,
            ticket,
            at_ms: 0,
        })),
        (logged_in, service, ticket) => Err(format!(
            "HTTP {} without a redeemed ticket (logged in: {logged_in}, service seen: {}, ticket seen: {})",
            hop.status,
            service.is_some(),
            ticket.is_some()
        )),
    }
}

fn ent_plan(account: &str) -> VisitPlan<'_> {
    VisitPlan {
        entry: ENT_ENTRY,
        idp: "educonnect",
        account,
        resources: 0,
        offset: 0,
    }
}

/// Accounts of the session pool, in turn.
const POOL_ACCOUNTS: [&str; 3] = ["eleve.louis", "eleve.emma", "eleve.nathan"];

/// What coming back with the pool's sessions found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCheck {
    /// Browsers logged in before the fault.
    pub pool: usize,
    /// Sessions still valid after it.
    pub kept: usize,
    /// Sessions lost (the gateway asked for a new login).
    pub lost: usize,
    /// Browsers that got no answer (after three tries).
    pub unchecked: usize,
}

/// Logs `size` browsers in through the ENT; the acknowledged ones form the
/// pool.
pub async fn login_pool(targets: &Targets, recorder: &Recorder, size: usize) -> Vec<Browser> {
    let logins = (0..size).map(|index| async move {
        let browser = Browser::new(REQUEST_TIMEOUT).ok()?;
        let account = POOL_ACCOUNTS
            .get(index % POOL_ACCOUNTS.len())
            .copied()
            .unwrap_or("eleve.louis");
        let walk = Walk {
            browser: &browser,
            targets,
            recorder,
        };
        visit(&walk, ent_plan(account)).await.ok()?;
        Some(browser)
    });
    futures_util::future::join_all(logins)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Brings every browser of `pool` back to the ENT with its gateway
/// cookie only.
pub async fn check_pool(pool: &[Browser], targets: &Targets, recorder: &Recorder) -> SessionCheck {
    let checks = pool.iter().enumerate().map(|(index, browser)| async move {
        let account = POOL_ACCOUNTS
            .get(index % POOL_ACCOUNTS.len())
            .copied()
            .unwrap_or("eleve.louis");
        let walk = Walk {
            browser,
            targets,
            recorder,
        };
        for _ in 0..3 {
            browser.keep_only(&targets.gateway);
            match visit(&walk, ent_plan(account)).await {
                // Sent to the IdP again: the session was lost.
                Ok(landed) => return Some(!landed.logged_in),
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
        None
    });
    let mut check = SessionCheck {
        pool: pool.len(),
        ..SessionCheck::default()
    };
    for kept in futures_util::future::join_all(checks).await {
        match kept {
            Some(true) => check.kept += 1,
            Some(false) => check.lost += 1,
            None => check.unchecked += 1,
        }
    }
    check
}

/// Whether a new user of `idp` gets the gateway's French unavailable page.
pub async fn unavailable_page(targets: &Targets, recorder: &Recorder, idp: &str) -> bool {
    let Ok(browser) = Browser::new(REQUEST_TIMEOUT) else {
        return false;
    };
    let walk = Walk {
        browser: &browser,
        targets,
        recorder,
    };
    let Ok(entry) = targets.testbed.join(ENT_ENTRY.trim_start_matches('/')) else {
        return false;
    };
    let Ok(page) = walk.open(entry).await else {
        return false;
    };
    let Ok(login) = Walk::link(&page, &format!("/login/{idp}?flow="), "no link to the IdP") else {
        return false;
    };
    let client = browser.client();
    let Ok(mut hop) = follow(client, login, |_| true).await else {
        return false;
    };
    // A replica whose breaker is still closed sends the browser to the
    // IdP: choose the account; the back channel fails at the callback.
    if hop.status == 200
        && let Some((action, mut fields)) = html::form(&hop.body)
        && let Ok(target) = hop.url.join(&action)
    {
        fields.push(("login".to_owned(), "eleve.louis".to_owned()));
        let post = client.post(target.clone()).form(&fields);
        match follow_from(client, post, target, |_| true).await {
            Ok(next) => hop = next,
            Err(_) => return false,
        }
    }
    hop.status == 503 && hop.body.contains(UNAVAILABLE)
}
