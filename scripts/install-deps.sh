#!/usr/bin/env bash
# Installs the Debian packages the build (and, with --test, the tests) need,
# only those missing. Needs root (or sudo) on a fresh machine.
set -euo pipefail

packages=(build-essential pkg-config libclang-dev libxmlsec1-dev)
if [ "${1:-}" = "--test" ]; then
  packages+=(redis-server redis-sentinel xmlsec1 python3-venv haproxy)
  # Debian's chromium, driven headless by the browser check of the pages
  # (gateway/tests/browser: screenshots, axe-core, keyboard navigation).
  packages+=(chromium)
  # Node.js and npm run oidc-provider, the OpenID provider of the OIDC
  # interoperability test; a node already on the PATH (any source) will do.
  command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing missing packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
