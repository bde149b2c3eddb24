#!/usr/bin/env bash
# `make up`: the full Docker stack. Checks the engine first and points to `make local` without one.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "error: no Docker engine is reachable (docker info failed)." >&2
  echo "       On a machine without Docker, run the local stack instead: make local" >&2
  exit 1
fi
docker compose up -d --wait
