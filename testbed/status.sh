#!/usr/bin/env bash
# Show each test bed component: pid, address, health, resident memory.
# Exit status 0 only when every component is healthy.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"
. "$TESTBED_DIR/lib/extras.sh"

rss_mib() {
  local pid
  pid="$(owned_pid "$PIDS/$1.pid" "$STATE")" || { echo "-"; return; }
  awk '/^VmRSS:/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status"
}

row() {
  local name="$1" addr="$2" check="$3" pid health
  pid="$(owned_pid "$PIDS/$name.pid" "$STATE" || echo '-')"
  if "$check" >/dev/null 2>&1; then health="${_G}healthy${_N}"; else health="${_R}DOWN${_N}"; BAD=1; fi
  printf '  %-24s %-8s %-28s %-10s %s\n' "$name" "$pid" "$addr" "$(rss_mib "$name")" "$health"
}

BAD=0
if [[ -f "$STATE/borrowed" ]]; then
  other="$(cat "$STATE/borrowed")"
  echo "  this checkout borrows the running test bed of $other"
  TESTBED_STATE="$other" exec "$0" "$@"
fi
if [[ ! -d "$STATE" ]]; then
  echo "test bed is not up (no $STATE); start it with: make testbed"
  exit 1
fi
printf '  %-24s %-8s %-28s %-10s %s\n' COMPONENT PID ADDRESS RSS HEALTH
row kafka "127.0.0.1:$KAFKA_PORT" healthy_kafka
row ferretdb "mongodb://127.0.0.1:$MONGO_PORT" healthy_ferretdb
row etcd "http://127.0.0.1:$ETCD_PORT" healthy_etcd
row kube-apiserver "https://127.0.0.1:$APISERVER_PORT" healthy_apiserver
row kube-controller-manager "https://127.0.0.1:$CONTROLLER_MANAGER_PORT" healthy_controller_manager
row kube-scheduler "https://127.0.0.1:$SCHEDULER_PORT" healthy_scheduler
row kwok "http://127.0.0.1:$KWOK_PORT" healthy_kwok
row prometheus "http://127.0.0.1:$PROMETHEUS_PORT" healthy_prometheus
nodes="$(ready_node_count)"
if ((nodes >= FAKE_NODES)); then h="${_G}healthy${_N}"; else h="${_R}DOWN${_N}"; BAD=1; fi
printf '  %-24s %-8s %-28s %-10s %s\n' "fake nodes (kwok)" - "$nodes Ready of $FAKE_NODES" - "$h"
if [[ -n "$BED_NODE_IP" ]]; then
  row containerd "unix://…/node/containerd/containerd.sock" healthy_containerd
  row kubelet "$NODE_NAME https://$BED_NODE_IP:$KUBELET_PORT" healthy_kubelet
  row kube-proxy "iptables; healthz :$KUBE_PROXY_HEALTHZ_PORT" healthy_kube_proxy
  row coredns "dns://$BED_NODE_IP:53" healthy_coredns
  row node-proxy-ferretdb "$BED_NODE_IP:$MONGO_PORT -> :$MONGO_PORT" healthy_node_proxies
  row node-proxy-prometheus "$BED_NODE_IP:$PROMETHEUS_PORT -> :$PROMETHEUS_PORT" healthy_node_proxies
  printf '  %-24s %s\n' "real node pods" "$POD_CIDR on $POD_BRIDGE; egress guard $IPT_FORWARD"
elif node_enabled; then
  echo "  real node: not started by this bed (started with TESTBED_NODE=0, or by older scripts): DOWN"
  BAD=1
fi
# Started on demand (testbed/registry.sh, testbed/prometheus-operator.sh): shown when started.
for extra in registry:"$BED_NODE_IP:$REGISTRY_PORT (http)" prometheus-operator:"127.0.0.1:$PROMOP_PORT"; do
  name="${extra%%:*}"
  [[ -f "$EXTRAS_STATE/$name.pid" ]] || continue
  if "$TESTBED_DIR/$name.sh" status >/dev/null 2>&1; then h="${_G}healthy${_N}"; else h="${_R}DOWN${_N}"; BAD=1; fi
  printf '  %-24s %-8s %-28s %-10s %s\n' "$name" "$(cat "$EXTRAS_STATE/$name.pid")" "${extra#*:}" - "$h"
done
for tool in kubectl helm skaffold; do
  printf '  %-24s %s\n' "$tool" "$(command -v "$tool" || echo missing)"
done
if [[ -f "$STATE/env" ]]; then echo "  env: . $STATE/env"; else echo "  env: not written (up.sh did not finish)"; BAD=1; fi
exit "$BAD"
