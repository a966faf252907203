//! The short failure drill of CI (issue 7, "Failure drills"): `sso-load
//! drill --only replica-kill` starts the local cluster (Redis primary,
//! replica and three Sentinels, the simulators, three gateway replicas
//! behind HAProxy), drives logins through HAProxy, `kill -9`s one replica
//! and restarts it, and must pass: no failed login beyond the requests in
//! flight on the killed replica, no ticket accepted twice (after the
//! checker's positive control), no session lost. The report must name the
//! killed replica's in-flight failures.
//!
//! Skipped, with a message, when `haproxy` is not installed
//! (`scripts/install-deps.sh --test` installs it).

#![cfg(test)]

use std::process::Command;

fn haproxy_installed() -> bool {
    Command::new("haproxy")
        .arg("-v")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn a_replica_killed_under_load_loses_no_login_beyond_its_requests_in_flight() {
    if !haproxy_installed() {
        eprintln!("SKIPPED: haproxy is not installed (scripts/install-deps.sh --test installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drill");
    let output = Command::new(env!("CARGO_BIN_EXE_sso-load"))
        .args([
            "drill",
            "--only",
            "replica-kill",
            "--baseline",
            "8",
            "--recovery",
            "8",
            "--outage",
            "4",
            "--sessions",
            "4",
            "--rate",
            "5",
            "--out",
        ])
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let text = std::fs::read_to_string(out.join("drills.txt")).unwrap();
    assert!(text.starts_with("Failure drills — verdict: PASS"), "{text}");
    assert!(text.contains("kill -9 gw2"), "{text}");
    assert!(text.contains("gw2 restarted and ready"), "{text}");
    assert!(
        text.contains("[ok] no failed login beyond requests in flight on the stopped replica: ")
            && text.contains(" in flight on gw2, 0 otherwise"),
        "the verdict names the killed replica's in-flight failures: {text}"
    );
    assert!(
        text.contains("positive control (a fresh ticket accepted once, then refused): ok"),
        "{text}"
    );
    assert!(
        text.contains("[ok] no one-time item accepted twice: 0 accepted twice"),
        "{text}"
    );
    assert!(
        text.contains("[ok] no session lost: 0 lost, 4 kept"),
        "{text}"
    );
    let html = std::fs::read_to_string(out.join("drills.html")).unwrap();
    assert!(
        html.contains("<svg") && !html.contains("<script"),
        "self-contained HTML"
    );
    let haproxy = std::fs::read_to_string(out.join("haproxy.cfg")).unwrap();
    assert!(haproxy.contains("option httpchk GET /readyz"), "{haproxy}");
}
