//! The synthetic prober (issue 7: "performs a full login through a test
//! account against a deployment every N seconds and records the outcome").
//!
//! One run is a fresh browser: an empty cookie jar, redirects followed by
//! hand (bounded hop count, a timeout per request), the identity provider's
//! login form filled (the form holding a password input: the text input
//! takes the username; or, on a simulated IdP without passwords, the radio
//! button whose value is the username), SAML HTTP-POST auto-submitting
//! forms (SAMLRequest/SAMLResponse/RelayState) and other hidden-only POST
//! forms submitted, chosen links followed, until the final page matches the
//! expectation (a text of the page, or a URL prefix; without one, a page of
//! the start URL's site reached after the login with nothing left to
//! submit). The password is only
//! ever sent in the login form: never logged, never recorded.
//!
//! [`decide`] (what to do with a page) is pure; [`run_once`] and [`run`]
//! do the HTTP and the file writing.

pub mod html;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::LOCATION;
use url::Url;

use crate::record::{Outcome, ProbeRecord, append};
use html::{Form, PageModel};

/// What one probe does.
#[derive(Clone)]
pub struct ProbeOptions {
    /// Name written in the records.
    pub name: String,
    /// The service page that requires login.
    pub start: Url,
    /// The test account's identifier.
    pub username: String,
    /// Its password, when the IdP asks for one.
    pub password: Option<String>,
    /// The final page contains this text, or its URL starts with it when it
    /// is an `http(s)://` URL; `None`: any page of the start URL's site
    /// reached after the login form, with nothing left to submit.
    pub expect: Option<String>,
    /// Link parts to follow when a page has no form to submit (e.g. the
    /// discovery page's link to one IdP), in order of preference.
    pub follow: Vec<String>,
    /// Name of the username field (default: the form's first text input).
    pub username_field: Option<String>,
    /// Name of the password field (default: the form's password input).
    pub password_field: Option<String>,
    /// Timeout of each request.
    pub timeout: Duration,
    /// Most requests in one run.
    pub max_hops: usize,
    /// Seconds between runs (written in each record).
    pub interval_s: u64,
}

impl std::fmt::Debug for ProbeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeOptions")
            .field("name", &self.name)
            .field("start", &self.start.as_str())
            .field("password", &self.password.as_ref().map(|_| "(masqué)"))
            .field("expect", &self.expect)
            .field("follow", &self.follow)
            .finish_non_exhaustive()
    }
}

/// The steps a failure is attributed to.
pub mod step {
    /// GET of the start URL.
    pub const START: &str = "start";
    /// Following a redirect.
    pub const REDIRECT: &str = "redirect";
    /// Following a chosen link.
    pub const LINK: &str = "link";
    /// Submitting the login form.
    pub const LOGIN: &str = "login";
    /// Submitting a SAML auto-post form.
    pub const SAML_POST: &str = "saml-post";
    /// Submitting another hidden-only form.
    pub const FORM: &str = "form";
    /// A page from which the probe cannot go on.
    pub const FINAL_PAGE: &str = "final-page";
}

/// The next request a browser would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The final page matched.
    Done,
    /// GET this URL.
    Get {
        /// Absolute URL.
        url: String,
        /// Step it belongs to.
        step: &'static str,
    },
    /// POST this form.
    Post {
        /// Absolute URL.
        url: String,
        /// Form fields.
        fields: Vec<(String, String)>,
        /// Step it belongs to.
        step: &'static str,
    },
    /// Give up.
    Fail {
        /// Step it belongs to.
        step: &'static str,
        /// Why (French, no page content, no secret).
        reason: String,
    },
}

/// What the run has done so far (for [`decide`]).
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    /// The login form was submitted.
    pub credentials_sent: bool,
    /// Link targets already followed.
    pub followed: Vec<String>,
}

fn matches_expect(expect: &str, url: &Url, body: &str) -> bool {
    if expect.starts_with("http://") || expect.starts_with("https://") {
        url.as_str().starts_with(expect)
    } else {
        body.contains(expect)
    }
}

fn target(base: &Url, form: &Form) -> Option<String> {
    match &form.action {
        Some(action) => base.join(action).ok().map(String::from),
        None => Some(base.to_string()),
    }
}

fn fail(step: &'static str, reason: &str) -> Next {
    Next::Fail {
        step,
        reason: reason.to_owned(),
    }
}

/// What to do with a 2xx page at `url`.
pub fn decide(url: &Url, body: &str, state: &mut FlowState, options: &ProbeOptions) -> Next {
    if let Some(expect) = &options.expect
        && matches_expect(expect, url, body)
    {
        return Next::Done;
    }
    let page: PageModel = html::parse(body);
    let pending = page.forms.iter().any(|f| {
        f.is_saml_post()
            || f.inputs
                .iter()
                .any(|i| i.kind == "password" || i.kind == "radio")
    });
    if options.expect.is_none()
        && state.credentials_sent
        && !pending
        && url.origin() == options.start.origin()
    {
        return Next::Done;
    }
    let post =
        |form: &Form, fields: Vec<(String, String)>, step: &'static str| match target(url, form) {
            Some(url) if form.post => Next::Post { url, fields, step },
            Some(_) => fail(step, "formulaire en GET non pris en charge"),
            None => fail(step, "adresse du formulaire invalide"),
        };
    if let Some(form) = page.forms.iter().find(|f| f.is_saml_post()) {
        return post(form, form.hidden(), step::SAML_POST);
    }
    if let Some(form) = page
        .forms
        .iter()
        .find(|f| f.input_of_kind("password").is_some())
    {
        if state.credentials_sent {
            return fail(
                step::LOGIN,
                "identifiants refusés : le formulaire de connexion est revenu",
            );
        }
        let Some(password) = &options.password else {
            return fail(
                step::LOGIN,
                "le fournisseur d'identité demande un mot de passe et aucun n'est fourni",
            );
        };
        let user_field = options.username_field.clone().or_else(|| {
            form.inputs
                .iter()
                .find(|i| i.kind == "text" || i.kind == "email")
                .map(|i| i.name.clone())
        });
        let pass_field = options
            .password_field
            .clone()
            .or_else(|| form.input_of_kind("password").map(|i| i.name.clone()));
        let (Some(user_field), Some(pass_field)) = (user_field, pass_field) else {
            return fail(
                step::LOGIN,
                "champ identifiant introuvable dans le formulaire",
            );
        };
        let mut fields = form.hidden();
        fields.push((user_field, options.username.clone()));
        fields.push((pass_field, password.clone()));
        state.credentials_sent = true;
        return post(form, fields, step::LOGIN);
    }
    if let Some(form) = page
        .forms
        .iter()
        .find(|f| f.inputs.iter().any(|i| i.kind == "radio"))
    {
        if state.credentials_sent {
            return fail(
                step::LOGIN,
                "connexion refusée : le choix du compte est revenu",
            );
        }
        let Some(radio) = form
            .inputs
            .iter()
            .find(|i| i.kind == "radio" && i.value == options.username)
        else {
            return fail(
                step::LOGIN,
                "le compte de test n'est pas proposé par le fournisseur d'identité",
            );
        };
        let mut fields = form.hidden();
        fields.push((radio.name.clone(), radio.value.clone()));
        state.credentials_sent = true;
        return post(form, fields, step::LOGIN);
    }
    for part in &options.follow {
        let found = page
            .links
            .iter()
            .filter(|l| l.contains(part.as_str()))
            .filter_map(|l| url.join(l).ok())
            .map(String::from)
            .find(|l| !state.followed.contains(l));
        if let Some(link) = found {
            state.followed.push(link.clone());
            return Next::Get {
                url: link,
                step: step::LINK,
            };
        }
    }
    if let Some(form) = page
        .forms
        .iter()
        .find(|f| f.post && !f.inputs.is_empty() && f.inputs.iter().all(|i| i.kind == "hidden"))
    {
        return post(form, form.hidden(), step::FORM);
    }
    fail(
        step::FINAL_PAGE,
        "la page atteinte ne correspond pas à l'attendu et ne propose rien à suivre",
    )
}

/// The start URL without query or fragment (what records name).
pub fn target_name(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Why the prober could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The HTTP client could not be built.
    #[error("client HTTP : {0}")]
    Client(#[from] reqwest::Error),
    /// The records file cannot be written.
    #[error("{file} : écriture impossible ({source})")]
    Output {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
}

/// One full login; the record says how it went.
pub async fn run_once(options: &ProbeOptions) -> Result<ProbeRecord, ProbeError> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.timeout)
        .build()?;
    let started = Utc::now();
    let clock = Instant::now();
    let (step, http_status, reason) = login(&client, options).await.err().unwrap_or_default();
    let ok = step.is_empty();
    Ok(ProbeRecord {
        time: started,
        probe: options.name.clone(),
        target: target_name(&options.start),
        outcome: if ok { Outcome::Ok } else { Outcome::Failed },
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        interval_s: options.interval_s,
        step: (!ok).then(|| step.to_owned()),
        http_status,
        reason: (!ok).then_some(reason),
    })
}

type Failure = (&'static str, Option<u16>, String);

async fn login(client: &reqwest::Client, options: &ProbeOptions) -> Result<(), Failure> {
    let mut state = FlowState::default();
    let mut next = Next::Get {
        url: options.start.to_string(),
        step: step::START,
    };
    for _ in 0..options.max_hops {
        let (request, step) = match next {
            Next::Done => return Ok(()),
            Next::Fail { step, reason } => return Err((step, None, reason)),
            Next::Get { url, step } => (client.get(url), step),
            Next::Post { url, fields, step } => (client.post(url).form(&fields), step),
        };
        let response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "délai dépassé"
            } else if e.is_connect() {
                "connexion impossible"
            } else {
                "erreur HTTP"
            };
            (step, None, why.to_owned())
        })?;
        let status = response.status();
        let url = response.url().clone();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or((
                    step,
                    Some(status.as_u16()),
                    "redirection sans adresse valide".to_owned(),
                ))?;
            next = Next::Get {
                url: location.into(),
                step: step::REDIRECT,
            };
            continue;
        }
        if !status.is_success() {
            return Err((step, Some(status.as_u16()), "réponse en erreur".to_owned()));
        }
        let body = response
            .text()
            .await
            .map_err(|_| (step, Some(status.as_u16()), "page illisible".to_owned()))?;
        next = decide(&url, &body, &mut state, options);
    }
    match next {
        Next::Done => Ok(()),
        _ => Err((
            step::REDIRECT,
            None,
            format!("plus de {} requêtes", options.max_hops),
        )),
    }
}

/// Runs the probe every `interval_s` seconds (once when `once`), appending
/// each record to `out` and printing one line per run; returns the last
/// outcome.
pub async fn run(options: &ProbeOptions, out: &Path, once: bool) -> Result<Outcome, ProbeError> {
    loop {
        let record = run_once(options).await?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .and_then(|f| append(f, &record))
            .map_err(|source| ProbeError::Output {
                file: out.display().to_string(),
                source,
            })?;
        println!("{}", summary_line(&record));
        if once {
            return Ok(record.outcome);
        }
        tokio::time::sleep(Duration::from_secs(options.interval_s)).await;
    }
}

/// One line for people (French).
pub fn summary_line(record: &ProbeRecord) -> String {
    match record.outcome {
        Outcome::Ok => format!(
            "{} sonde {} : connexion réussie en {} ms",
            record.time.format("%Y-%m-%dT%H:%M:%SZ"),
            record.probe,
            record.duration_ms
        ),
        Outcome::Failed => format!(
            "{} sonde {} : ÉCHEC à l'étape {}{} en {} ms : {}",
            record.time.format("%Y-%m-%dT%H:%M:%SZ"),
            record.probe,
            record.step.as_deref().unwrap_or("?"),
            record
                .http_status
                .map(|s| format!(" (HTTP {s})"))
                .unwrap_or_default(),
            record.duration_ms,
            record.reason.as_deref().unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ProbeOptions {
        ProbeOptions {
            name: "p".into(),
            start: Url::parse("https://ent.example/login?x=1").unwrap(),
            username: "alice".into(),
            password: Some("s3cret".into()),
            expect: Some("Bienvenue".into()),
            follow: vec!["/login/educonnect".into()],
            username_field: None,
            password_field: None,
            timeout: Duration::from_secs(5),
            max_hops: 10,
            interval_s: 60,
        }
    }

    fn page() -> Url {
        Url::parse("https://idp.example/sso/page").unwrap()
    }

    #[test]
    fn the_expected_text_or_url_prefix_ends_the_run() {
        let mut state = FlowState::default();
        assert_eq!(
            decide(&page(), "<p>Bienvenue</p>", &mut state, &options()),
            Next::Done
        );
        let mut by_url = options();
        by_url.expect = Some("https://idp.example/sso".into());
        assert_eq!(decide(&page(), "", &mut state, &by_url), Next::Done);
        by_url.expect = Some("https://other.example/".into());
        assert!(matches!(
            decide(&page(), "", &mut state, &by_url),
            Next::Fail {
                step: "final-page",
                ..
            }
        ));
    }

    #[test]
    fn without_expectation_the_run_ends_back_on_the_start_site_after_login() {
        let mut none = options();
        none.expect = None;
        let ent = Url::parse("https://ent.example/accueil").unwrap();
        let mut state = FlowState::default();
        assert!(
            matches!(
                decide(&ent, "<p>Accueil</p>", &mut state, &none),
                Next::Fail { .. }
            ),
            "not before the login"
        );
        state.credentials_sent = true;
        assert_eq!(
            decide(&ent, "<p>Accueil</p>", &mut state, &none),
            Next::Done
        );
        assert!(
            matches!(
                decide(&page(), "<p>Accueil</p>", &mut state, &none),
                Next::Fail { .. }
            ),
            "not on another site"
        );
        let saml = r#"<form method="post" action="/acs"><input type="hidden" name="SAMLResponse" value="x"></form>"#;
        assert!(matches!(
            decide(&ent, saml, &mut state, &none),
            Next::Post {
                step: "saml-post",
                ..
            }
        ));
    }

    #[test]
    fn the_login_form_is_filled_once() {
        let body = r#"<form method="post" action="/login"><input type="hidden" name="csrf" value="c">
<input type="text" name="user"><input type="password" name="pass"></form>"#;
        let mut state = FlowState::default();
        let next = decide(&page(), body, &mut state, &options());
        assert_eq!(
            next,
            Next::Post {
                url: "https://idp.example/login".into(),
                fields: vec![
                    ("csrf".into(), "c".into()),
                    ("user".into(), "alice".into()),
                    ("pass".into(), "s3cret".into())
                ],
                step: "login"
            }
        );
        // The same form again: the credentials were refused.
        assert!(matches!(
            decide(&page(), body, &mut state, &options()),
            Next::Fail { step: "login", .. }
        ));
        // No password given: refused before sending anything.
        let mut none = options();
        none.password = None;
        assert!(matches!(
            decide(&page(), body, &mut FlowState::default(), &none),
            Next::Fail { step: "login", .. }
        ));
    }

    #[test]
    fn an_account_choice_picks_the_radio_of_the_username() {
        let body = r#"<form method="post" action="login"><input type="hidden" name="pending" value="p1">
<input type="radio" name="login" value="bob"><input type="radio" name="login" value="alice"></form>"#;
        let next = decide(&page(), body, &mut FlowState::default(), &options());
        assert_eq!(
            next,
            Next::Post {
                url: "https://idp.example/sso/login".into(),
                fields: vec![
                    ("pending".into(), "p1".into()),
                    ("login".into(), "alice".into())
                ],
                step: "login"
            }
        );
        let mut carol = options();
        carol.username = "carol".into();
        assert!(matches!(
            decide(&page(), body, &mut FlowState::default(), &carol),
            Next::Fail { step: "login", .. }
        ));
    }

    #[test]
    fn saml_forms_are_posted_and_links_followed_once() {
        let saml = r#"<form method="post" action="https://sp.example/acs"><input type="hidden" name="SAMLResponse" value="x"><input type="hidden" name="RelayState" value="r"></form>"#;
        assert!(matches!(
            decide(&page(), saml, &mut FlowState::default(), &options()),
            Next::Post { step: "saml-post", ref url, .. } if url == "https://sp.example/acs"
        ));
        let discovery =
            r#"<a href="/login/agents?flow=f">P</a><a href="/login/educonnect?flow=f">É</a>"#;
        let mut state = FlowState::default();
        assert_eq!(
            decide(&page(), discovery, &mut state, &options()),
            Next::Get {
                url: "https://idp.example/login/educonnect?flow=f".into(),
                step: "link"
            }
        );
        assert!(matches!(
            decide(&page(), discovery, &mut state, &options()),
            Next::Fail {
                step: "final-page",
                ..
            }
        ));
    }

    #[test]
    fn the_password_never_shows_in_debug_or_records() {
        let shown = format!("{:?}", options());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("masqué"));
        assert_eq!(target_name(&options().start), "https://ent.example/login");
    }
}
