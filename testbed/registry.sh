#!/usr/bin/env bash
# The bed's local image registry (CNCF distribution, built from its Go module on first use),
# plain http on the real node's address, so `skaffold run -p local-registry` can push images
# that the node's containerd pulls (testbed/lib/node.sh writes its hosts.toml):
#   testbed/registry.sh up       build (first time) and start it; idempotent
#   testbed/registry.sh down     stop it and remove its images
#   testbed/registry.sh status   exit 0 when it answers; prints its address
#   testbed/registry.sh address  print NODE_IP:PORT (the skaffold --default-repo)
# testbed/down.sh stops it with the bed. Only this machine and its pods can reach the port.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"
. "$TESTBED_DIR/lib/extras.sh"

address() {
  local ip
  ip="$(cat "$STATE/node-ip" 2>/dev/null)" ||
    fail registry "cat $STATE/node-ip" "" "the bed has no real node (TESTBED_NODE=0?): the registry serves the node"
  echo "$ip:$REGISTRY_PORT"
}

healthy_registry() { extra_alive registry && http_ok "http://$(address)/v2/"; }

main() {
  local cmd="${1:-}"
  case "$cmd" in
    address) address ;;
    status) healthy_registry && echo "registry http://$(address) (data $EXTRAS_STATE/registry)" ;;
    down)
      if pid="$(owned_pid "$EXTRAS_STATE/registry.pid" "$STATE")"; then stop_pid registry "$pid"; fi
      rm -rf "$EXTRAS_STATE/registry" "$EXTRAS_STATE/registry.pid"
      ok "registry stopped"
      ;;
    up)
      extras_preflight registry
      if healthy_registry; then
        ok "registry already up: http://$(address)"
        return
      fi
      "$TESTBED_DIR/build.sh" registry
      local dir="$EXTRAS_STATE/registry" t0
      t0=$(now)
      mkdir -p "$dir/data"
      cat >"$dir/config.yml" <<CFG
# Written by testbed/registry.sh.
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: $(address)
CFG
      extra_daemon registry "$REGISTRY_DIR/bin/registry" serve "$dir/config.yml"
      extra_wait registry 30 "http://$(address)/v2/ answering" http_ok "http://$(address)/v2/"
      ok "registry up in $(elapsed "$t0"): http://$(address)"
      ;;
    *)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
