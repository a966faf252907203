//! The headless-browser check of a page (tests/browser/check.mjs: Debian's
//! chromium driven by puppeteer-core, axe-core's WCAG 2 A/AA rules, a walk
//! through the page with the Tab key, a full-page screenshot), run from the
//! tests.
//!
//! The npm packages come from `SSO_TEST_BROWSER_NODE_MODULES`, set by
//! `scripts/test.sh` after `npm ci --prefix gateway/tests/browser`, or from
//! `gateway/tests/browser/node_modules` when present; without either, or
//! without chromium, the check is skipped with a message. Screenshots go to
//! `$SSO_TEST_ARTIFACTS`, or `target/test-artifacts/` at the workspace root.

use std::path::{Path, PathBuf};

/// What the check found on one page.
#[derive(Debug)]
pub struct PageCheck {
    /// No accessibility violation and no keyboard problem.
    pub ok: bool,
    /// The script's JSON report (`axe.violations`, `keyboard.problems`...).
    pub report: serde_json::Value,
    /// The screenshot written.
    pub screenshot: PathBuf,
}

impl PageCheck {
    /// The ids of the axe-core rules the page breaks.
    pub fn violations(&self) -> Vec<String> {
        self.report["axe"]["violations"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|v| v["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The keyboard problems found.
    pub fn keyboard_problems(&self) -> Vec<String> {
        self.report["keyboard"]["problems"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

const CHROMIUM: &str = "/usr/bin/chromium";

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Where puppeteer-core and axe-core are, or `None` (with a message) when
/// they or chromium are not installed.
pub fn node_modules() -> Option<PathBuf> {
    let modules = match std::env::var_os("SSO_TEST_BROWSER_NODE_MODULES") {
        Some(path) => PathBuf::from(path),
        None => package_dir().join("node_modules"),
    };
    let installed = ["puppeteer-core", "axe-core"]
        .iter()
        .all(|name| modules.join(name).join("package.json").is_file());
    if std::env::var_os("SSO_TEST_BROWSER_NODE_MODULES").is_some() {
        assert!(
            installed,
            "SSO_TEST_BROWSER_NODE_MODULES={} holds no puppeteer-core and axe-core: run `npm ci --prefix gateway/tests/browser`",
            modules.display()
        );
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: scripts/install-deps.sh --test installs Debian's chromium"
        );
    }
    if !installed || !Path::new(CHROMIUM).is_file() {
        eprintln!(
            "SKIPPED: the browser check needs {CHROMIUM} and the npm packages of \
             gateway/tests/browser (scripts/test.sh installs them)"
        );
        return None;
    }
    Some(modules)
}

/// The folder of the tests' artefacts (created).
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("SSO_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens `url` in chromium with `cookies`, saves `<name>.png` among the
/// artefacts, runs the checks; `None` when the check is not installed.
pub async fn check_page(url: &str, cookies: &[(&str, &str)], name: &str) -> Option<PageCheck> {
    let modules = node_modules()?;
    let screenshot = artifacts().join(format!("{name}.png"));
    let mut command = tokio::process::Command::new("node");
    command
        .arg(package_dir().join("check.mjs"))
        .arg("--url")
        .arg(url)
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--chromium")
        .arg(CHROMIUM)
        .env("SSO_TEST_BROWSER_NODE_MODULES", &modules)
        .kill_on_drop(true);
    for (cookie, value) in cookies {
        command.arg("--cookie").arg(format!("{cookie}={value}"));
    }
    let out = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the browser check could not run on {url} ({}):\n{stderr}",
        out.status
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("not a JSON report ({err}):\n{stdout}\n{stderr}"));
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    Some(PageCheck {
        ok: out.status.success() && report["ok"] == serde_json::Value::Bool(true),
        report,
        screenshot,
    })
}
