#!/usr/bin/env bash
# The test bed's real node on its own, while the rest of the bed is up
# (testbed/up.sh starts and testbed/down.sh stops it with everything else):
#   testbed/node.sh up       (re)start containerd, CoreDNS, kube-proxy, kubelet, kube-router, forwarders
#   testbed/node.sh down     stop them: containers, network namespaces, mounts, iptables rules
#   testbed/node.sh status   exit 0 when every node component is healthy
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd="${1:-}"
  [[ "$cmd" == up || "$cmd" == down || "$cmd" == status ]] || usage
  if [[ -f "$STATE/borrowed" ]]; then
    fail node "testbed/node.sh $cmd" "" "this checkout borrows the bed of $(cat "$STATE/borrowed"): run node.sh there"
  fi
  if [[ "$cmd" == status ]]; then
    healthy_node
    return
  fi
  [[ -f "$STATE/env" ]] || fail node "testbed/node.sh $cmd" "" "the test bed is not up (no $STATE/env): run testbed/up.sh"
  exec 9>"$CACHE/.up.lock"
  flock -w 600 9 || fail node "flock $CACHE/.up.lock" "" "timed out waiting for a running up.sh/down.sh"
  stop_node "$STATE"
  rm -rf "${STATE:?}/node"
  if [[ "$cmd" == down ]]; then
    ok "real node stopped"
    return
  fi
  local t0
  t0=$(now)
  ensure_node_packages
  "$TESTBED_DIR/build.sh" node coredns netpol
  start_node
  mkdir -p "$STATE/timings"
  elapsed "$t0" >"$STATE/timings/node"
  ok "real node $NODE_NAME Ready in $(elapsed "$t0") (node IP $BED_NODE_IP)"
}

main "$@"
