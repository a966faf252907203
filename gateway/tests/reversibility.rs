//! Reversibility (domain reference §5; issue 8), as an operator runs it:
//! deployment A (the demo configuration on its own Redis, AAF fixture and
//! subscriptions imported by the testbed) serves a pupil and a teacher
//! through the simulated IdPs to the ENT (SAML) and a CAS resource;
//! `sso-gateway export`, then `sso-gateway import` into an empty Redis B and
//! a new folder; deployment B, started from that folder at the same public
//! URL, releases exactly the same attribute sets, opaque identifiers
//! included; with a new identifier secret instead, the same attributes
//! come with other identifiers (the comparison tells them apart).
//! Refusals: one changed byte (the file named, Redis B left empty; the
//! intact export then imports), a file missing or added, a store already
//! holding gateway data (without `--force`), an export without its secrets
//! (no key material in it; the import names the files to provide, then
//! accepts them).

#![cfg(test)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{
    Browser, link, login_at_ent_apart, operator_command, serve_child, testbed_for, wait_ready,
};
use serde_json::Value;
use sso_gateway::demo::Testbed;
use sso_store::testing::RedisServer;
use tokio::net::TcpListener;

/// The JSON state of the simulator at `/testbed/{sim}`.
async fn sim_state(testbed: &Testbed, sim: &str) -> Value {
    reqwest::get(format!("{}/testbed/{sim}/state.json", testbed.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What the ENT (SAML) and the atlas (CAS) received for one person.
#[derive(Debug, PartialEq)]
struct Released {
    ent: Value,
    atlas_user: Value,
    atlas: Value,
}

/// `login` logs in at the ENT through `idp`, then opens the CAS resource
/// from the ENT's médiacentre.
async fn released_to(testbed: &Testbed, gateway: &str, idp: &str, login: &str) -> Released {
    let mut browser = Browser::new();
    let home = login_at_ent_apart(&testbed.base_url, gateway, &mut browser, idp, login).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert_eq!(home.url, format!("{}/testbed/ent", testbed.base_url));
    let ent = sim_state(testbed, "ent").await["last_attributes"].clone();
    let tile = link(
        &home.body,
        &format!("{gateway}/mediacentre/ouvrir/atlas-cas"),
    )
    .unwrap_or_else(|| panic!("the ENT lists the CAS resource for {login}: {}", home.body));
    let logins_before = sim_state(testbed, "atlas").await["logins"]
        .as_u64()
        .unwrap();
    let atlas = browser.open(&tile).await;
    assert_eq!(atlas.status, 200, "{}", atlas.body);
    let state = sim_state(testbed, "atlas").await;
    assert_eq!(state["logins"].as_u64().unwrap(), logins_before + 1);
    let mut atlas = state["last_attributes"].clone();
    // CAS 3.0 protocol attribute: the time of this login, not user data.
    let when = atlas.as_object_mut().unwrap().remove("authenticationDate");
    assert!(when.is_some(), "{atlas}");
    Released {
        ent,
        atlas_user: state["last_user"].clone(),
        atlas,
    }
}

/// A pupil and a teacher, each to the ENT and the CAS resource.
async fn logins(testbed: &Testbed, gateway: &str) -> Vec<Released> {
    let mut out = Vec::new();
    for (idp, login) in [("educonnect", "eleve.louis"), ("agents", "prof.blanc")] {
        out.push(released_to(testbed, gateway, idp, login).await);
    }
    out
}

/// `sso-gateway import --from <from> --to <to> --store-url <url> <extra>`,
/// environment overrides removed: success, stdout, stderr. Run off the
/// test's runtime, which serves the simulators the validation fetches.
async fn import(
    from: &Path,
    to: &Path,
    redis: &RedisServer,
    extra: &[&str],
) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"));
    command
        .arg("import")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(to)
        .arg("--store-url")
        .arg(redis.url())
        .args(extra)
        .env_remove("SSO_REDIS_URL")
        .env_remove("SSO_IDENTIFIER_SECRET")
        .env_remove("SSO_ADMIN_TOKEN");
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn export(config: &Path, redis: &RedisServer, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (ok, stdout, stderr) = operator_command("export", config, redis, &args);
    assert!(ok, "{stdout}{stderr}");
    format!("{stdout}{stderr}")
}

/// Keys in a Redis server (`DBSIZE`), all prefixes included.
fn keys_in(redis: &RedisServer) -> u64 {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "DBSIZE"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A testbed and its configuration for a gateway at a free local address,
/// with the demo directory and subscriptions in `redis`.
async fn deployment(redis: &RedisServer) -> (Testbed, String, tempfile::TempDir) {
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    testbed_for(redis, addr).await
}

#[tokio::test]
async fn an_imported_deployment_releases_the_same_attributes_and_identifiers() {
    let redis_a = RedisServer::start().await.unwrap();
    let redis_b = RedisServer::start().await.unwrap();
    let (testbed, gateway, out) = deployment(&redis_a).await;

    let log_a = out.path().join("a.log");
    let mut a = serve_child(&testbed.config_path, &log_a);
    wait_ready(&mut a, &gateway, &log_a).await;
    let before = logins(&testbed, &gateway).await;
    assert_ne!(before[0], before[1]);
    for released in &before {
        assert!(released.ent.as_object().is_some_and(|m| !m.is_empty()));
        assert!(released.atlas["IDO"].is_array(), "{:?}", released.atlas);
        assert!(released.atlas_user.is_string(), "{:?}", released.atlas_user);
    }
    // The statistics writer gathers for a quarter of a second: wait until
    // the accesses are in Redis A before stopping A.
    let loaded_a = sso_gateway::config::LoadedConfig::load(&testbed.config_path).unwrap();
    let store_a = sso_gateway::server::connect_store(&loaded_a.config.store)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut csv = Vec::new();
        sso_gateway::stats::raw::export(store_a.as_ref(), &mut csv)
            .await
            .unwrap();
        if String::from_utf8(csv).unwrap().contains(";access;") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no statistics in Redis A"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(a);

    let work = tempfile::tempdir().unwrap();
    let exported = work.path().join("export");
    let said = export(&testbed.config_path, &redis_a, &exported, &[]);
    assert!(said.contains("WARNING"), "{said}");
    assert!(said.contains("PRIVATE KEYS AND SECRETS"), "{said}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&exported), 0o700);
    for file in all_files(&exported) {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert!(exported.join("README.md").is_file());

    let restored = work.path().join("restored");
    assert_eq!(keys_in(&redis_b), 0);
    let (ok, stdout, stderr) = import(&exported, &restored, &redis_b, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("AC-RENNES"), "{stdout}");
    assert!(keys_in(&redis_b) > 0);
    let config = std::fs::read_to_string(restored.join("gateway.toml")).unwrap();
    assert!(config.contains(&redis_b.url()), "{config}");
    assert!(!config.contains(&redis_a.url()), "{config}");

    // The statistics came across too: B's export of them is A's, and A's
    // logins and accesses are in it.
    let statistics = std::fs::read_to_string(exported.join("statistics.csv")).unwrap();
    assert!(statistics.lines().count() > 2, "{statistics}");
    assert!(statistics.contains(";login;"), "{statistics}");
    assert!(statistics.contains(";access;"), "{statistics}");
    let again = work.path().join("again");
    export(&restored.join("gateway.toml"), &redis_b, &again, &[]);
    assert_eq!(
        std::fs::read_to_string(again.join("statistics.csv")).unwrap(),
        statistics
    );

    let bare = work.path().join("bare");
    export(
        &testbed.config_path,
        &redis_a,
        &bare,
        &["--without-secrets"],
    );

    // Deployment A is gone for good: B serves from Redis B alone.
    drop(redis_a);
    let log_b = work.path().join("b.log");
    let mut b = serve_child(&restored.join("gateway.toml"), &log_b);
    wait_ready(&mut b, &gateway, &log_b).await;
    let after = logins(&testbed, &gateway).await;
    assert_eq!(before, after);
    drop(b);

    // Negative control: the same export without its secrets, given back
    // every key but a new identifier secret, releases the same attributes
    // with other opaque identifiers.
    let config_dir = testbed.config_path.parent().unwrap();
    let other = work.path().join("other");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(bare.join("manifest.json")).unwrap()).unwrap();
    for secret in manifest["secrets_left_out"].as_array().unwrap() {
        let (field, file) = (
            secret["field"].as_str().unwrap(),
            secret["path"].as_str().unwrap(),
        );
        std::fs::create_dir_all(other.join(file).parent().unwrap()).unwrap();
        if field == "keys.identifier_secret_file" {
            std::fs::write(other.join(file), sso_gateway::random_token()).unwrap();
        } else {
            std::fs::copy(config_dir.join(file), other.join(file)).unwrap();
        }
    }
    let redis_c = RedisServer::start().await.unwrap();
    let (ok, stdout, stderr) = import(&bare, &other, &redis_c, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    let log_c = work.path().join("c.log");
    let mut c = serve_child(&other.join("gateway.toml"), &log_c);
    wait_ready(&mut c, &gateway, &log_c).await;
    let elsewhere = logins(&testbed, &gateway).await;
    for (original, new) in before.iter().zip(&elsewhere) {
        assert_ne!(original.atlas_user, new.atlas_user);
        assert_ne!(original.atlas["IDO"], new.atlas["IDO"]);
        assert_ne!(original.ent["IDO"], new.ent["IDO"]);
        let without_ido = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("IDO");
            v
        };
        assert_eq!(without_ido(&original.ent), without_ido(&new.ent));
        assert_eq!(without_ido(&original.atlas), without_ido(&new.atlas));
    }
}

#[tokio::test]
async fn a_changed_export_a_busy_store_and_missing_secrets_are_refused() {
    let redis_a = RedisServer::start().await.unwrap();
    let (testbed, _gateway, _out) = deployment(&redis_a).await;
    let work = tempfile::tempdir().unwrap();
    let exported = work.path().join("export");
    export(&testbed.config_path, &redis_a, &exported, &[]);

    // One byte changed in the persons of the directory.
    let redis_b = RedisServer::start().await.unwrap();
    let damaged = work.path().join("damaged");
    copy_dir(&exported, &damaged);
    let persons = "directory/AC-RENNES/ENT2D/persons.jsonl";
    let mut bytes = std::fs::read(damaged.join(persons)).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(damaged.join(persons), &bytes).unwrap();
    let restored = work.path().join("restored");
    let (ok, stdout, stderr) = import(&damaged, &restored, &redis_b, &[]).await;
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(&format!("{persons}: content differs")),
        "{stderr}"
    );
    assert!(!restored.exists(), "nothing written into the folder");
    assert_eq!(keys_in(&redis_b), 0, "nothing written into the store");

    // A file missing and a file added are refused too, each named.
    let incomplete = work.path().join("incomplete");
    copy_dir(&exported, &incomplete);
    std::fs::remove_file(incomplete.join("subscriptions.json")).unwrap();
    std::fs::write(incomplete.join("extra.txt"), "?").unwrap();
    let (ok, _, stderr) = import(&incomplete, &restored, &redis_b, &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("subscriptions.json: listed in the manifest, missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("extra.txt: not listed in the manifest"),
        "{stderr}"
    );
    assert_eq!(keys_in(&redis_b), 0);

    // Positive control: the intact export imports.
    let (ok, stdout, stderr) = import(&exported, &restored, &redis_b, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    let filled = keys_in(&redis_b);
    assert!(filled > 0);

    // Redis B now holds gateway data: refused without --force.
    let again = work.path().join("again");
    let (ok, _, stderr) = import(&exported, &again, &redis_b, &[]).await;
    assert!(!ok);
    assert!(
        stderr.contains("the store already holds gateway data"),
        "{stderr}"
    );
    let forced = work.path().join("forced");
    let (ok, stdout, stderr) = import(&exported, &forced, &redis_b, &["--force"]).await;
    assert!(ok, "{stdout}{stderr}");

    // Without its secrets: no key material in the folder.
    let bare = work.path().join("bare");
    let said = export(
        &testbed.config_path,
        &redis_a,
        &bare,
        &["--without-secrets"],
    );
    assert!(!said.contains("WARNING"), "{said}");
    let config_dir = testbed.config_path.parent().unwrap();
    let secret_files = [
        "keys/identifier.secret",
        "keys/admin.token",
        "keys/educonnect-oidc.secret",
        "keys/gateway-signing.key",
        "keys/gateway-encryption.key",
    ];
    let secrets: Vec<String> = secret_files
        .iter()
        .map(|f| std::fs::read_to_string(config_dir.join(f)).unwrap())
        .collect();
    for file in all_files(&bare) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
        for secret in &secrets {
            assert!(!text.contains(secret.trim()), "{}", file.display());
        }
    }
    for file in secret_files {
        assert!(!bare.join("config").join(file).exists(), "{file}");
    }
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(bare.join("manifest.json")).unwrap()).unwrap();
    let left_out: Vec<String> = manifest["secrets_left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap().to_owned())
        .collect();
    for file in secret_files {
        assert!(left_out.iter().any(|p| p == file), "{file}: {left_out:?}");
    }
    let redis_c = RedisServer::start().await.unwrap();
    let target = work.path().join("target");
    let (ok, _, stderr) = import(&bare, &target, &redis_c, &[]).await;
    assert!(!ok);
    assert!(stderr.contains("written without its secrets"), "{stderr}");
    for file in &left_out {
        assert!(stderr.contains(file.as_str()), "{file} named: {stderr}");
    }
    assert!(stderr.contains("keys.identifier_secret_file"), "{stderr}");
    assert!(!target.exists());
    assert_eq!(keys_in(&redis_c), 0);
    // Once provided, the import accepts them.
    for file in &left_out {
        std::fs::create_dir_all(target.join(file).parent().unwrap()).unwrap();
        std::fs::copy(config_dir.join(file), target.join(file)).unwrap();
    }
    let (ok, stdout, stderr) = import(&bare, &target, &redis_c, &[]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(keys_in(&redis_c) > 0);
}
