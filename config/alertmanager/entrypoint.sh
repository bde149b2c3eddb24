#!/bin/sh
# Alertmanager entrypoint for compose (busybox sh in prom/alertmanager): start with the PagerDuty route
# only when a routing key was provided, so an unconfigured PagerDuty never produces failed notifications.
# Any extra arguments (e.g. --web.external-url) are passed through.
set -eu
dir=/etc/alertmanager
config="$dir/alertmanager.yml"
if [ -s "$dir/secrets/pagerduty-routing-key" ]; then
  config="$dir/alertmanager.pagerduty.yml"
  echo "PagerDuty routing key found: critical alerts also page PagerDuty" >&2
fi
exec /bin/alertmanager --config.file="$config" --storage.path=/alertmanager "$@"
