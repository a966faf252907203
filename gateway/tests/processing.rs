//! `sso-gateway registry processing` (domain reference §5, minimisation per
//! service): the register extract of the example configuration lists every
//! service with exactly the attributes its release policy allows (compared
//! with the registry's own answer), says who receives them and under which
//! identifier, and says so when a service receives nothing personal.

#![cfg(test)]

mod common;

use std::path::{Path, PathBuf};

use sp_registry::Registry;
use sso_gateway::demo::DemoStack;

/// A SAML service with a transient NameID that receives the school and the
/// profile only.
const ANONYMOUS_SERVICE: &str = r#"id = "mesure-audience"
display_name = "Mesure d'audience anonyme"
kind = "resource"
publisher = "Observatoire de démonstration"
resource_id = "ark:/99999/audience"

[saml]
entity_id = "https://audience.demo.example/saml"
acs = [{ url = "https://audience.demo.example/acs", binding = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", index = 0, default = true }]
name_id_format = "transient"
require_signed_authn_requests = false

[release]
attributes = ["UAI", "PRO"]
"#;

fn example_with_anonymous_service() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("services/mesure-audience.toml"),
        ANONYMOUS_SERVICE,
    )
    .unwrap();
    (dir, config)
}

fn processing(config: &Path, format: &str) -> String {
    let config = config.to_str().unwrap();
    let (ok, stdout, stderr) = common::run_gateway(&[
        "registry",
        "--config",
        config,
        "processing",
        "--format",
        format,
    ]);
    assert!(ok, "{stderr}");
    stdout
}

#[test]
fn the_register_lists_exactly_what_each_release_policy_allows() {
    let (dir, config) = example_with_anonymous_service();
    let registry = Registry::load_dir(&dir.path().join("services")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&processing(&config, "json")).unwrap();

    assert_eq!(json["controller"], "l'académie de démonstration (DANE)");
    assert_eq!(json["dpo_contact"], "dpd@ac-demo.example");
    assert_eq!(json["legal_notice_version"], "2026-09");
    assert!(json["legal_basis"].as_str().unwrap().contains("6-1-e"));
    let sources: Vec<&str> = json["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains(&"saml_idp") && sources.contains(&"directory"),
        "{sources:?}"
    );
    let retention: Vec<&str> = json["retention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].as_str().unwrap())
        .collect();
    assert!(retention.contains(&"sso_session_absolute"), "{retention:?}");
    // The example keeps the traces of the current and the previous year.
    assert!(retention.contains(&"connection_traces"), "{retention:?}");
    assert!(retention.contains(&"usage_statistics"), "{retention:?}");

    let services = json["services"].as_array().unwrap();
    assert_eq!(services.len(), registry.services().count());
    for service in registry.services() {
        let entry = services
            .iter()
            .find(|entry| entry["id"] == service.id.as_str())
            .unwrap_or_else(|| panic!("{} missing", service.id));
        let listed: Vec<&str> = entry["released"]
            .as_array()
            .unwrap()
            .iter()
            .map(|data| data["name"].as_str().unwrap())
            .collect();
        let mut allowed: Vec<&str> = service
            .release
            .rules
            .iter()
            .map(|rule| rule.name.as_str())
            .collect();
        allowed.extend(service.identifier_current_as.as_deref());
        assert_eq!(listed, allowed, "{}", service.id);
        assert_eq!(entry["name"], service.display_name.as_str());
        if let Some(saml) = &service.saml {
            assert!(
                entry["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["identifier"] == saml.entity_id.as_str()),
                "{entry}"
            );
        }
        if let Some(oidc) = &service.oidc {
            assert!(
                entry["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["identifier"] == oidc.client_id.as_str()),
                "{entry}"
            );
        }
    }

    // The anonymous service says so; every other one releases personal data.
    for entry in services {
        let anonymous = entry["id"] == "mesure-audience";
        assert_eq!(
            entry["releases_personal_data"], !anonymous,
            "{}",
            entry["id"]
        );
    }
    let family = services
        .iter()
        .find(|entry| entry["id"] == "manuel-numerique")
        .unwrap();
    assert_eq!(family["identifier"]["kind"], "opaque_per_family");
    assert_eq!(family["identifier"]["family"], "editions-demo");
}

#[test]
fn the_markdown_is_french_and_the_csv_has_one_row_per_released_attribute() {
    let (dir, config) = example_with_anonymous_service();
    let registry = Registry::load_dir(&dir.path().join("services")).unwrap();

    let markdown = processing(&config, "markdown");
    assert!(markdown.contains("Responsable du traitement : l'académie de démonstration (DANE)"));
    assert!(markdown.contains("article 6-1-e du RGPD"), "{markdown}");
    assert!(markdown.contains("## Durées de conservation"));
    let anonymous = markdown
        .split("### ")
        .find(|section| section.starts_with("Mesure d'audience anonyme"))
        .unwrap();
    assert!(
        anonymous.contains("Données transmises : aucune donnée personnelle"),
        "{anonymous}"
    );
    assert_eq!(
        markdown.matches("aucune donnée personnelle").count(),
        1,
        "only the anonymous service says so"
    );
    let ent = markdown
        .split("### ")
        .find(|section| section.starts_with("ENT du collège"))
        .unwrap();
    assert!(ent.contains("`NOM` : Nom"), "{ent}");

    let csv = processing(&config, "csv");
    let rows = csv.lines().count() - 1;
    let expected: usize = registry
        .services()
        .map(|service| service.release.rules.len().max(1))
        .sum();
    assert_eq!(rows, expected, "{csv}");
}
