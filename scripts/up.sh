#!/usr/bin/env bash
# `make up`: the full Docker stack.
#   1. checks the Docker engine (points to `make local` without one), that its memory covers the sum
#      of the containers' memory limits, and vm.max_map_count
#   2. creates .env from .env.example on the first run, with random secrets
#   3. `docker compose up -d --wait --build`, then the one-shot setup jobs (profile `setup`)
#   4. prints the services, their URLs and where the credentials are
# Usage: scripts/up.sh            everything (add the demo traffic with DEMO=1)
#        scripts/up.sh env        only create .env (ENV_FILE=path to write elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE="${ENV_FILE:-.env}"
# OBS_MEM_CHECK=warn turns the memory check into a warning (the limits are ceilings: the stack runs
# in less while not every container peaks at once, but then the kernel may OOM-kill one that does)
MEM_CHECK="${OBS_MEM_CHECK:-strict}"
MAX_MAP_COUNT=262144
MAX_MAP_COUNT_FILE="${OBS_MAX_MAP_COUNT_FILE:-/proc/sys/vm/max_map_count}"
SECRETS=(GRAFANA_ADMIN_PASSWORD ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD FILEBEAT_PASSWORD
         LOGS_READER_PASSWORD RABBITMQ_PASSWORD CLICKHOUSE_PASSWORD CLICKHOUSE_ANALYST_PASSWORD
         CLICKHOUSE_QUERY_API_PASSWORD
         METABASE_ADMIN_PASSWORD)
LONG_SECRETS=(KIBANA_ENCRYPTION_KEY METABASE_ENCRYPTION_KEY CONSOLE_SESSION_SECRET)

die() { echo "error: $*" >&2; exit 1; }

# Alphanumeric only: the values end up in URLs (AMQP, ClickHouse DSN), in sed (RabbitMQ
# definitions) and in shell healthchecks, where other characters would need escaping.
random_secret() {
  local n="${1:-24}" s=""
  # at least one digit and one letter of each case (Metabase's password rules)
  until [[ ${#s} -ge $n && $s =~ [0-9] && $s =~ [a-z] && $s =~ [A-Z] ]]; do
    s="$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c "$n" || true)"
  done
  printf '%s' "$s"
}

sha256_hex() {
  if command -v sha256sum >/dev/null 2>&1; then printf '%s' "$1" | sha256sum | cut -d' ' -f1
  else printf '%s' "$1" | shasum -a 256 | cut -d' ' -f1; fi
}

set_var() {  # set_var FILE KEY VALUE: replace the `KEY=` line (values are alphanumeric or key entries)
  local file="$1" key="$2" value="$3" tmp
  tmp="$(mktemp "${file}.XXXX")"
  awk -v k="$key" -v v="$value" 'BEGIN{FS=OFS="="} $1==k {print k "=" v; next} {print}' "$file" > "$tmp"
  mv "$tmp" "$file"
}

get_var() { grep -E "^$2=" "$1" | head -n1 | cut -d= -f2- || true; }

# alert channels had other names in .env before they were unified with `make local`'s
RENAMED=(SLACK_WEBHOOK_URL:OBS_SLACK_WEBHOOK_URL ALERT_SMTP_SMARTHOST:OBS_SMTP_SMARTHOST ALERT_SMTP_FROM:OBS_SMTP_FROM
         ALERT_EMAIL_TO:OBS_ALERT_EMAIL_TO ALERT_SMTP_USERNAME:OBS_SMTP_USERNAME ALERT_SMTP_REQUIRE_TLS:OBS_SMTP_REQUIRE_TLS
         SMTP_PASSWORD:OBS_SMTP_PASSWORD PAGERDUTY_ROUTING_KEY:OBS_PAGERDUTY_ROUTING_KEY OPSGENIE_API_KEY:OBS_OPSGENIE_API_KEY)

rename_vars() {  # an old name's line becomes the new name's, unless the file has the new name already
  local file="$1" pair old new tmp
  for pair in "${RENAMED[@]}"; do
    old="${pair%%:*}"; new="${pair#*:}"
    grep -qE "^$old=" "$file" || continue
    grep -qE "^$new=" "$file" && continue
    tmp="$(mktemp "${file}.XXXX")"
    awk -v o="$old" -v n="$new" 'index($0, o "=") == 1 {print n substr($0, length(o) + 1); next} {print}' "$file" > "$tmp"
    mv "$tmp" "$file"
    echo "==> $file: renamed $old to $new (the same name as make local's)"
  done
}

make_env() {
  if [ -f "$ENV_FILE" ]; then
    echo "==> using existing $ENV_FILE"
    rename_vars "$ENV_FILE"
  else
    cp .env.example "$ENV_FILE"
    chmod 600 "$ENV_FILE"
    echo "==> created $ENV_FILE from .env.example"
  fi
  local filled=0 key
  for key in "${SECRETS[@]}"; do
    if [ -z "$(get_var "$ENV_FILE" "$key")" ]; then set_var "$ENV_FILE" "$key" "$(random_secret 24)"; filled=$((filled + 1)); fi
  done
  for key in "${LONG_SECRETS[@]}"; do
    if [ -z "$(get_var "$ENV_FILE" "$key")" ]; then set_var "$ENV_FILE" "$key" "$(random_secret 48)"; filled=$((filled + 1)); fi
  done
  if [ -z "$(get_var "$ENV_FILE" OBS_API_KEY)" ]; then
    local api_key
    api_key="obs_$(random_secret 32)"
    set_var "$ENV_FILE" OBS_API_KEY "$api_key"
    set_var "$ENV_FILE" OBS_INGEST_API_KEYS "demo:sha256:$(sha256_hex "$api_key")"
    filled=$((filled + 2))
  elif [ -z "$(get_var "$ENV_FILE" OBS_INGEST_API_KEYS)" ]; then
    set_var "$ENV_FILE" OBS_INGEST_API_KEYS "demo:sha256:$(sha256_hex "$(get_var "$ENV_FILE" OBS_API_KEY)")"
    filled=$((filled + 1))
  fi
  [ "$filled" -gt 0 ] && echo "==> generated $filled secret(s) in $ENV_FILE (mode 600; keep it out of git)"
  return 0
}

check_docker() {
  command -v docker >/dev/null 2>&1 || die "the docker command is not installed.
       On a machine without Docker, run the local stack instead: make local"
  docker info >/dev/null 2>&1 || die "no Docker engine is reachable (docker info failed).
       Start Docker (or check your permissions on its socket), or run the local stack without
       Docker: make local"
  docker compose version >/dev/null 2>&1 || die "the Docker Compose v2 plugin is missing (docker compose version failed)"
}

gib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1073741824 }'; }

# The sum of the memory limits of the containers `up` starts (docker compose config normalises every
# mem_limit to bytes), with the same profiles. The secrets do not matter here: a throwaway .env is
# used when none exists yet, so nothing is generated before the checks pass.
required_memory() {
  local env_file="$ENV_FILE" tmp=""
  if [ ! -f "$env_file" ]; then
    tmp="$(mktemp -d)"; env_file="$tmp/.env"
    ENV_FILE="$env_file" make_env >/dev/null
  fi
  docker compose --env-file "$env_file" ${profiles[@]+"${profiles[@]}"} config --format json \
    | grep -o '"mem_limit": *"[0-9]*"' | grep -o '[0-9][0-9]*' | awk '{ s += $1 } END { printf "%.0f\n", s }'
  [ -z "$tmp" ] || rm -rf "$tmp"
}

check_memory() {
  local have need
  have="$(docker info --format '{{.MemTotal}}' 2>/dev/null || echo 0)"
  need="$(required_memory)"
  [ "${need:-0}" -gt 0 ] || die "could not sum the containers' memory limits (docker compose config failed)"
  if [ "$have" -lt "$need" ]; then
    local msg="the Docker engine has $(gib "$have") GiB of memory; the containers' memory limits add up to $(gib "$need") GiB
       (Elasticsearch 2, ClickHouse 2, Metabase 2, Kibana 1.5 GiB, ...: docs/stack.md#memory).
       Give Docker more memory, run the smaller local stack (make local), or accept the risk of
       OOM kills when several containers peak at once: OBS_MEM_CHECK=warn make up"
    [ "$MEM_CHECK" = "warn" ] || die "$msg"
    echo "warning: $msg" >&2
  fi
}

check_max_map_count() {
  # Elasticsearch refuses to start below 262144. The setting belongs to the (Linux) kernel that
  # runs the engine; Docker Desktop's VM already has it.
  [ -r "$MAX_MAP_COUNT_FILE" ] || return 0
  [ "$(uname -s)" = "Linux" ] || return 0
  local current
  current="$(cat "$MAX_MAP_COUNT_FILE")"
  if [ "$current" -lt "$MAX_MAP_COUNT" ]; then
    die "vm.max_map_count is $current; Elasticsearch needs at least $MAX_MAP_COUNT. Run:
         sudo sysctl -w vm.max_map_count=$MAX_MAP_COUNT
       and to keep it after a reboot:
         echo 'vm.max_map_count=$MAX_MAP_COUNT' | sudo tee /etc/sysctl.d/99-elasticsearch.conf"
  fi
}

print_table() {
  local bind grafana_user metabase_email
  bind="$(get_var "$ENV_FILE" BIND_ADDRESS)"; bind="${bind:-127.0.0.1}"
  [ "$bind" = "0.0.0.0" ] && bind="localhost"
  grafana_user="$(get_var "$ENV_FILE" GRAFANA_ADMIN_USER)"
  metabase_email="$(get_var "$ENV_FILE" METABASE_ADMIN_EMAIL)"
  port() { local p; p="$(get_var "$ENV_FILE" "$1")"; echo "${p:-$2}"; }
  echo
  printf '%-14s %-36s %s\n' SERVICE URL LOGIN
  printf '%-14s %-36s %s\n' Grafana "http://$bind:$(port GRAFANA_PORT 3000)" "${grafana_user:-admin} / GRAFANA_ADMIN_PASSWORD"
  printf '%-14s %-36s %s\n' Kibana "http://$bind:$(port KIBANA_PORT 5601)" "elastic / ELASTIC_PASSWORD"
  printf '%-14s %-36s %s\n' Metabase "http://$bind:$(port METABASE_PORT 3001)" "${metabase_email} / METABASE_ADMIN_PASSWORD"
  printf '%-14s %-36s %s\n' Jaeger "http://$bind:$(port JAEGER_UI_PORT 16686)" "-"
  printf '%-14s %-36s %s\n' Prometheus "http://$bind:$(port PROMETHEUS_PORT 9090)" "-"
  printf '%-14s %-36s %s\n' Alertmanager "http://$bind:$(port ALERTMANAGER_PORT 9093)" "-"
  printf '%-14s %-36s %s\n' Pushgateway "http://$bind:$(port PUSHGATEWAY_PORT 9091)" "-"
  printf '%-14s %-36s %s\n' RabbitMQ "http://$bind:$(port RABBITMQ_MANAGEMENT_PORT 15672)" "observatory / RABBITMQ_PASSWORD"
  printf '%-14s %-36s %s\n' ClickHouse "http://$bind:$(port CLICKHOUSE_HTTP_PORT 8123)/play" "analyst / CLICKHOUSE_ANALYST_PASSWORD"
  printf '%-14s %-36s %s\n' Elasticsearch "http://$bind:$(port ELASTICSEARCH_PORT 9200)" "elastic / ELASTIC_PASSWORD"
  printf '%-14s %-36s %s\n' "Ingest API" "http://$bind:$(port INGEST_PORT 8080)/v1/events" "Bearer OBS_API_KEY"
  if [ -n "$(get_var "$ENV_FILE" OBS_PUBLIC_DOMAIN)" ]; then
    printf '%-14s %-36s %s\n' "Public ingest" "https://$(get_var "$ENV_FILE" OBS_PUBLIC_DOMAIN)/v1/events" "Bearer <ingest key>"
  fi
  printf '%-14s %-36s %s\n' Console "http://$bind:$(port FORECASTER_PRIVATE_PORT 8091)/console/" "a read key (OBS_API_KEYS)"
  printf '%-14s %-36s %s\n' "Read API" "http://$bind:$(port FORECASTER_PRIVATE_PORT 8091)/v1" "Bearer <read key>; docs/security.md"
  printf '%-14s %-36s %s\n' Runbooks "$(get_var "$ENV_FILE" RUNBOOK_BASE_URL | grep . || echo "http://localhost:$(port FORECASTER_PRIVATE_PORT 8091)/runbooks")/" "-"
  echo
  echo "Passwords and keys are in $(pwd)/$ENV_FILE (e.g. grep GRAFANA_ADMIN_PASSWORD $ENV_FILE)."
  echo "Send an event:  make cli ARGS=\"send product_viewed -p product_id=p-001 -p price=9.5 -p category=books\""
  echo "Demo traffic:   DEMO=1 make up      Logs: make logs      Stop: make down"
}

main() {
  if [ "${1:-}" = "env" ]; then make_env; exit 0; fi
  profiles=()
  [ "${DEMO:-0}" = "1" ] && profiles=(--profile demo)
  # public HTTPS ingest (Caddy) once .env names the domain
  if [ -f "$ENV_FILE" ] && [ -n "$(get_var "$ENV_FILE" OBS_PUBLIC_DOMAIN)" ]; then profiles+=(--profile https); fi
  check_docker
  check_memory
  check_max_map_count
  make_env
  echo "==> building the observatory image and starting the stack (first run: several minutes)"
  docker compose --env-file "$ENV_FILE" ${profiles[@]+"${profiles[@]}"} up -d --build --wait --wait-timeout "${OBS_WAIT_TIMEOUT:-900}"
  echo "==> provisioning Elasticsearch, Kibana, Metabase and Grafana"
  docker compose --env-file "$ENV_FILE" --profile setup run --rm setup
  print_table
}

main "$@"
