//! The CI smoke run of the load tests (issue 6: "in CI a short smoke
//! version (one minute, low rate) that fails the build on errors"): the
//! `sso-load` binary starts its local stack (Redis, simulators, gateway
//! as three processes), drives the default mix for a minute and must
//! pass; then the gate's negative control: a mix whose accounts the
//! simulated IdP does not know fails every visit, and the run must exit
//! with status 1 and name the failure.
//!
//! A third run targets a stack given by URL, as a staging deployment
//! would be: the single-process demo served by the test.
//!
//! The thresholds of latency are loosened here (debug build on a shared
//! CI machine): the smoke run judges errors, the benchmarks judge speed.

#![cfg(test)]

use std::path::Path;
use std::process::Command;

fn sso_load(out: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sso-load"))
        .arg("run")
        .args(args)
        .arg("--out")
        .arg(out)
        .args(["--step-p99-ms", "2000", "--login-p95-ms", "10000"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_smoke_run_passes_and_a_broken_mix_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();

    let out = dir.path().join("smoke");
    let (code, stdout, stderr) = sso_load(&out, &["smoke"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    assert!(summary.contains("Verdict: PASS"), "{summary}");
    assert!(
        summary.contains("successful visits (retries included): 100.00 %"),
        "{summary}"
    );
    for step in [
        "POST /saml/sp/acs",
        "GET /saml/idp/sso",
        "GET /cas/login",
        "GET /oidc/authorize",
        "GET /api/mediacentre (server to server)",
        "GET /cas/p3/serviceValidate (server to server)",
    ] {
        assert!(
            summary.contains(&format!("gateway | {step} |")),
            "{step} timed as a gateway step: {summary}"
        );
    }
    assert!(
        summary.contains("testbed | POST /testbed/educonnect/login |"),
        "the simulated IdP's steps are apart: {summary}"
    );
    assert!(summary.contains("gateway CPU per visit"), "{summary}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg role=\"img\""), "graphs in the report");
    assert!(html.contains("Verdict: PASS"));

    let mix = dir.path().join("unknown.toml");
    std::fs::write(
        &mix,
        "period_s = 2\n[[scenario]]\nname = \"stranger\"\nweight = 1\nidp = \"educonnect\"\n\
         entry = \"/testbed/ent/login\"\naccounts = [\"nobody.here\"]\n",
    )
    .unwrap();
    let out = dir.path().join("broken");
    let (code, stdout, stderr) = sso_load(
        &out,
        &[
            "smoke",
            "--mix",
            mix.to_str().unwrap(),
            "--ramp",
            "2",
            "--hold",
            "12",
        ],
    );
    assert_eq!(code, Some(1), "the gate fails: {stdout}\n{stderr}");
    assert!(stdout.contains("Verdict: FAIL"), "{stdout}");
    assert!(
        stdout.contains("[FAIL] successful visits (retries included): 0.00 %"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HTTP 4") && stdout.contains("POST /testbed/educonnect/login"),
        "the failure is named with its step: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_given_by_url_is_targeted_without_starting_one() {
    let demo = sso_gateway::demo::DemoStack::spawn(sso_gateway::demo::DemoStore::Memory)
        .await
        .unwrap();
    let base = format!("{}/", demo.base_url);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("staging");
    let report = out.clone();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        sso_load(
            &report,
            &[
                "smoke",
                "--rate",
                "2",
                "--ramp",
                "2",
                "--hold",
                "10",
                "--gateway",
                &base,
                "--testbed",
                &base,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "target: gateway {}/, testbed {}/",
            demo.base_url, demo.base_url
        )),
        "{stdout}"
    );
    assert!(stdout.contains("Verdict: PASS"), "{stdout}");
    assert!(!out.join("stack").exists(), "no local stack started");
    assert!(
        stdout.contains("gateway CPU per visit: – ms"),
        "no process counters for a remote gateway: {stdout}"
    );
}
