#!/usr/bin/env bash
# Runs the demo: the gateway with simulated ÉduConnect, agent IdP, ENT and
# resources, in memory, in one process. Open the URL it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
exec cargo run --release -p sso-gateway -- demo "$@"
