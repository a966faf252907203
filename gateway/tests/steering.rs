//! Who may read the steering statistics (issue 8), through the real HTTP
//! flow of the demo stack (simulated agent IdP, demo directory): a school
//! director sees their school only, a teacher gets the French 403 page (or
//! JSON 403 under `/pilotage/api/`), a named administrator gets their
//! configured scopes; without a session the page sends the user to the
//! gateway's login, which brings them back after the upstream login; the
//! page to come back to is only ever a known gateway page (open redirects).
//! `[steering]` errors are reported with file, line and field.
//!
//! Then the headless-browser check (chromium, axe-core, keyboard): it
//! refuses pages with a missing label, poor contrast or no visible focus,
//! accepts their corrected versions, and passes on the existing pages.

#![cfg(test)]

mod common;

use std::path::Path;

use common::browser::check_page;
use common::{Browser, Page, Stack, link};
use sso_gateway::demo::{DemoOptions, DemoStack, DemoStore};
use sso_testbed::people::{COLLEGE_UAI, ECOLE_UAI, LYCEE_UAI};

/// On the discovery page, the agents' IdP, then logs in as `login`.
async fn agent_login(browser: &mut Browser, base: &str, discovery: &Page, login: &str) -> Page {
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    assert!(
        discovery.url.starts_with(&format!("{base}/login")),
        "the gateway's discovery page expected, got {}",
        discovery.url
    );
    let target = link(&discovery.body, "/login/agents").expect("a link to the agents' IdP");
    let accounts = browser.open(&format!("{base}{target}")).await;
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    browser.login_as(&accounts, login).await
}

/// A stack in memory with this `[steering]` table merged into the demo's.
async fn stack_with_steering(steering: &str) -> Stack {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let extra_config: toml::Table = toml::from_str(steering).unwrap();
    let stack = DemoStack::start(
        listener,
        DemoStore::Memory,
        DemoOptions {
            extra_config,
            ..DemoOptions::default()
        },
    )
    .await
    .unwrap();
    Stack { stack, redis: None }
}

async fn me(browser: &mut Browser, stack: &Stack) -> (u16, serde_json::Value) {
    let page = browser.open(&stack.url("/pilotage/api/moi")).await;
    (page.status, serde_json::from_str(&page.body).unwrap())
}

#[tokio::test]
async fn a_director_logs_in_from_the_page_and_sees_their_school_only() {
    let stack = Stack::memory().await;
    let base = &stack.stack.base_url;
    let mut browser = Browser::new();
    assert_eq!(
        browser.redirect_target(&stack.url("/pilotage/moi")).await,
        format!("{base}/login?retour=%2Fpilotage%2Fmoi"),
        "no session: the gateway's own login, coming back here"
    );
    let discovery = browser.open(&stack.url("/pilotage/moi")).await;
    let page = agent_login(&mut browser, base, &discovery, "dir.mercier").await;
    assert_eq!(
        page.url,
        stack.url("/pilotage/moi"),
        "back where the user was"
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Vous consultez en tant que"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("école {ECOLE_UAI}")));
    for other in [COLLEGE_UAI, LYCEE_UAI] {
        assert!(!page.body.contains(other), "another school: {other}");
    }
    assert!(
        !browser.cookies(base).contains("sso_retour"),
        "the return cookie is spent"
    );

    let (status, viewer) = me(&mut browser, &stack).await;
    assert_eq!(status, 200);
    assert_eq!(
        viewer["perimetres"],
        serde_json::json!([{ "level": "ecole", "code": ECOLE_UAI }]),
        "school A only"
    );
    let label = viewer["libelle"].as_str().unwrap();
    assert!(label.contains("Direction d'école"), "{label}");
    for personal in ["Mercier", "Patrick", "dir.mercier", "@"] {
        assert!(
            !label.contains(personal),
            "the label names the role, not the person: {label}"
        );
    }
}

#[tokio::test]
async fn a_teacher_is_refused_in_french_and_in_json() {
    let stack = Stack::memory().await;
    let base = &stack.stack.base_url;
    let mut browser = Browser::new();
    let discovery = browser.open(&stack.url("/pilotage/moi")).await;
    let page = agent_login(&mut browser, base, &discovery, "prof.roux").await;
    assert_eq!(page.url, stack.url("/pilotage/moi"));
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body
            .contains("Vous n&#x27;avez pas accès aux statistiques de pilotage"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<html lang=\"fr\">"));
    let (status, refusal) = me(&mut browser, &stack).await;
    assert_eq!(status, 403);
    assert!(
        refusal["erreur"]
            .as_str()
            .unwrap()
            .starts_with("Vous n'avez pas accès aux statistiques de pilotage"),
        "{refusal}"
    );
    // Without a session the API answers in JSON, not with a redirect.
    let (status, refusal) = me(&mut Browser::new(), &stack).await;
    assert_eq!(status, 401);
    assert!(refusal["erreur"].is_string());
}

#[tokio::test]
async fn named_administrators_and_other_levels_come_from_the_configuration() {
    let stack = stack_with_steering(
        r#"
[steering]
[[steering.roles]]
function = "dir"
level = "circonscription"
[[steering.administrators]]
idp = "agents"
email = "Yann.Garnier@ac-rennes.example"
scopes = ["academie:AC-RENNES", "departement:035"]
label = "Administration académique"
"#,
    )
    .await;
    let base = &stack.stack.base_url;

    let mut admin = Browser::new();
    let discovery = admin.open(&stack.url("/pilotage/moi")).await;
    let page = agent_login(&mut admin, base, &discovery, "prof.garnier").await;
    assert_eq!(page.status, 200, "a teacher, but a named administrator");
    let (_, viewer) = me(&mut admin, &stack).await;
    assert_eq!(
        viewer["perimetres"],
        serde_json::json!([
            { "level": "departement", "code": "035" },
            { "level": "academie", "code": "AC-RENNES" },
        ])
    );
    assert!(
        viewer["libelle"]
            .as_str()
            .unwrap()
            .starts_with("Administration académique — ")
    );

    // The role at the circonscription level: the director's school's
    // circonscription, from the directory's structures.
    let mut director = Browser::new();
    let discovery = director.open(&stack.url("/pilotage/moi")).await;
    agent_login(&mut director, base, &discovery, "dir.mercier").await;
    let (status, viewer) = me(&mut director, &stack).await;
    assert_eq!(status, 200);
    assert_eq!(
        viewer["perimetres"],
        serde_json::json!([{ "level": "circonscription", "code": "Rennes Nord" }])
    );

    // Positive control of the name match: a teacher not named is refused.
    let mut teacher = Browser::new();
    let discovery = teacher.open(&stack.url("/pilotage/moi")).await;
    let page = agent_login(&mut teacher, base, &discovery, "prof.blanc").await;
    assert_eq!(page.status, 403);
}

#[tokio::test]
async fn after_the_login_the_browser_lands_back_on_pilotage() {
    let stack = Stack::memory().await;
    let base = &stack.stack.base_url;
    let mut browser = Browser::new();
    browser.hold_redirects_to = Some(stack.url("/pilotage"));
    let discovery = browser.open(&stack.url("/login?retour=/pilotage")).await;
    assert!(browser.cookies(base).contains("sso_retour=/pilotage"));
    let landed = agent_login(&mut browser, base, &discovery, "dir.fontaine").await;
    assert_eq!(landed.url, stack.url("/pilotage"));
    assert!(
        browser.went_through("/saml/sp/acs"),
        "through the real upstream login"
    );
}

#[tokio::test]
async fn the_return_path_is_only_ever_a_known_gateway_page() {
    let stack = Stack::memory().await;
    let base = &stack.stack.base_url;
    // Positive control: a known page is remembered and reached.
    let mut browser = Browser::new();
    let discovery = browser
        .open(&stack.url("/login?retour=%2Fpilotage%2Fmoi"))
        .await;
    let page = agent_login(&mut browser, base, &discovery, "dir.mercier").await;
    assert_eq!(page.url, stack.url("/pilotage/moi"));

    for refused in [
        "https://evil.example/pilotage",
        "//evil.example/pilotage",
        "/\\evil.example",
        "/admin/api/registry",
        "/pilotage/../admin/api/registry",
        "/pilotage?then=https://evil.example",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(refused.as_bytes()).collect();
        let mut browser = Browser::new();
        let discovery = browser
            .open(&stack.url(&format!("/login?retour={encoded}")))
            .await;
        assert!(
            !browser.cookies(base).contains("sso_retour"),
            "{refused}: nothing remembered"
        );
        let page = agent_login(&mut browser, base, &discovery, "dir.mercier").await;
        assert_eq!(
            page.url,
            stack.url("/"),
            "{refused}: the home page, as before"
        );
        assert!(
            !browser
                .visited
                .iter()
                .skip(1)
                .any(|url| url.contains("evil.example") || url.contains("/admin/")),
            "{refused}: {:?}",
            browser.visited
        );
    }
}

/// The example configuration with its `[steering]` grants replaced by
/// `grants`, checked by `sso-gateway check-config`: success and output.
fn check_steering(grants: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[[steering.roles]]").unwrap();
    let end = text.find("[legal]").unwrap();
    std::fs::write(
        &config,
        format!("{}{grants}\n{}", &text[..start], &text[end..]),
    )
    .unwrap();
    let (ok, stdout, stderr) =
        common::run_gateway(&["check-config", "--config", config.to_str().unwrap()]);
    (ok, format!("{stdout}{stderr}"))
}

fn line_with(report: &str, field: &str) -> String {
    report
        .lines()
        .find(|line| line.contains(field))
        .unwrap_or_else(|| panic!("no problem at {field}:\n{report}"))
        .to_owned()
}

#[test]
fn steering_errors_are_reported_with_file_line_and_field() {
    let valid = "[[steering.roles]]\nfunction = \"DIR\"\nlevel = \"ecole\"\n\n[[steering.administrators]]\nidp = \"agents\"\nsubject = \"x\"\nscopes = [\"national\"]\n";
    let (ok, report) = check_steering(valid);
    assert!(ok, "positive control: {report}");
    assert!(report.contains("configuration is valid"), "{report}");

    let (ok, report) = check_steering(
        "[[steering.roles]]\nfunction = \"DIR\"\nlevel = \"region\"\n\n\
         [[steering.roles]]\nlevel = \"ecole\"\n\n\
         [[steering.administrators]]\nidp = \"agents\"\nemail = \"dane@ac-demo.example\"\nscopes = []\n\n\
         [[steering.administrators]]\nidp = \"nowhere\"\nsubject = \"x\"\nscopes = [\"academie\"]\n",
    );
    assert!(!ok, "{report}");
    let line = line_with(&report, "steering.roles[0].level");
    assert!(
        line.contains("gateway.toml:") && line.contains("unknown level \"region\""),
        "{line}"
    );
    assert!(line_with(&report, "steering.roles[1]").contains("empty rule"));
    assert!(line_with(&report, "steering.administrators[0].scopes").contains("at least one scope"));
    assert!(line_with(&report, "steering.administrators[1].idp").contains("\"nowhere\""));
    assert!(line_with(&report, "steering.administrators[1].scopes[0]").contains("not a scope"));
    let lines: Vec<usize> = ["steering.roles[0].level", "steering.administrators[1].idp"]
        .iter()
        .map(|field| {
            let line = line_with(&report, field);
            let after = line.split("gateway.toml:").nth(1).unwrap();
            after
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(lines[0] < lines[1], "real line numbers: {lines:?}");
}

// ---------------------------------------------------------------------------
// The headless-browser check.
// ---------------------------------------------------------------------------

/// A small page written to `dir`: `broken` picks the faulty variant.
fn test_page(dir: &Path, name: &str, body: &str) -> String {
    let page = format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Essai</title>\
         <style>a:focus,button:focus,input:focus{{outline:3px solid #b34000}} .nofocus:focus{{outline:none}}</style>\
         </head><body><main><h1>Essai</h1>{body}</main></body></html>"
    );
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, page).unwrap();
    format!("file://{}", path.display())
}

#[tokio::test]
async fn the_browser_check_refuses_a_broken_page_and_accepts_it_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let good = test_page(
        dir.path(),
        "good",
        "<form><label for=\"q\">Rechercher</label> <input id=\"q\" name=\"q\"> \
         <button type=\"submit\">Chercher</button></form>\
         <p style=\"color:#1e1e1e\">Texte lisible</p><a href=\"#fin\">Lien</a>",
    );
    let Some(check) = check_page(&good, &[], "browser-check-good").await else {
        return;
    };
    assert!(check.ok, "positive control: {:#}", check.report);

    let unlabelled = test_page(
        dir.path(),
        "unlabelled",
        "<form><input name=\"q\"> <button type=\"submit\">Chercher</button></form>\
         <p style=\"color:#1e1e1e\">Texte lisible</p><a href=\"#fin\">Lien</a>",
    );
    let check = check_page(&unlabelled, &[], "browser-check-unlabelled")
        .await
        .unwrap();
    assert!(!check.ok);
    assert_eq!(check.violations(), ["label"], "{:#}", check.report);

    let pale = test_page(
        dir.path(),
        "pale",
        "<form><label for=\"q\">Rechercher</label> <input id=\"q\" name=\"q\"> \
         <button type=\"submit\">Chercher</button></form>\
         <p style=\"color:#aaaaaa\">Texte pâle</p><a href=\"#fin\">Lien</a>",
    );
    let check = check_page(&pale, &[], "browser-check-pale").await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.violations(), ["color-contrast"], "{:#}", check.report);

    let no_focus = test_page(
        dir.path(),
        "no-focus",
        "<p>Texte</p><a class=\"nofocus\" href=\"#fin\">Lien</a>",
    );
    let check = check_page(&no_focus, &[], "browser-check-no-focus")
        .await
        .unwrap();
    assert!(!check.ok);
    assert!(check.violations().is_empty(), "{:#}", check.report);
    assert_eq!(
        check.keyboard_problems(),
        ["no visible focus style on <a> \"Lien\""]
    );

    let reordered = test_page(
        dir.path(),
        "reordered",
        "<p><a href=\"#a\">Premier</a> <a href=\"#b\" tabindex=\"1\">Second</a></p>",
    );
    let check = check_page(&reordered, &[], "browser-check-reordered")
        .await
        .unwrap();
    assert!(!check.ok);
    assert!(
        check
            .keyboard_problems()
            .iter()
            .any(|p| p.contains("tabindex=1")),
        "{:#}",
        check.report
    );
}

/// The cookies a [`Browser`] sends to `url`, as pairs.
fn cookie_pairs(browser: &Browser, url: &str) -> Vec<(String, String)> {
    browser
        .cookies(url)
        .split("; ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[tokio::test]
async fn existing_pages_pass_the_browser_check() {
    if common::browser::node_modules().is_none() {
        return;
    }
    let stack = Stack::memory().await;
    let base = &stack.stack.base_url;
    for (path, name) in [
        ("/login", "discovery"),
        ("/mentions-legales", "mentions-legales"),
        ("/", "accueil"),
        ("/mediacentre", "mediacentre-sans-session"),
        ("/login?flow=inconnu", "erreur"),
    ] {
        let check = check_page(&stack.url(path), &[], name).await.unwrap();
        assert!(check.ok, "{path}: {:#}", check.report);
    }

    // The médiacentre after a pupil's login, through the ENT.
    let mut pupil = Browser::new();
    common::login_at_ent(&stack, &mut pupil, "educonnect", "eleve.louis").await;
    let cookies = cookie_pairs(&pupil, base);
    let borrowed: Vec<(&str, &str)> = cookies
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let check = check_page(&stack.url("/mediacentre"), &borrowed, "mediacentre")
        .await
        .unwrap();
    assert_eq!(check.report["status"], 200);
    assert!(check.ok, "/mediacentre: {:#}", check.report);
    // The steering user's page and the refusal page.
    let check = check_page(&stack.url("/pilotage/moi"), &borrowed, "pilotage-refus")
        .await
        .unwrap();
    assert_eq!(check.report["status"], 403);
    assert!(check.ok, "403 page: {:#}", check.report);
    let check = check_page(&stack.url("/logout"), &borrowed, "deconnexion")
        .await
        .unwrap();
    assert_eq!(check.report["status"], 200);
    assert!(check.ok, "/logout: {:#}", check.report);

    let mut director = Browser::new();
    let discovery = director.open(&stack.url("/pilotage/moi")).await;
    agent_login(&mut director, base, &discovery, "dir.mercier").await;
    let cookies = cookie_pairs(&director, base);
    let borrowed: Vec<(&str, &str)> = cookies
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let check = check_page(&stack.url("/pilotage/moi"), &borrowed, "pilotage-moi")
        .await
        .unwrap();
    assert_eq!(check.report["status"], 200);
    assert!(check.ok, "/pilotage/moi: {:#}", check.report);

    // The dashboard itself, with the figures of a few more logins of the
    // school (its charts, tables, form and CSV link).
    for _ in 0..5 {
        let mut again = Browser::new();
        let discovery = again.open(&stack.url("/pilotage/moi")).await;
        agent_login(&mut again, base, &discovery, "dir.mercier").await;
    }
    let check = check_page(&stack.url("/pilotage"), &borrowed, "pilotage")
        .await
        .unwrap();
    assert_eq!(check.report["status"], 200);
    assert!(check.ok, "/pilotage: {:#}", check.report);
}
