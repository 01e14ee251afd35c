#!/usr/bin/env bash
# Build (first time only) and start the FLEAD test bed on 127.0.0.1:
#   Kafka (KRaft), FerretDB (MongoDB wire), etcd + kube-apiserver +
#   kube-controller-manager + kube-scheduler + KWOK fake nodes, Prometheus,
#   and a real node (containerd + kubelet + kube-proxy + CoreDNS) on the
#   machine's own address; TESTBED_NODE=0 leaves the real node out.
# Writes .testbed/env; `. .testbed/env` gives a shell the whole bed.
# Idempotent: when the bed is already up and healthy it says so and exits 0.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"
. "$TESTBED_DIR/lib/extras.sh"

# Which checkout's bed currently holds the ports (there is one set of ports per machine).
ACTIVE_FILE="$CACHE/active-state-dir"
START_OK=0

all_healthy() {
  healthy_kafka && healthy_ferretdb && healthy_prometheus && healthy_kubernetes &&
    { ! node_enabled || healthy_node; }
}

need_cmd() {
  command -v "$1" >/dev/null || fail "$2" "command -v $1" "" "'$1' is not installed: $3"
}

# Debian's prometheus package; installed when missing. The package's own
# service is never used (policy-rc.d keeps apt from starting it on port 9090).
ensure_prometheus() {
  command -v prometheus >/dev/null && command -v promtool >/dev/null && return 0
  apt_install prometheus prometheus
}

preflight() {
  need_cmd curl preflight "apt-get install curl"
  need_cmd openssl kubernetes "apt-get install openssl"
  need_cmd python3 preflight "apt-get install python3"
  need_cmd setsid preflight "apt-get install util-linux"
  need_cmd flock preflight "apt-get install util-linux"
  need_cmd java kafka "apt-get install openjdk-17-jre-headless"
  ensure_prometheus
  if node_enabled; then
    ((EUID == 0)) || fail node "id -u" "" "the real node (containerd, kubelet, iptables) needs root; TESTBED_NODE=0 leaves it out"
    ensure_node_packages
  fi
}

# fingerprint: what this checkout's bed is made of (versions, start-up code, stages).
fingerprint() {
  { cat "$TESTBED_DIR/versions.env" "$TESTBED_DIR"/lib/*.sh "$TESTBED_DIR"/kwok/*.yaml; echo "node=${TESTBED_NODE:-1}"; } |
    sha256sum | cut -d' ' -f1
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
  if [[ -n "$BED_NODE_IP" ]]; then
    for entry in "${NODE_PORTS[@]}"; do
      port="${entry%%:*}" owner="${entry#*:}"
      ! tcp_open_at "$BED_NODE_IP" "$port" || busy+=("$BED_NODE_IP:$port ($owner)")
    done
  fi
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

# The control plane, then (when enabled) the real node, which needs the apiserver.
start_kubernetes_and_node() {
  start_kubernetes
  node_enabled || return 0
  local t0
  t0=$(now)
  start_node
  elapsed "$t0" >"$STATE/timings/node"
  ok "real node $NODE_NAME Ready in $(cat "$STATE/timings/node") (node IP $BED_NODE_IP)"
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
  node_enabled || return 0
  cat >>"$STATE/env" <<EOF
# The real node: its pods reach the bed at the node IP only.
export TESTBED_NODE_NAME="$NODE_NAME"
export TESTBED_NODE_IP="$BED_NODE_IP"
export TESTBED_NODE_LABEL="$NODE_LABEL"
export TESTBED_NODE_TAINT="$NODE_TAINT"
export TESTBED_NODE_KAFKA_BOOTSTRAP_SERVERS="$BED_NODE_IP:$KAFKA_NODE_PORT"
export TESTBED_NODE_MONGODB_URI="mongodb://$BED_NODE_IP:$MONGO_PORT/"
export TESTBED_NODE_PROMETHEUS_URL="http://$BED_NODE_IP:$PROMETHEUS_PORT"
export TESTBED_PROBE_IMAGE="$PROBE_IMAGE"
export CONTAINERD_ADDRESS="$CONTAINERD_SOCK"
export CONTAINERD_NAMESPACE=k8s.io
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
  stop_extras "$STATE" # the registry and the prometheus-operator serve the bed being replaced
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

  clean_state "$STATE"
  mkdir -p "$LOGS" "$PIDS" "$STATE/timings" "$PROM_TARGETS"
  BED_NODE_IP=""
  if node_enabled; then record_node_ip; fi
  check_ports
  if node_enabled; then
    # The apiserver will listen on every address: only this machine (and later its pods) may connect.
    iptables_guard_up "$BED_NODE_IP" >"$LOGS/node-network.log" 2>&1 ||
      fail node "iptables (testbed/lib/node.sh iptables_guard_up)" "$LOGS/node-network.log" "cannot set up the inbound guard"
  fi
  fingerprint >"$STATE/fingerprint"
  echo "$STATE" >"$ACTIVE_FILE"
  trap cleanup_on_failure EXIT

  make_pki
  log "starting kafka, ferretdb, prometheus, kubernetes$(node_enabled && echo ' and the real node' || true) (logs: $LOGS)"
  launch kubernetes start_kubernetes_and_node
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
