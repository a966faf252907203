#!/usr/bin/env bash
# Lints, renders and validates the Helm chart (helm/sso-gateway) offline: no
# helm binary, no cluster. Installs what it needs into the repository's
# virtualenv (.venv) once: helm-python-sdk (Helm's Go SDK as a shared
# library: lint, values.schema.json, rendering) and kubernetes-validate (the
# Kubernetes schemas). Renders the default, Sentinel, Cluster and
# existing-Secret values, validates every object against Kubernetes 1.30,
# checks the chart's invariants, then proves each check can fail
# (helm/check/check_chart.py says what exactly).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import helm_python, kubernetes_validate, yaml' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check \
    'helm-python-sdk==0.2.2' 'kubernetes-validate==1.37.*' 'PyYAML==6.*'
fi

exec .venv/bin/python helm/check/check_chart.py
