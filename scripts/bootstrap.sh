#!/usr/bin/env bash
# Install what the local stack and the tests need, idempotently:
#   - Debian packages (rabbitmq-server, prometheus, prometheus-alertmanager, prometheus-node-exporter,
#     prometheus-pushgateway, prometheus-blackbox-exporter, wrk) when root;
#     otherwise print the exact command and stop if one is missing.
#   - .venv with the observatory package and its pinned dependencies.
#   It never stops, disables or reconfigures a service that was on the machine before: the packages
#   it installs are kept from starting their system-wide daemons by a temporary policy-rc.d
#   (scripts/policy-rc.sh, for those packages only), and the local stack checks its ports itself
#   (a port already taken names its process and stops).
# Usage: scripts/bootstrap.sh [runtime|dev]   (dev adds test tools and Prophet/tracing extras)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-dev}"
PY="${PYTHON:-python3}"
VENV=".venv"

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# apt-get install the given packages without starting the daemons THEY bring (and only theirs):
# scripts/policy-rc.sh answers "forbidden" (101) for their services and defers to the machine's own
# policy-rc.d, saved aside meanwhile and put back afterwards, for every other one.
POLICY="${OBS_POLICY_RC_BASE:-/usr/sbin/policy-rc.d}"   # overridable for tests/config/test_bootstrap.py
restore_policy() {
  rm -f "$POLICY.observatory-deny"
  if [ -e "$POLICY.observatory-saved" ]; then mv -f "$POLICY.observatory-saved" "$POLICY"; else rm -f "$POLICY"; fi
}
install_quietly() {
  export DEBIAN_FRONTEND=noninteractive
  [ ! -e "$POLICY.observatory-saved" ] || restore_policy   # a run interrupted before its cleanup
  [ ! -e "$POLICY" ] || mv "$POLICY" "$POLICY.observatory-saved"
  printf '%s\n' "$@" > "$POLICY.observatory-deny"
  install -m 0755 scripts/policy-rc.sh "$POLICY"
  trap restore_policy EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  restore_policy
  trap - EXIT
  # installed and enabled by the package, never started: keep them from starting at the next boot
  if [ -d /run/systemd/system ]; then
    for unit in "$@"; do
      if systemctl cat "$unit.service" >/dev/null 2>&1; then systemctl disable "$unit.service" >/dev/null 2>&1 || true; fi
    done
  fi
}
pkgs=(rabbitmq-server prometheus prometheus-alertmanager prometheus-node-exporter prometheus-pushgateway
      prometheus-blackbox-exporter wrk)
[ "$MODE" = "dev" ] && pkgs+=(chromium caddy)   # the real-browser SDK test (tests/browser); caddy validate (tests/config/test_caddy.py)
for pkg in "${pkgs[@]}"; do
  have "$pkg" || need_pkgs+=("$pkg")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "==> installing Debian packages: ${need_pkgs[*]}"
    install_quietly "${need_pkgs[@]}"
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
      echo "==> installing Debian packages: ${dev_pkgs[*]}"
      install_quietly "${dev_pkgs[@]}"
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
