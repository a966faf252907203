#!/usr/bin/env bash
# The whole test suite: installs what is missing (build and test packages,
# pysaml2, python-cas and authlib in a virtualenv, oidc-provider, puppeteer-core
# and axe-core from npm, Debian's chromium), checks formatting and lints, then
# runs every test of the workspace. Tests start their own Redis servers and
# OpenID provider on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --test

# pysaml2, python-cas and authlib, for the interoperability tests (SAML, CAS
# and OpenID Connect implementations nobody here wrote).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import saml2, cas, authlib' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'pysaml2==7.5.*' 'python-cas==1.6.*' 'authlib==1.9.*' 'requests==2.*'
fi
export SSO_TEST_PYTHON="$PWD/.venv/bin/python"

# oidc-provider (npm), the OpenID provider of idp-connectors/tests/oidc_interop.rs,
# at the version pinned by its package-lock.json (installed again when the
# lock file is newer than the installed tree).
interop=idp-connectors/tests/interop
if ! node -e 'process.exit(typeof URL.parse === "function" ? 0 : 1)'; then
  echo "node $(node --version) is too old for oidc-provider 9 (it needs URL.parse: Node.js >= 20.18;" \
    "Debian bookworm's nodejs is 18): install Node.js 22 LTS" >&2
  exit 1
fi
if [ ! -f "$interop/node_modules/oidc-provider/package.json" ] \
  || [ "$interop/package-lock.json" -nt "$interop/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$interop" --no-audit --no-fund
fi
export SSO_TEST_NODE_MODULES="$PWD/$interop/node_modules"

# puppeteer-core and axe-core (npm), the headless-browser check of the pages
# (gateway/tests/browser/check.mjs, driving Debian's chromium), at the
# versions pinned by its package-lock.json. Screenshots go to
# target/test-artifacts/ unless SSO_TEST_ARTIFACTS says otherwise.
browser=gateway/tests/browser
if [ ! -f "$browser/node_modules/puppeteer-core/package.json" ] \
  || [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$browser" --no-audit --no-fund
fi
export SSO_TEST_BROWSER_NODE_MODULES="$PWD/$browser/node_modules"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
./scripts/check-chart.sh
