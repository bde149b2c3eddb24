#!/usr/bin/env bash
# Install what the local stack and the tests need, idempotently:
#   - Debian packages (rabbitmq-server, prometheus, prometheus-alertmanager, prometheus-node-exporter,
#     prometheus-pushgateway, prometheus-blackbox-exporter, wrk) when root;
#     otherwise print the exact command and stop if one is missing.
#   - .venv with the observatory package and its pinned dependencies.
# Usage: scripts/bootstrap.sh [runtime|dev]   (dev adds test tools and Prophet/tracing extras)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-dev}"
PY="${PYTHON:-python3}"
VENV=".venv"

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pkgs=(rabbitmq-server prometheus prometheus-alertmanager prometheus-node-exporter prometheus-pushgateway
      prometheus-blackbox-exporter wrk)
[ "$MODE" = "dev" ] && pkgs+=(chromium)   # the real-browser SDK test (tests/browser)
for pkg in "${pkgs[@]}"; do
  have "$pkg" || need_pkgs+=("$pkg")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "==> installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    # the packages start system-wide daemons; the local stack runs its own private ones
    for svc in rabbitmq-server prometheus prometheus-alertmanager prometheus-node-exporter prometheus-pushgateway \
               prometheus-blackbox-exporter; do
      (systemctl disable --now "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
    done
  else
    echo "missing Debian packages: ${need_pkgs[*]}" >&2
    echo "run: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

stamp="$VENV/.installed-$MODE"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ services/pyproject.toml -nt "$stamp" ]; then
  echo "==> installing Python packages ($MODE)"
  "$VENV/bin/pip" install -q --upgrade pip
  extras="forecast,tracing"
  [ "$MODE" = "dev" ] && extras="forecast,tracing,dev,evaluation"
  "$VENV/bin/pip" install -q -e "services[$extras]"
  touch "$stamp"
fi

# dev: the dashboard schema check (tests/config/test_dashboard_schema.py) type-checks the Grafana
# dashboards with @grafana/schema and TypeScript, pinned by tests/config/grafana_schema/package-lock.json
# and the compose stack's blackbox/pushgateway jobs and node-exporter setup run live against Debian's exporters
if [ "$MODE" = "dev" ]; then
  schema=tests/config/grafana_schema
  dev_pkgs=()
  command -v npm >/dev/null 2>&1 || dev_pkgs+=(nodejs npm)
  for pkg in prometheus-blackbox-exporter prometheus-pushgateway prometheus-node-exporter; do
    have "$pkg" || dev_pkgs+=("$pkg")
  done
  if [ "${#dev_pkgs[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${dev_pkgs[@]}" >/dev/null
      for svc in prometheus-blackbox-exporter prometheus-pushgateway prometheus-node-exporter; do
        (systemctl disable --now "$svc" || service "$svc" stop) >/dev/null 2>&1 || true
      done
    else
      echo "missing Debian packages: ${dev_pkgs[*]}; run: sudo apt-get install -y ${dev_pkgs[*]}" >&2
      exit 1
    fi
  fi
  if [ ! -d "$schema/node_modules" ] || [ "$schema/package-lock.json" -nt "$schema/node_modules" ]; then
    echo "==> installing the Grafana dashboard schema check (npm ci)"
    npm ci --prefix "$schema" --no-audit --no-fund --silent
    touch "$schema/node_modules"
  fi
fi

# npm packages of the real-browser test (posthog-js, analytics-next, puppeteer-core), from the lock file
if [ "$MODE" = "dev" ] && { [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; }; then
  echo "==> installing npm packages (tests/browser)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi
