#!/usr/bin/env bash
# Stop every process of this checkout's test bed (by pid file, never by name)
# and remove its temporary data (.testbed/). The build cache is kept.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"
. "$TESTBED_DIR/lib/extras.sh"

ACTIVE_FILE="$CACHE/active-state-dir"

main() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.up.lock"
  flock -w 600 9 || fail testbed "flock $CACHE/.up.lock" "" "timed out waiting for a running up.sh"
  if [[ ! -d "$STATE" ]]; then
    log "test bed is not up (no $STATE)"
    return 0
  fi
  if [[ -f "$STATE/borrowed" ]]; then
    local other
    other="$(cat "$STATE/borrowed")"
    clean_state "$STATE"
    ok "this checkout borrowed the test bed of $other: left it running, removed $STATE"
    return 0
  fi
  stop_extras "$STATE" # testbed/registry.sh, testbed/prometheus-operator.sh
  rm -rf "${STATE:?}/extras"
  stop_bed "$STATE"
  if any_alive "$STATE"; then
    fail testbed "testbed/down.sh" "" "some processes of $STATE are still alive"
  fi
  clean_state "$STATE"
  if [[ -f "$ACTIVE_FILE" && "$(cat "$ACTIVE_FILE")" == "$STATE" ]]; then rm -f "$ACTIVE_FILE"; fi
  ok "test bed stopped; its files in $STATE removed"
}

main "$@"
