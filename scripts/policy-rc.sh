#!/bin/sh
# Installed by scripts/bootstrap.sh as /usr/sbin/policy-rc.d for the length of its `apt-get install`
# only (see invoke-rc.d(8)): the daemons of the packages it installs right then (names in the file
# /usr/sbin/policy-rc.d.observatory-deny) are not started; the local stack runs private copies of them.
# Every other service is left to the machine's own policy (the saved policy-rc.d, else allowed).
base="${OBS_POLICY_RC_BASE:-/usr/sbin/policy-rc.d}"   # overridable for tests/config/test_bootstrap.py
deny="$base.observatory-deny"
saved="$base.observatory-saved"
while [ $# -gt 0 ]; do
  case "$1" in
    --*) shift ;;          # --quiet, --list ...
    *) break ;;
  esac
done
service="${1:-}"
if [ -n "$service" ] && [ -f "$deny" ] && grep -qxF "$service" "$deny"; then
  exit 101                 # action forbidden by policy
fi
if [ -x "$saved" ]; then
  exec "$saved" "$@"
fi
exit 0
