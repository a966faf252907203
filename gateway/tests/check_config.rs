//! `sso-gateway check-config` on the complete example configuration, and on
//! broken copies of it: each problem is reported with its file, line and
//! field, and `serve` refuses to start.

#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sso_gateway::demo::DemoStack;

fn example() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoStack::write_example(dir.path()).unwrap();
    (dir, config)
}

fn gateway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .args(args)
        .env_remove("SSO_REDIS_URL")
        .env_remove("SSO_IDENTIFIER_SECRET")
        .output()
        .unwrap()
}

fn check(config: &Path) -> (bool, String) {
    let out = gateway(&["check-config", "--config", config.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
}

fn replace(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_example_configuration_is_valid() {
    let (_dir, config) = example();
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
    assert!(text.contains("configuration is valid"));
}

#[test]
fn unknown_released_attribute_is_located() {
    let (dir, config) = example();
    let service = dir.path().join("services/ent-college.toml");
    replace(&service, "\"E_MS1\"]", "\"E_MS1\", \"FOO\"]");
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&service, "attributes = [");
    let expected = format!("{}:{line}: field `release.attributes`", service.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(text.contains("FOO"), "{text}");
}

#[test]
fn missing_key_file_is_located() {
    let (_dir, config) = example();
    replace(
        &config,
        "signing_key = \"keys/gateway-signing.key\"",
        "signing_key = \"keys/absent.key\"",
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "keys/absent.key");
    let expected = format!("{}:{line}: field `keys.signing_key`", config.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(
        text.contains("absent.key"),
        "the message names the file: {text}"
    );
}

#[test]
fn a_broken_oidc_provider_key_is_located() {
    let (dir, config) = example();
    // The RS256 key file holds a certificate, not a private key.
    std::fs::copy(
        dir.path().join("keys/gateway-signing.crt"),
        dir.path().join("keys/oidc-certificate.pem"),
    )
    .unwrap();
    replace(
        &config,
        "file = \"keys/oidc-rs256.key\"",
        "file = \"keys/oidc-certificate.pem\"",
    );
    replace(&config, "code_ttl_seconds = 60", "code_ttl_seconds = 3600");
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "keys/oidc-certificate.pem");
    let expected = format!(
        "{}:{line}: field `oidc_provider.keys[1].file`",
        config.display()
    );
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
    assert!(text.contains("no EC P-256 or RSA private key"), "{text}");
    assert!(text.contains("oidc_provider.code_ttl_seconds"), "{text}");
}

#[test]
fn unreadable_metadata_is_located() {
    let (_dir, config) = example();
    replace(&config, "metadata/agents.xml", "metadata/absent.xml");
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "metadata/absent.xml");
    let expected = format!("{}:{line}: field `idp[1].metadata_file`", config.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
}

#[test]
fn metadata_without_signing_key_is_refused() {
    let (dir, config) = example();
    let metadata = dir.path().join("metadata/agents.xml");
    let (ok, out) = check(&config);
    assert!(ok, "positive control: {out}");
    let text = std::fs::read_to_string(&metadata).unwrap();
    let key_descriptor =
        regex::Regex::new(r"(?s)<(\w+:)?KeyDescriptor.*?</(\w+:)?KeyDescriptor>").unwrap();
    assert!(key_descriptor.is_match(&text));
    std::fs::write(&metadata, key_descriptor.replace_all(&text, "").as_ref()).unwrap();
    let (ok, out) = check(&config);
    assert!(!ok);
    assert!(out.contains("no signing certificate"), "{out}");
}

#[test]
fn unknown_canonical_attribute_in_a_mapping_is_located() {
    let (_dir, config) = example();
    replace(&config, "to = \"given_name\"", "to = \"prenom\"");
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(text.contains("field `mapping.educonnect`"), "{text}");
    assert!(text.contains("prenom"), "{text}");
}

#[test]
fn syntax_error_is_located() {
    let (_dir, config) = example();
    replace(
        &config,
        "clock_skew_seconds = 60",
        "clock_skew_seconds = \"soixante\"",
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "soixante");
    assert!(
        text.contains(&format!("{}:{line}", config.display())),
        "{text}"
    );
}

#[test]
fn every_problem_is_reported_at_once_and_serve_refuses_to_start() {
    let (dir, config) = example();
    replace(
        &config,
        "signing_key = \"keys/gateway-signing.key\"",
        "signing_key = \"keys/absent.key\"",
    );
    replace(
        &dir.path().join("services/manuel-numerique.toml"),
        "\"DIV\"]",
        "\"DIV\", \"BAR\"]",
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        text.contains("keys.signing_key") && text.contains("BAR"),
        "{text}"
    );
    let out = gateway(&["serve", "--config", config.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "serve must refuse an invalid configuration"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keys.signing_key"), "{stderr}");
}

/// A service may pin a previous identifier secret the configuration names
/// (positive control: "2025" is in the example); an unknown name, or a
/// previous secret whose file is missing, is located.
#[test]
fn identifier_key_pins_and_previous_secrets_are_checked() {
    let (dir, config) = example();
    let service = dir.path().join("services/manuel-numerique.toml");
    replace(&service, "[identifier]\n", "[identifier]\nkey = \"2025\"\n");
    let (ok, text) = check(&config);
    assert!(ok, "{text}");

    replace(&service, "key = \"2025\"", "key = \"2024\"");
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&service, "key = \"2024\"");
    let expected = format!("{}:{line}: field `identifier.key`", service.display());
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );

    replace(&service, "key = \"2024\"", "key = \"2025\"");
    replace(
        &config,
        "keys/identifier-2025.secret",
        "keys/identifier-absent.secret",
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    let line = line_of(&config, "keys/identifier-absent.secret");
    let expected = format!(
        "{}:{line}: field `keys.previous_identifier_secrets[0].file`",
        config.display()
    );
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
}

#[test]
fn a_drain_delay_not_shorter_than_the_grace_is_refused() {
    let (_dir, config) = example();
    replace(
        &config,
        "shutdown_delay_seconds = 0",
        "shutdown_delay_seconds = 25",
    );
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        text.contains("field `server.shutdown_delay_seconds`: 25 must be shorter than shutdown_grace_seconds (25)"),
        "{text}"
    );
    replace(
        &config,
        "shutdown_delay_seconds = 25",
        "shutdown_delay_seconds = 24",
    );
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
}

#[test]
fn each_redis_mode_needs_its_fields() {
    let (_dir, config) = example();
    replace(&config, "mode = \"standalone\"", "mode = \"sentinel\"");
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(
        text.contains("field `store`: sentinel mode needs `master_name`"),
        "{text}"
    );
    replace(
        &config,
        "mode = \"sentinel\"",
        "mode = \"sentinel\"\nmaster_name = \"sso\"\nsentinels = [\"127.0.0.1:26379\"]",
    );
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
    replace(&config, "key_prefix = \"sso:\"", "key_prefix = \"{sso}:\"");
    let (ok, text) = check(&config);
    assert!(!ok);
    assert!(text.contains("must not contain"), "{text}");
}

#[test]
fn wrong_resilience_values_of_an_upstream_are_located() {
    let (_dir, config) = example();
    let (ok, text) = check(&config);
    assert!(ok, "the example's resilience table is valid: {text}");
    replace(&config, "timeout_ms = 5000", "timeout_ms = 0");
    replace(
        &config,
        "health_interval_seconds = 10",
        "health_interval_seconds = 10\nhealth_url = \"not a url\"",
    );
    let (ok, text) = check(&config);
    assert!(!ok, "{text}");
    let line = line_of(&config, "id = \"educonnect\"");
    for field in ["timeout_ms", "connect_timeout_ms", "health_url"] {
        let expected = format!(
            "{}:{line}: field `idp[0].resilience.{field}`",
            config.display()
        );
        assert!(
            text.contains(&expected),
            "expected {expected:?} in:\n{text}"
        );
    }
}

#[test]
fn bad_trusted_proxy_and_limits_are_located() {
    let (_dir, config) = example();
    let (ok, text) = check(&config);
    assert!(ok, "positive control: the example is valid\n{text}");
    replace(
        &config,
        "trusted_proxies = [\"10.0.0.0/8\"]",
        "trusted_proxies = [\"10.0.0.0/33\"]",
    );
    replace(&config, "ip = 75\n", "ip = 500\n");
    replace(&config, "max_in_flight = 32", "max_in_flight = 0");
    let (ok, text) = check(&config);
    assert!(!ok);
    for (needle, field) in [
        ("trusted_proxies = [", "server.trusted_proxies[0]"),
        ("ip = 500", "limits.fallback.ip"),
        ("max_in_flight = 0", "server.max_in_flight"),
    ] {
        let expected = format!(
            "{}:{}: field `{field}`",
            config.display(),
            line_of(&config, needle)
        );
        assert!(
            text.contains(&expected),
            "expected {expected:?} in:\n{text}"
        );
    }
}

#[test]
fn wrong_statistics_values_are_located() {
    let (_dir, config) = example();
    let (ok, text) = check(&config);
    assert!(ok, "positive control: the example is valid\n{text}");
    replace(&config, "retention_days = 800", "retention_days = 0");
    replace(&config, "min_count = 5", "min_count = 1000");
    let (ok, text) = check(&config);
    assert!(!ok);
    for (needle, field) in [
        ("retention_days = 0", "statistics.retention_days"),
        ("min_count = 1000", "statistics.min_count"),
    ] {
        let expected = format!(
            "{}:{}: field `{field}`",
            config.display(),
            line_of(&config, needle)
        );
        assert!(
            text.contains(&expected),
            "expected {expected:?} in:\n{text}"
        );
    }
}
