//! `sso-gateway probe` end to end (issue 7): a full login through the demo
//! stack started here (ENT login link, discovery page, simulated ÉduConnect,
//! SAML back to the ENT), and through a small password-protected login page
//! served by the test (the demo's simulated IdPs ask for no password: their
//! test accounts are picked from a list). The password given to the probe
//! must never appear in its records or its output. Then `sso-gateway slo
//! report` reads the records.

#![cfg(test)]

mod common;

use axum::Router;
use axum::extract::Form;
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use common::Stack;

const SECRET: &str = "Pr0be-Secret-Value";

struct Run {
    ok: bool,
    code: Option<i32>,
    output: String,
    records: Vec<serde_json::Value>,
    raw_records: String,
}

/// Runs `sso-gateway probe --once` with `args`, the password in
/// `PROBE_PASSWORD`; returns its exit, output and the records written.
async fn probe(dir: &tempfile::TempDir, args: &[&str]) -> Run {
    let out = dir.path().join("records.jsonl");
    let _ = std::fs::remove_file(&out);
    let result = tokio::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
        .arg("probe")
        .args(args)
        .args([
            "--once",
            "--password-env",
            "PROBE_PASSWORD",
            "--timeout",
            "20",
        ])
        .arg("--out")
        .arg(&out)
        .env("PROBE_PASSWORD", SECRET)
        .output()
        .await
        .unwrap();
    let raw_records = std::fs::read_to_string(&out).unwrap_or_default();
    Run {
        ok: result.status.success(),
        code: result.status.code(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ),
        records: raw_records
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        raw_records,
    }
}

fn assert_no_secret(run: &Run) {
    assert!(!run.raw_records.contains(SECRET), "{}", run.raw_records);
    assert!(!run.output.contains(SECRET), "{}", run.output);
}

#[tokio::test]
async fn a_probe_logs_in_through_the_demo_and_records_it() {
    let stack = Stack::memory().await;
    let dir = tempfile::tempdir().unwrap();
    let start = stack.url("/testbed/ent/login");
    let base = [
        "--start",
        start.as_str(),
        "--follow",
        "/login/educonnect",
        "--expect",
        "Connecté",
    ];

    let ok = probe(
        &dir,
        &[&base[..], &["--username", "eleve.louis", "--name", "demo"]].concat(),
    )
    .await;
    assert!(ok.ok, "{}", ok.output);
    assert_eq!(ok.records.len(), 1);
    let record = &ok.records[0];
    assert_eq!(record["outcome"], "ok", "{record}");
    assert_eq!(record["probe"], "demo");
    assert_eq!(record["target"], start.as_str());
    assert!(record.get("step").is_none());
    assert!(ok.output.contains("connexion réussie"), "{}", ok.output);
    assert_no_secret(&ok);

    // An account the IdP does not offer: the login step fails.
    let failed = probe(
        &dir,
        &[&base[..], &["--username", "personne.inconnue"]].concat(),
    )
    .await;
    assert!(!failed.ok);
    assert_eq!(failed.code, Some(1));
    let record = &failed.records[0];
    assert_eq!(record["outcome"], "failed", "{record}");
    assert_eq!(record["step"], "login");
    assert!(
        failed.output.contains("ÉCHEC à l'étape login"),
        "{}",
        failed.output
    );
    assert_no_secret(&failed);

    // The ENT page is reached, but not the expected text.
    let unmet = probe(
        &dir,
        &[
            &base[..4],
            &["--username", "eleve.louis", "--expect", "Texte absent"],
        ]
        .concat(),
    )
    .await;
    assert!(!unmet.ok);
    assert_eq!(unmet.records[0]["step"], "final-page");
}

/// A login page that wants `SECRET` as the password of `alice`, then posts
/// a SAML-looking response back to the application.
fn password_site() -> Router {
    #[derive(serde::Deserialize)]
    struct Login {
        user: String,
        pass: String,
        csrf: String,
    }
    const LOGIN_FORM: &str = r#"<form method="post" action="/idp/login"><input type="hidden" name="csrf" value="t0k">
<label>Identifiant <input type="text" name="user"></label><label>Mot de passe <input type="password" name="pass"></label>
<button>Se connecter</button></form>"#;
    Router::new()
        .route("/app", get(|| async { Redirect::to("/idp/login?req=1") }))
        .route(
            "/idp/login",
            get(|| async { Html(LOGIN_FORM) }).post(|Form(f): Form<Login>| async move {
                if f.user == "alice" && f.pass == SECRET && f.csrf == "t0k" {
                    Html(
                        r#"<form method="post" action="/app/acs"><input type="hidden" name="SAMLResponse" value="PHNhbWw+"><input type="hidden" name="RelayState" value="r"></form>"#
                            .to_owned(),
                    )
                    .into_response()
                } else {
                    Html(format!("<p>Identifiant ou mot de passe incorrect.</p>{LOGIN_FORM}"))
                        .into_response()
                }
            }),
        )
        .route(
            "/app/acs",
            axum::routing::post(|Form(f): Form<Vec<(String, String)>>| async move {
                if f.iter().any(|(k, v)| k == "SAMLResponse" && v == "PHNhbWw+") {
                    Html("<h1>Bienvenue alice</h1>").into_response()
                } else {
                    axum::http::StatusCode::BAD_REQUEST.into_response()
                }
            }),
        )
}

#[tokio::test]
async fn a_wrong_password_fails_at_the_login_step_and_is_never_written() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, password_site()).await });
    let dir = tempfile::tempdir().unwrap();
    let start = format!("{base}/app");
    let args = ["--start", start.as_str(), "--expect", "Bienvenue"];

    // Positive control: the right password goes through.
    let ok = probe(&dir, &[&args[..], &["--username", "alice"]].concat()).await;
    assert!(ok.ok, "{}", ok.output);
    assert_eq!(ok.records[0]["outcome"], "ok");
    assert_no_secret(&ok);

    // Another account with the same password: refused, the form comes back.
    let refused = probe(&dir, &[&args[..], &["--username", "bob"]].concat()).await;
    assert!(!refused.ok, "{}", refused.output);
    let record = &refused.records[0];
    assert_eq!(record["outcome"], "failed");
    assert_eq!(record["step"], "login");
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("identifiants refusés"),
        "{record}"
    );
    assert_no_secret(&refused);
}

#[tokio::test]
async fn the_report_reads_probe_records_and_refuses_a_draft_year_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("r.jsonl");
    std::fs::write(
        &records,
        concat!(
            r#"{"time":"2027-01-11T07:00:00Z","probe":"p","target":"t","outcome":"ok","duration_ms":5,"interval_s":60}"#,
            "\n",
            r#"{"time":"2027-01-11T07:01:00Z","probe":"p","target":"t","outcome":"failed","duration_ms":5,"interval_s":60,"step":"login","http_status":500}"#,
            "\n"
        ),
    )
    .unwrap();
    let report = |academie: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
            .args(["slo", "report", "--academie", academie])
            .args(["--from", "2027-01-11", "--to", "2027-01-11"])
            .arg("--records")
            .arg(&records)
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = report("rennes", &[]);
    assert!(!ok);
    assert!(
        err.contains("2026-2027") && err.contains("--allow-draft"),
        "{err}"
    );
    let (ok, out, err) = report("rennes", &["--allow-draft", "--json"]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["window"]["covered_ms"], 180_000);
    assert_eq!(json["window"]["down_ms"], 120_000);
    let (ok, out, _) = report("rennes", &["--allow-draft"]);
    assert!(ok);
    assert!(out.contains("académie de Rennes (zone B)"), "{out}");
    let (ok, _, err) = report("corse", &["--allow-draft"]);
    assert!(!ok);
    assert!(err.contains("Corse"), "{err}");
}
