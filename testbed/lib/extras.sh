# shellcheck shell=bash disable=SC2034
# Issue 11's optional bed pieces, built on first use and started by their own scripts:
# the prometheus-operator (testbed/prometheus-operator.sh), a local image registry
# (testbed/registry.sh) and skaffold. Sourced after common.sh.

PROMOP_DIR="$CACHE/prometheus-operator-v$PROMETHEUS_OPERATOR_VERSION" # bin/prometheus-operator, crds/ (all ten)
REGISTRY_DIR="$CACHE/distribution-v$DISTRIBUTION_VERSION"          # bin/registry
SKAFFOLD_DIR="$CACHE/skaffold-v$SKAFFOLD_VERSION"                   # bin/skaffold
PROMETHEUS_DIR="$CACHE/prometheus-module-v$PROMETHEUS_MODULE_VERSION-k8s-sd" # bin/prometheus (not linked on PATH)
PROMOP_PORT="${TESTBED_PROMOP_PORT:-18480}"                         # the operator's /metrics and /healthz, 127.0.0.1
# Their processes keep pid files here, not in $PIDS (stop_bed empties that folder).
EXTRAS_STATE="$STATE/extras"

# stop_extras STATE_DIR: stop the registry and the prometheus-operator of that bed (by pid only).
stop_extras() {
  local state="$1" name pid
  for name in prometheus-operator registry; do
    if pid="$(owned_pid "$state/extras/$name.pid" "$state")"; then stop_pid "$name" "$pid"; fi
    rm -f "$state/extras/$name.pid"
  done
}

# extras_preflight SCRIPT: the bed must be up in this checkout (not borrowed).
extras_preflight() {
  if [[ -f "$STATE/borrowed" ]]; then
    fail "$1" "testbed/$1.sh" "" "this checkout borrows the bed of $(cat "$STATE/borrowed"): run testbed/$1.sh there"
  fi
  [[ -f "$STATE/env" ]] || fail "$1" "testbed/$1.sh" "" "the test bed is not up (no $STATE/env): run testbed/up.sh"
}

# extra_daemon NAME CMD...: like daemon (components.sh), with the pid file in $EXTRAS_STATE.
extra_daemon() {
  local name="$1"
  shift
  mkdir -p "$LOGS" "$EXTRAS_STATE"
  printf '$ %s\n' "$*" >"$LOGS/$name.log"
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  echo $! >"$EXTRAS_STATE/$name.pid"
}

extra_alive() { owned_pid "$EXTRAS_STATE/$1.pid" "$STATE" >/dev/null; }

# extra_wait NAME TIMEOUT WHAT CMD...: poll CMD; fail with the log tail when NAME dies or time runs out.
extra_wait() {
  local name="$1" timeout="$2" what="$3"
  shift 3
  local deadline=$(($(now) + timeout))
  until "$@" >/dev/null 2>&1; do
    extra_alive "$name" || fail "$name" "$(head -n1 "$LOGS/$name.log" | cut -c3-)" "$LOGS/$name.log" "process exited during start-up"
    (($(now) < deadline)) ||
      fail "$name" "$(head -n1 "$LOGS/$name.log" | cut -c3-)" "$LOGS/$name.log" "timed out after ${timeout}s waiting for: $what"
    sleep 0.5
  done
}
