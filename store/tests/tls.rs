//! `rediss://`: the store speaks TLS to Redis and verifies the server's
//! certificate against the trusted roots (architecture, "State"; the URL form of
//! `RedisConfig`).
//!
//! The trusted roots come from `SSL_CERT_FILE` when it is set, and a process
//! cannot safely change its own environment, so the parent test runs the ignored
//! test `tls_client` in child processes of this same binary: once trusting the
//! CA that issued the server's certificate (accepted), once trusting an unrelated
//! CA (refused).

// Marks the whole file as test code, so that clippy.toml's test allowances
// (unwrap, expect, panic) also cover its helper functions.
#![cfg(test)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sso_store::testing::{RedisServer, ServerOptions, TlsFiles};
use sso_store::{RedisConfig, RedisStore, Store};

const URL_VAR: &str = "SSO_STORE_TLS_TEST_URL";
const EXPECT_VAR: &str = "SSO_STORE_TLS_TEST_EXPECT";

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command line tool must be installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA, a server certificate it issued for 127.0.0.1, and an unrelated CA.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for name in ["ca", "other-ca"] {
        let (key, cert, subject) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN=sso-store test {name}"),
        );
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &cert]);
        openssl(dir, &args);
    }
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1"];
    args.extend(ec);
    args.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// Runs `tls_client` in a child process trusting only `trusted_ca`.
fn run_client(url: &str, trusted_ca: &Path, expect: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["tls_client", "--exact", "--ignored", "--nocapture"])
        .env("SSL_CERT_FILE", trusted_ca)
        .env_remove("SSL_CERT_DIR")
        .env(URL_VAR, url)
        .env(EXPECT_VAR, expect)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "client expecting {expect} failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn rediss_accepts_a_trusted_server_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let server = RedisServer::start_with(ServerOptions {
        password: None,
        tls: Some(TlsFiles {
            cert_file: dir.path().join("server.pem"),
            key_file: dir.path().join("server.key"),
            ca_file: dir.path().join("ca.pem"),
        }),
    })
    .await
    .unwrap();
    let url = server.url();
    assert!(url.starts_with("rediss://"), "{url}");

    run_client(&url, &dir.path().join("ca.pem"), "accepted");
    run_client(&url, &dir.path().join("other-ca.pem"), "refused");
}

#[tokio::test]
#[ignore = "run in a child process by rediss_accepts_a_trusted_server_and_refuses_an_unknown_one"]
async fn tls_client() {
    let url = std::env::var(URL_VAR).expect("run by the parent test, which sets the URL");
    let expect = std::env::var(EXPECT_VAR).expect("run by the parent test, which sets it");
    let config = RedisConfig {
        connect_timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(5),
        ..RedisConfig::new(url)
    };
    let outcome = RedisStore::connect(config).await;
    match expect.as_str() {
        "accepted" => {
            let store = outcome.unwrap();
            store
                .put("session:tls", b"v", Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(store.get("session:tls").await.unwrap(), Some(b"v".to_vec()));
        }
        "refused" => {
            let err = outcome.unwrap_err();
            assert!(err.is_unavailable(), "{err:?}");
            assert!(err.to_string().contains("certificate"), "{err}");
        }
        other => panic!("unknown expectation {other}"),
    }
}
