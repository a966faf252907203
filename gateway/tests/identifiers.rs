//! Opaque identifiers (domain reference §4): one resource always receives
//! the same identifier for a user, from any replica and after a restart
//! (derived from the configured secret); two resources never receive the
//! same one.

#![cfg(test)]

mod common;

use common::{Browser, Stack, login_at_ent};
use sso_gateway::config::LoadedConfig;
use sso_gateway::server;

#[tokio::test]
async fn identifiers_are_stable_across_instances_and_distinct_across_resources() {
    let stack = Stack::redis().await;
    let mut browser = Browser::new();
    login_at_ent(&stack, &mut browser, "agents", "prof.blanc").await;
    browser.open(&stack.url("/testbed/manuel/login")).await;
    let textbook = stack.sp_state("manuel").await["last_attributes"]["IDO"][0]
        .as_str()
        .unwrap()
        .to_owned();
    browser.open(&stack.url("/testbed/enseignants/login")).await;
    let bank = stack.sp_state("enseignants").await["last_attributes"]["IDO"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(textbook, bank, "two resources, two identifiers");

    // A second instance (another replica, or this one restarted) built from
    // the same configuration on the same Redis derives the same identifiers.
    let loaded = LoadedConfig::load(&stack.stack.config_path).unwrap();
    let (_, other) = server::build(&loaded, None).await.unwrap();
    let second_login = {
        let mut again = Browser::new();
        login_at_ent(&stack, &mut again, "agents", "prof.blanc").await;
        again.open(&stack.url("/testbed/manuel/login")).await;
        stack.sp_state("manuel").await["last_attributes"]["IDO"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(second_login, textbook, "a new login, the same identifier");
    let registry = other.registry.get();
    let service = registry.by_id("manuel-numerique").unwrap();
    // The identity as the first instance's session holds it.
    let mut identity = sso_core::Identity::new("agents", "ignored", 0);
    identity.push(sso_core::attr::AAF_REF, "AC-RENNES|3550004");
    let (name_id, _) = service.name_id(&identity, &other.identifier_keys).unwrap();
    assert_eq!(
        name_id, textbook,
        "the other instance derives the same identifier"
    );
}
