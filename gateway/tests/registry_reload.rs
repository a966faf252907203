//! The registry reloaded without a restart: through the admin API (valid
//! change applied, invalid change refused with the previous registry still
//! serving, token required), and by watching the folder that the replicas
//! share.

#![cfg(test)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Browser, Stack, login_at_ent};
use serde_json::Value;
use sp_registry::{IdTokenAlg, Registry};
use sso_gateway::registry::SharedRegistry;

fn services_dir(stack: &Stack) -> std::path::PathBuf {
    stack.stack.config_path.with_file_name("services")
}

async fn reload(stack: &Stack, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = client.post(stack.url("/admin/api/registry/reload"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn textbook_attributes(stack: &Stack) -> Value {
    let mut browser = Browser::new();
    login_at_ent(stack, &mut browser, "educonnect", "eleve.louis").await;
    let page = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(page.url.ends_with("/testbed/manuel"), "{}", page.url);
    stack.sp_state("manuel").await["last_attributes"].clone()
}

#[tokio::test]
async fn the_admin_api_applies_a_valid_change_and_refuses_an_invalid_one() {
    let stack = Stack::memory().await;
    let token = std::fs::read_to_string(stack.stack.config_path.with_file_name("keys/admin.token"))
        .unwrap();
    let before = textbook_attributes(&stack).await;
    assert!(before.get("DIV").is_some(), "positive control: {before}");

    // No token, a wrong token: refused, nothing reloaded.
    assert_eq!(reload(&stack, None).await.0, 401);
    assert_eq!(
        reload(&stack, Some("not-the-token-but-long-enough-0123456789"))
            .await
            .0,
        401
    );

    // A valid change: the textbook no longer receives the classes.
    let file = services_dir(&stack).join("manuel-numerique.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let narrower = text.replace(
        "attributes = [\"IDO\", \"UAI\", \"PRO\", \"DIV\"]",
        "attributes = [\"IDO\", \"UAI\", \"PRO\"]",
    );
    assert_ne!(narrower, text);
    std::fs::write(&file, &narrower).unwrap();
    let (status, answer) = reload(&stack, Some(token.trim())).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["services"], 5);
    let after = textbook_attributes(&stack).await;
    assert!(after.get("DIV").is_none(), "{after}");
    assert!(after.get("UAI").is_some(), "{after}");

    // An invalid change: refused with its file and line; the registry in
    // force (the narrower one) keeps serving.
    std::fs::write(
        &file,
        narrower.replace(
            "attributes = [\"IDO\", \"UAI\", \"PRO\"]",
            "attributes = [\"IDO\", \"FOO\"]",
        ),
    )
    .unwrap();
    let (status, answer) = reload(&stack, Some(token.trim())).await;
    assert_eq!(status, 422, "{answer}");
    let problems = answer["problems"].to_string();
    assert!(problems.contains("manuel-numerique.toml:"), "{problems}");
    assert!(problems.contains("FOO"), "{problems}");
    let still = textbook_attributes(&stack).await;
    assert!(
        still.get("UAI").is_some() && still.get("DIV").is_none(),
        "{still}"
    );

    // A valid file pinning an identifier secret the configuration lacks
    // is refused too.
    assert!(narrower.contains("[identifier]\n"));
    std::fs::write(
        &file,
        narrower.replace("[identifier]\n", "[identifier]\nkey = \"2024\"\n"),
    )
    .unwrap();
    let (status, answer) = reload(&stack, Some(token.trim())).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["problems"].to_string().contains("identifier.key"),
        "{answer}"
    );
}

/// What each replica does with the folder they share: the watch applies a
/// valid change within the interval and refuses an invalid one.
#[tokio::test]
async fn a_watched_folder_is_applied_when_valid_and_refused_when_not() {
    let stack = Stack::memory().await;
    let dir = services_dir(&stack);
    let shared = SharedRegistry::new(
        Arc::new(Registry::load_dir(&dir).unwrap()),
        dir.clone(),
        Arc::clone(&stack.stack.state.identifier_keys),
        vec![IdTokenAlg::Es256],
    );
    shared.spawn_watch(Duration::from_millis(100));
    assert!(shared.get().by_id("manuel-numerique").is_some());

    let file = dir.join("manuel-numerique.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "display_name = \"Manuel numérique de mathématiques\"",
            "display_name = \"Manuel de maths\"",
        ),
    )
    .unwrap();
    let name = |shared: &SharedRegistry| {
        shared
            .get()
            .by_id("manuel-numerique")
            .map(|s| s.display_name.clone())
    };
    let mut applied = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if name(&shared).as_deref() == Some("Manuel de maths") {
            applied = true;
            break;
        }
    }
    assert!(applied, "the valid change was not applied within 5 s");

    std::fs::write(dir.join("broken.toml"), "id = \"broken\"\n").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(name(&shared).as_deref(), Some("Manuel de maths"));
    assert!(shared.get().by_id("broken").is_none());
    std::fs::remove_file(dir.join("broken.toml")).unwrap();

    // An OpenID Connect client asking for RS256 ID tokens while this
    // replica signs ES256 only: refused, the ES256 client stays in force.
    let labo = dir.join("labo-sciences-oidc.toml");
    let text = std::fs::read_to_string(&labo).unwrap();
    let rs256 = text.replace(
        "id_token_signed_response_alg = \"ES256\"",
        "id_token_signed_response_alg = \"RS256\"",
    );
    assert_ne!(rs256, text);
    std::fs::write(&labo, rs256).unwrap();
    let errors = shared.reload().unwrap_err();
    assert!(
        errors.to_string().contains("no RS256 signing key"),
        "{errors}"
    );
    let alg = |shared: &SharedRegistry| {
        shared
            .get()
            .by_client_id("labo-sciences")
            .and_then(|s| s.oidc.as_ref())
            .map(|c| c.id_token_alg)
    };
    assert_eq!(alg(&shared), Some(IdTokenAlg::Es256));
}

/// The subscriptions through the admin API: list with filters, read, create
/// or replace (checked like a file entry), delete; a pupil's access follows.
#[tokio::test]
async fn the_admin_api_manages_subscriptions() {
    let stack = Stack::memory().await;
    let token = std::fs::read_to_string(stack.stack.config_path.with_file_name("keys/admin.token"))
        .unwrap();
    let token = token.trim();
    let client = reqwest::Client::new();
    let url = |path: &str| stack.url(&format!("/admin/api/subscriptions{path}"));

    let listed: Value = client
        .get(url("?uai=0359991V"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["abonnements"].as_array().unwrap().len(),
        4,
        "{listed}"
    );
    let refused = client.get(url("")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // Delete the collège's textbook subscription: Louis is refused.
    let id = "ABO-MANUEL-0359991V";
    let mut kept: Value = client
        .get(url(&format!("/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deleted = client
        .delete(url(&format!("/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let page = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert_eq!(page.status, 403, "{}", page.body);

    // An invalid subscription is refused with its field.
    kept["uaiEtab"] = Value::from("0359991A");
    let invalid = client
        .put(url(&format!("/{id}")))
        .bearer_auth(token)
        .json(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status().as_u16(), 422);
    assert!(invalid.text().await.unwrap().contains("uaiEtab"));

    // Put back: Louis opens the textbook again.
    kept["uaiEtab"] = Value::from("0359991V");
    let put = client
        .put(url(&format!("/{id}")))
        .bearer_auth(token)
        .json(&kept)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "educonnect", "eleve.louis").await;
    let page = browser.open(&stack.url("/testbed/manuel/login")).await;
    assert!(page.url.ends_with("/testbed/manuel"), "{}", page.url);
}
