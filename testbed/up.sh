#!/usr/bin/env bash
# Build (first time only) and start the FLEAD test bed on 127.0.0.1:
#   Kafka (KRaft), FerretDB (MongoDB wire), etcd + kube-apiserver +
#   kube-controller-manager + kube-scheduler + KWOK fake nodes, Prometheus.
# Writes .testbed/env; `. .testbed/env` gives a shell the whole bed.
# Idempotent: when the bed is already up and healthy it says so and exits 0.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"

# Which checkout's bed currently holds the ports (there is one set of ports per machine).
ACTIVE_FILE="$CACHE/active-state-dir"
START_OK=0

all_healthy() {
  healthy_kafka && healthy_ferretdb && healthy_prometheus && healthy_kubernetes
}

need_cmd() {
  command -v "$1" >/dev/null || fail "$2" "command -v $1" "" "'$1' is not installed: $3"
}

# Debian's prometheus package; installed when missing. The package's own
# service is never used (policy-rc.d keeps apt from starting it on port 9090).
ensure_prometheus() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  local sudo="" log="$CACHE/logs/apt-prometheus.log"
  if ((EUID != 0)); then
    command -v sudo >/dev/null || fail prometheus "apt-get install prometheus" "" "not root and no sudo: install the Debian 'prometheus' package"
    sudo="sudo"
  fi
  mkdir -p "$CACHE/logs"
  log "installing Debian package prometheus (apt-get)"
  local t0 policy_added=0
  t0=$(now)
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  local rc=0
  {
    $sudo apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends prometheus
  } >"$log" 2>&1 || rc=$?
  ((policy_added)) && $sudo rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || fail prometheus "apt-get update && apt-get install -y prometheus" "$log" "cannot install prometheus"
  ok "installed prometheus in $(elapsed "$t0")"
}

preflight() {
  need_cmd curl preflight "apt-get install curl"
  need_cmd openssl kubernetes "apt-get install openssl"
  need_cmd python3 preflight "apt-get install python3"
  need_cmd setsid preflight "apt-get install util-linux"
  need_cmd flock preflight "apt-get install util-linux"
  need_cmd java kafka "apt-get install openjdk-17-jre-headless"
  ensure_prometheus
}

# fingerprint: what this checkout's bed is made of (versions, start-up code, stages).
fingerprint() {
  cat "$TESTBED_DIR/versions.env" "$TESTBED_DIR"/lib/*.sh "$TESTBED_DIR"/kwok/*.yaml | sha256sum | cut -d' ' -f1
}

bed_healthy_at() { TESTBED_STATE="$1" "$TESTBED_DIR/status.sh" >/dev/null 2>&1; }

# There is one set of ports per machine. When another checkout's bed holds them
# (a developer's while CI runs a fresh clone, or the reverse) and it is healthy
# and made from the same scripts and versions, borrow it: nobody's bed is
# stopped under their running tests. down.sh of a borrower leaves it running.
borrow_other_bed() {
  [[ -f "$ACTIVE_FILE" ]] || return 1
  local other
  other="$(cat "$ACTIVE_FILE")"
  [[ "$other" != "$STATE" && -f "$other/env" && -f "$other/fingerprint" ]] || return 1
  [[ "$(cat "$other/fingerprint")" == "$(fingerprint)" ]] || return 1
  bed_healthy_at "$other" || return 1
  clean_state "$STATE"
  mkdir -p "$STATE"
  echo "$other" >"$STATE/borrowed"
  cp "$other/env" "$STATE/env"
  ok "reusing the healthy test bed of $other (same versions and scripts); . $STATE/env"
}

# Otherwise (unhealthy, or built from other scripts) stop it, by its pid files.
take_over_ports() {
  [[ -f "$ACTIVE_FILE" ]] || return 0
  local other
  other="$(cat "$ACTIVE_FILE")"
  [[ "$other" != "$STATE" && -d "$other" ]] || return 0
  if any_alive "$other"; then
    warn "the test bed of $other holds the ports (unhealthy or from other scripts); stopping it"
    stop_bed "$other"
  fi
}

check_ports() {
  local entry port owner busy=()
  for entry in "${ALL_PORTS[@]}"; do
    port="${entry%%:*}" owner="${entry#*:}"
    port_free "$port" || busy+=("127.0.0.1:$port ($owner)")
  done
  ((${#busy[@]} == 0)) && return 0
  {
    printf '%s[testbed] FAILED: ports%s\n' "$_R" "$_N"
    printf '  what:    these ports are taken by processes this bed did not start:\n'
    printf '             %s\n' "${busy[@]}"
    printf '  command: ss -ltnp\n'
    ss -ltnp 2>/dev/null | sed 's/^/    | /' || true
  } >&2
  exit 1
}

cleanup_on_failure() {
  ((START_OK)) && return 0
  warn "start failed: stopping what was started; logs kept in $LOGS"
  stop_bed "$STATE" || true
}

# launch NAME FUNCTION: run FUNCTION in the background, time it, remember the pid.
declare -A LAUNCHED=()
launch() {
  local name="$1" fn="$2"
  (
    t0=$(now)
    "$fn"
    took="$(elapsed "$t0")"
    echo "$took" >"$STATE/timings/$name"
    ok "$name ready in $took"
  ) &
  LAUNCHED[$name]=$!
}

wait_launched() {
  local name failed=()
  for name in "${!LAUNCHED[@]}"; do
    wait "${LAUNCHED[$name]}" || failed+=("$name")
  done
  ((${#failed[@]} == 0)) || {
    printf '%s[testbed] could not start: %s (details above)%s\n' "$_R" "${failed[*]}" "$_N" >&2
    exit 1
  }
}

write_env() {
  cat >"$STATE/env" <<EOF
# Written by testbed/up.sh: \`. .testbed/env\` gives a shell the whole test bed.
export TESTBED_CACHE="$CACHE"
export TESTBED_STATE="$STATE"
export PATH="$CACHE_BIN:\$PATH"
export KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
export MONGODB_URI="mongodb://127.0.0.1:$MONGO_PORT/"
export KUBECONFIG="$KUBECONFIG_ADMIN"
export KUBE_APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
export ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT"
export PROMETHEUS_URL="http://127.0.0.1:$PROMETHEUS_PORT"
export PROMETHEUS_TARGETS_DIR="$PROM_TARGETS"
export MONITORING_CRDS_DIR="$CRDS_DIR"
EOF
}

main() {
  mkdir -p "$CACHE/logs"
  exec 9>"$CACHE/.up.lock"
  if ! flock -n 9; then
    log "another testbed/up.sh or down.sh is running; waiting for it (up to 90 min)"
    flock -w 5400 9 || fail testbed "flock $CACHE/.up.lock" "" "timed out waiting for another up.sh"
  fi

  if [[ -f "$STATE/borrowed" ]]; then
    if bed_healthy_at "$(cat "$STATE/borrowed")"; then
      ok "test bed already up and healthy (borrowed from $(cat "$STATE/borrowed")): . $STATE/env"
      exit 0
    fi
    clean_state "$STATE"
  fi
  if [[ -f "$STATE/env" ]] && all_healthy; then
    if [[ "$(cat "$STATE/fingerprint" 2>/dev/null)" == "$(fingerprint)" ]]; then
      ok "test bed already up and healthy (. $STATE/env)"
      echo "$STATE" >"$ACTIVE_FILE"
      exit 0
    fi
    warn "testbed scripts or versions changed since the bed started: restarting it"
  fi
  if any_alive "$STATE"; then
    warn "stopping the running (partial, unhealthy or outdated) bed first"
    stop_bed "$STATE"
  fi

  local t_all
  t_all=$(now)
  preflight
  "$TESTBED_DIR/build.sh"
  if borrow_other_bed; then exit 0; fi
  take_over_ports
  check_ports

  clean_state "$STATE"
  mkdir -p "$LOGS" "$PIDS" "$STATE/timings" "$PROM_TARGETS"
  fingerprint >"$STATE/fingerprint"
  echo "$STATE" >"$ACTIVE_FILE"
  trap cleanup_on_failure EXIT

  make_pki
  log "starting kafka, ferretdb, prometheus and kubernetes (logs: $LOGS)"
  launch kubernetes start_kubernetes
  launch kafka start_kafka
  launch ferretdb start_ferretdb
  launch prometheus start_prometheus
  wait_launched

  all_healthy || fail testbed "testbed/status.sh" "" "components started but a health check fails"
  write_env
  START_OK=1
  ok "test bed up in $(elapsed "$t_all"): . $STATE/env"
}

main "$@"
