#!/usr/bin/env bash
# The whole test suite: installs what is missing (build and test packages,
# pysaml2 and python-cas in a virtualenv), checks formatting and lints, then runs every test
# of the workspace. Tests start their own Redis servers on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --test

# pysaml2 and python-cas, for the interoperability tests (SAML and CAS
# implementations nobody here wrote).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import saml2, cas' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'pysaml2==7.5.*' 'python-cas==1.6.*'
fi
export SSO_TEST_PYTHON="$PWD/.venv/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
