# shellcheck shell=bash disable=SC2034
# The test bed's real node: containerd + runc (Debian), a bridge CNI, kubelet and
# kube-proxy (built like the control plane), CoreDNS for cluster names, kube-router's
# firewall enforcing NetworkPolicies, and forwarders so pods reach the bed's FerretDB
# and Prometheus on the node IP.
# Sourced after common.sh and components.sh. Only workloads that tolerate the
# taint below (and select the label) land on it; KWOK does not manage it (no
# kwok.x-k8s.io/node annotation).

NODE_NAME=flead-node
NODE_LABEL="flead.io/testbed-node=real"
NODE_TAINT="flead.io/testbed-node=real:NoSchedule"
POD_CIDR=10.0.64.0/24
POD_GATEWAY=10.0.64.1
POD_BRIDGE=flead0
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
KUBE_PROXY_HEALTHZ_PORT=10256
KUBE_PROXY_METRICS_PORT=10249
NETPOL_HEALTH_PORT=20244
SERVICE_CIDR=10.0.0.0/24 # the apiserver's --service-cluster-ip-range
NFT_GUARD=flead-testbed-egress # nftables table of the egress guard while kube-router runs
COREDNS_HEALTH_PORT=18180
COREDNS_READY_PORT=18181
NODE_DIR_STATE="$STATE/node"
CONTAINERD_SOCK="$NODE_DIR_STATE/containerd/containerd.sock"
IPT_INPUT=FLEAD-TESTBED-INPUT
IPT_FORWARD=FLEAD-TESTBED-FORWARD
KAFKA_NODE_PORT="${KAFKA_NODE_PORT:-19094}"
REGISTRY_PORT="${TESTBED_REGISTRY_PORT:-15000}" # testbed/registry.sh's image registry (http, node IP)
# Ports the bed opens on the node IP (or all addresses): only this machine and its pods may connect.
NODE_GUARDED_TCP_PORTS="$APISERVER_PORT,$KUBELET_PORT,$KAFKA_NODE_PORT,$MONGO_PORT,$PROMETHEUS_PORT,53,$REGISTRY_PORT"

# What listens on the node IP (checked free before start).
NODE_PORTS=("$KAFKA_NODE_PORT:kafka" "$MONGO_PORT:node-proxy-ferretdb" "$PROMETHEUS_PORT:node-proxy-prometheus"
  "$KUBELET_PORT:kubelet" "53:coredns")

# node_ip: the machine's own non-loopback IPv4 address (TESTBED_NODE_IP overrides).
node_ip() {
  if [[ -n "${TESTBED_NODE_IP:-}" ]]; then
    echo "$TESTBED_NODE_IP"
    return
  fi
  ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}'
}

ctr_node() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# ensure_node_packages: Debian's containerd, runc, CNI plugins, iptables, conntrack, socat.
ensure_node_packages() {
  local missing=() cmd
  for cmd in containerd:containerd ctr:containerd runc:runc iptables:iptables conntrack:conntrack socat:socat \
    ipset:ipset nft:nftables; do
    command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback && -x /usr/lib/cni/portmap ]] ||
    missing+=(containernetworking-plugins)
  ((${#missing[@]} == 0)) && return 0
  # shellcheck disable=SC2086
  apt_install node $(printf '%s\n' "${missing[@]}" | sort -u)
}

# ---------------------------------------------------------------- certificates
make_node_pki() {
  local ip="$1" log="$LOGS/node-pki.log"
  {
    gen_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$ip,DNS:$NODE_NAME" &&
      gen_cert kube-proxy "/CN=system:kube-proxy" &&
      gen_cert coredns "/CN=flead-testbed:coredns"
  } >"$log" 2>&1 || fail node "openssl (testbed/lib/node.sh make_node_pki)" "$log" "cannot make the node's certificates"
  chmod 600 "$PKI"/*.key
  write_kubeconfig "$PKI/kubelet.kubeconfig" "system:node:$NODE_NAME" kubelet
  write_kubeconfig "$PKI/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
  write_kubeconfig "$PKI/coredns.kubeconfig" flead-testbed:coredns coredns
}

# ---------------------------------------------------------------- network
# The pods' egress guard and the inbound guard of the ports the bed opens on the node IP.
iptables_guard_up() {
  local ip="$1" chain
  iptables_guard_down
  iptables -N "$IPT_FORWARD"
  iptables -A "$IPT_FORWARD" -s "$POD_CIDR" -d "$POD_CIDR" -j RETURN
  iptables -A "$IPT_FORWARD" -s "$POD_CIDR" -m addrtype --dst-type LOCAL -j RETURN
  iptables -A "$IPT_FORWARD" -s "$POD_CIDR" -j REJECT --reject-with icmp-net-prohibited
  iptables -I FORWARD 1 -j "$IPT_FORWARD"
  iptables -N "$IPT_INPUT"
  iptables -A "$IPT_INPUT" -s "$POD_CIDR" -j RETURN
  iptables -A "$IPT_INPUT" -m addrtype --src-type LOCAL -j RETURN
  iptables -A "$IPT_INPUT" -p tcp -m multiport --dports "$NODE_GUARDED_TCP_PORTS" -j REJECT --reject-with tcp-reset
  iptables -A "$IPT_INPUT" -p udp --dport 53 -j REJECT
  iptables -I INPUT 1 -j "$IPT_INPUT"
  for chain in "$IPT_FORWARD" "$IPT_INPUT"; do iptables -S "$chain" >/dev/null; done
}

iptables_guard_first() {
  local parent chain
  for parent in FORWARD:"$IPT_FORWARD" INPUT:"$IPT_INPUT"; do
    chain="${parent#*:}"
    iptables -D "${parent%%:*}" -j "$chain" && iptables -I "${parent%%:*}" 1 -j "$chain" || return 1
  done
}

# The kubelet's own chains (kube-proxy --cleanup leaves them): its canaries and the
# "block incoming localnet connections" firewall.
kubelet_chains_down() {
  command -v iptables >/dev/null || return 0
  local table chain parent
  for parent in INPUT OUTPUT; do
    while iptables -D "$parent" -j KUBE-FIREWALL 2>/dev/null; do :; done
  done
  for table in filter nat mangle; do
    for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
      iptables -t "$table" -F "$chain" 2>/dev/null && iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

iptables_guard_down() {
  command -v iptables >/dev/null || return 0
  local parent chain
  for parent in FORWARD:"$IPT_FORWARD" INPUT:"$IPT_INPUT"; do
    chain="${parent#*:}"
    while iptables -D "${parent%%:*}" -j "$chain" 2>/dev/null; do :; done
    iptables -F "$chain" 2>/dev/null || true
    iptables -X "$chain" 2>/dev/null || true
  done
}

write_cni_config() {
  local dir="$NODE_DIR_STATE/cni"
  mkdir -p "$dir/net.d" "$dir/ipam"
  cat >"$dir/net.d/10-flead-testbed.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "flead-testbed",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# ---------------------------------------------------------------- containerd
start_containerd() {
  local dir="$NODE_DIR_STATE/containerd"
  mkdir -p "$dir/root" "$dir/state" "$dir/opt"
  cat >"$dir/config.toml" <<EOF
# Written by testbed/up.sh: the real node's containerd, apart from any system one.
version = 2
root = "$dir/root"
state = "$dir/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Sandboxes ask for oom_score_adj -998, which needs a capability this VM lacks.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR_STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$dir/certs.d"
EOF
  # Pulls from testbed/registry.sh's registry go over plain http (read on every pull).
  mkdir -p "$dir/certs.d/$BED_NODE_IP:$REGISTRY_PORT"
  printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$BED_NODE_IP:$REGISTRY_PORT" "$BED_NODE_IP:$REGISTRY_PORT" >"$dir/certs.d/$BED_NODE_IP:$REGISTRY_PORT/hosts.toml"
  daemon containerd containerd --config "$dir/config.toml" --log-level warn
  wait_ready containerd 60 "containerd answering on $CONTAINERD_SOCK" ctr_node version
  local log="$LOGS/node-images.log" tar
  for tar in "$NODE_DIR/pause-image.tar" "$NODE_DIR/probe-image.tar"; do
    ctr_node images import "$tar" >>"$log" 2>&1 ||
      fail containerd "ctr -n k8s.io images import $tar" "$log" "cannot import the bed's image"
  done
}

healthy_containerd() { pid_alive containerd && ctr_node version >/dev/null 2>&1; }

# ---------------------------------------------------------------- the node after a fault
# testbed/fault.sh restarts containerd or the kubelet on the same state (containerd's root,
# the kubelet's --root-dir): the containers keep running in their shims meanwhile. "Healthy
# again" is what the kubelet shows after EPOCH, the time of the fault: the Node object stays
# Ready for ~40 s without a kubelet, so its Ready condition alone proves nothing.

# kubelet_metric NAME: one unlabelled sample of the kubelet's /metrics (through the apiserver).
kubelet_metric() {
  kubectl_admin get --raw "/api/v1/nodes/$NODE_NAME/proxy/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {printf "%d\n", $2; f = 1} END {exit !f}'
}

# pleg_relisted_since EPOCH: the kubelet listed the node's containers through containerd after EPOCH.
pleg_relisted_since() {
  local seen
  seen="$(kubelet_metric kubelet_pleg_last_seen_seconds)" && ((seen > $1))
}

# lease_renewed_since EPOCH: the kubelet renewed the node's Lease after EPOCH (it does every 10 s).
lease_renewed_since() {
  local renewed
  renewed="$(kubectl_admin get lease "$NODE_NAME" -n kube-node-lease -o jsonpath='{.spec.renewTime}' 2>/dev/null)" &&
    [[ -n "$renewed" ]] && (($(date -d "$renewed" +%s) > $1))
}

# healthy_containerd_since EPOCH: containerd answers and the kubelet relisted through it, node Ready.
healthy_containerd_since() { healthy_containerd && pleg_relisted_since "$1" && node_ready; }

# healthy_kubelet_since EPOCH: a kubelet running after EPOCH renewed its Lease, relisted the
# containers and answers /healthz, node Ready.
healthy_kubelet_since() { healthy_kubelet && lease_renewed_since "$1" && pleg_relisted_since "$1"; }

# start_kubelet_again: the kubelet on its existing --root-dir, the node IP as up.sh recorded it.
start_kubelet_again() {
  local ip
  ip="$(cat "$STATE/node-ip" 2>/dev/null)" || fail kubelet "cat $STATE/node-ip" "" "the bed has no real node IP recorded"
  start_kubelet "$ip"
}

# ---------------------------------------------------------------- CoreDNS
start_coredns() {
  local ip="$1" dir="$NODE_DIR_STATE/coredns" log="$LOGS/coredns-rbac.log"
  mkdir -p "$dir"
  kubectl_admin apply -f - >"$log" 2>&1 <<EOF || fail coredns "kubectl apply (ClusterRole flead-testbed:coredns)" "$log" "cannot grant CoreDNS read access"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "flead-testbed:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "flead-testbed:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "flead-testbed:coredns"}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "flead-testbed:coredns"}
EOF
  # Only cluster names are served: any other name is refused (pods reach nothing outside).
  cat >"$dir/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 {
  bind $ip
  errors
  health 127.0.0.1:$COREDNS_HEALTH_PORT
  ready 127.0.0.1:$COREDNS_READY_PORT
  kubernetes cluster.local in-addr.arpa {
    kubeconfig $PKI/coredns.kubeconfig flead-testbed
    pods insecure
    fallthrough in-addr.arpa
  }
  cache 5
}
EOF
  daemon coredns coredns -conf "$dir/Corefile"
  wait_ready coredns 60 "http://127.0.0.1:$COREDNS_READY_PORT/ready" healthy_coredns
}

healthy_coredns() { pid_alive coredns && http_ok "http://127.0.0.1:$COREDNS_READY_PORT/ready"; }

# ---------------------------------------------------------------- kube-proxy
start_kube_proxy() {
  local ip="$1" dir="$NODE_DIR_STATE/kube-proxy"
  mkdir -p "$dir"
  cat >"$dir/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $PKI/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
bindAddress: $ip
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
nodePortAddresses: ["$ip/32"]
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
  minSyncPeriod: 1s
EOF
  daemon kube-proxy kube-proxy "--config=$dir/config.yaml" --v=1
  wait_ready kube-proxy 60 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz" healthy_kube_proxy
}

healthy_kube_proxy() { pid_alive kube-proxy && http_ok "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"; }

# ---------------------------------------------------------------- NetworkPolicy
# kube-router with only its firewall (no routing, service proxy or CNI) enforces the
# NetworkPolicies of the node's pods with iptables + ipset. Its FORWARD jump goes first and
# ACCEPTs what complies, so the pods' egress guard is repeated in an nftables forward chain
# that runs before iptables' (priority -300): a pod's packet for anywhere but another pod is
# rejected there at once, whatever the order in iptables (local destinations never reach the
# forward hook).
start_network_policy() {
  nft delete table ip "$NFT_GUARD" 2>/dev/null || true
  nft -f - <<EOF || fail kube-router "nft -f (testbed/lib/node.sh start_network_policy)" "" "cannot set up the egress guard"
table ip $NFT_GUARD {
  chain forward {
    type filter hook forward priority -300; policy accept;
    ip saddr $POD_CIDR ip daddr $POD_CIDR return
    ip saddr $POD_CIDR reject with icmp type net-prohibited
  }
}
EOF
  daemon kube-router "$NETPOL_DIR/bin/kube-router" --run-firewall=true --run-router=false \
    --run-service-proxy=false --enable-cni=false --enable-pod-egress=false \
    "--kubeconfig=$STATE/kubeconfig" "--hostname-override=$NODE_NAME" \
    "--service-cluster-ip-range=$SERVICE_CIDR" "--health-port=$NETPOL_HEALTH_PORT" --metrics-port=0 --v=1
  wait_ready kube-router 60 "http://127.0.0.1:$NETPOL_HEALTH_PORT/healthz" healthy_network_policy
}

healthy_network_policy() { pid_alive kube-router && http_ok "http://127.0.0.1:$NETPOL_HEALTH_PORT/healthz"; }

# stop_network_policy STATE_DIR: the controller, then its chains and ipsets (its own
# --cleanup-config leaves the top-level chains and then crashes in the IPVS part), then the guard.
stop_network_policy() {
  local state="$1" pid rule chain set
  if pid="$(owned_pid "$state/pids/kube-router.pid" "$state")"; then stop_pid kube-router "$pid"; fi
  command -v iptables >/dev/null || return 0
  iptables -S | grep -F -- '--comment "kube-router netpol' | sed 's/^-A /-D /' | while read -r rule; do
    eval "iptables $rule" 2>/dev/null || true
  done
  for chain in $(iptables -S | awk '$1 == "-N" && $2 ~ /^KUBE-(ROUTER-|NWPLCY-|POD-FW-|SRC-|DST-)/ {print $2}'); do
    iptables -F "$chain" 2>/dev/null || true
  done
  for chain in $(iptables -S | awk '$1 == "-N" && $2 ~ /^KUBE-(ROUTER-|NWPLCY-|POD-FW-|SRC-|DST-)/ {print $2}'); do
    iptables -X "$chain" 2>/dev/null || true
  done
  if command -v ipset >/dev/null; then
    for set in $(ipset list -n 2>/dev/null | grep '^KUBE-'); do ipset destroy "$set" 2>/dev/null || true; done
  fi
  if command -v nft >/dev/null; then nft delete table ip "$NFT_GUARD" 2>/dev/null || true; fi
  rm -f "$state/pids/kube-router.pid"
}

# ---------------------------------------------------------------- kubelet
start_kubelet() {
  local ip="$1" dir="$NODE_DIR_STATE/kubelet"
  mkdir -p "$dir/root"
  echo "# Written by testbed/up.sh: pods resolve cluster names only (CoreDNS on $ip)." >"$dir/resolv.conf"
  cat >"$dir/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $ip
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: ["$ip"]
clusterDomain: cluster.local
resolvConf: $dir/resolv.conf
registerWithTaints:
  - {key: "${NODE_TAINT%%=*}", value: "real", effect: NoSchedule}
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  nodefs.inodesFree: 2%
  imagefs.available: 2%
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
serializeImagePulls: false
maxPods: 110
rotateCertificates: false
serverTLSBootstrap: false
EOF
  daemon kubelet kubelet "--config=$dir/config.yaml" "--kubeconfig=$PKI/kubelet.kubeconfig" \
    "--root-dir=$dir/root" "--cert-dir=$dir/pki" "--hostname-override=$NODE_NAME" "--node-ip=$ip" \
    "--node-labels=type=real,$NODE_LABEL" --v=1
  wait_ready kubelet 120 "node $NODE_NAME Ready" healthy_kubelet
}

node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

healthy_kubelet() { pid_alive kubelet && http_ok "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" && node_ready; }

# ---------------------------------------------------------------- forwarders
# FerretDB and Prometheus accept one listen address (loopback); socat also offers them on the node IP.
start_node_proxy() {
  local name="$1" ip="$2" port="$3"
  daemon "$name" socat -lf "$LOGS/$name.socat.log" "TCP-LISTEN:$port,bind=$ip,reuseaddr,fork" "TCP:127.0.0.1:$port"
  wait_ready "$name" 30 "$ip:$port accepting" tcp_open_at "$ip" "$port"
}

declare -F tcp_open_at >/dev/null || tcp_open_at() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
healthy_node_proxies() {
  local ip="${BED_NODE_IP:-}"
  [[ -n "$ip" ]] || ip="$(cat "$STATE/node-ip" 2>/dev/null)" || return 1
  pid_alive node-proxy-ferretdb && tcp_open_at "$ip" "$MONGO_PORT" &&
    pid_alive node-proxy-prometheus && tcp_open_at "$ip" "$PROMETHEUS_PORT"
}

# ---------------------------------------------------------------- the whole node
# record_node_ip: find the node IP once, keep it in $STATE/node-ip and BED_NODE_IP.
record_node_ip() {
  local ip
  ip="$(node_ip)"
  [[ -n "$ip" && "$ip" != 127.* ]] ||
    fail node "ip -4 -o addr show scope global" "" "no non-loopback IPv4 address for the node (set TESTBED_NODE_IP)"
  mkdir -p "$STATE"
  echo "$ip" >"$STATE/node-ip"
  BED_NODE_IP="$ip"
}

start_node() {
  [[ -n "${BED_NODE_IP:-}" ]] || record_node_ip
  local ip="$BED_NODE_IP"
  mkdir -p "$NODE_DIR_STATE"
  make_node_pki "$ip"
  local log="$LOGS/node-network.log"
  {
    sysctl -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 && iptables_guard_up "$ip"
  } >"$log" 2>&1 || fail node "sysctl + iptables (testbed/lib/node.sh iptables_guard_up)" "$log" "cannot set up the pod network guard"
  write_cni_config
  start_containerd
  start_coredns "$ip" &
  local dns=$!
  start_kube_proxy "$ip" &
  local proxy=$!
  start_node_proxy node-proxy-ferretdb "$ip" "$MONGO_PORT" &
  local p1=$!
  start_node_proxy node-proxy-prometheus "$ip" "$PROMETHEUS_PORT" &
  local p2=$!
  start_kubelet "$ip"
  start_network_policy # needs the Node object the kubelet registered
  wait "$dns" && wait "$proxy" && wait "$p1" && wait "$p2" || exit 1
  # kube-proxy inserted its jumps above ours: the guards go first again.
  iptables_guard_first >"$log" 2>&1 || fail node "iptables -I FORWARD/INPUT 1 (testbed/lib/node.sh)" "$log" "cannot put the pod network guard first"
}

healthy_node() {
  healthy_containerd && healthy_coredns && healthy_kube_proxy && healthy_kubelet && healthy_node_proxies &&
    healthy_network_policy
}

# stop_node STATE_DIR: kubelet first, then every container (killed), their network
# namespaces and mounts, the other node processes, the iptables rules, the bridge.
stop_node() {
  local state="$1" name pid
  stop_network_policy "$state"
  if pid="$(owned_pid "$state/pids/kubelet.pid" "$state")"; then
    stop_pid kubelet "$pid"
    # A Node object outlives its kubelet and stays "Ready" for a while: remove it (its pods
    # are then garbage-collected); the next kubelet registers afresh.
    TESTBED_STATE="$state" kubectl --kubeconfig "$state/kubeconfig" --request-timeout=5s \
      delete node "$NODE_NAME" --wait=false >/dev/null 2>&1 || true
  fi
  local sock="$state/node/containerd/containerd.sock"
  if owned_pid "$state/pids/containerd.pid" "$state" >/dev/null && [[ -S "$sock" ]]; then
    local id netns=()
    mapfile -t netns < <(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null | while read -r id; do
      ctr --address "$sock" -n k8s.io containers info "$id" 2>/dev/null |
        python3 -c 'import json,sys
for ns in json.load(sys.stdin).get("Spec", {}).get("linux", {}).get("namespaces", []):
    if ns.get("type") == "network" and ns.get("path"): print(ns["path"])' 2>/dev/null || true
    done | sort -u)
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL -a "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      timeout 20 ctr --address "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr --address "$sock" -n k8s.io containers ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io containers rm "$id" >/dev/null 2>&1 || true
    done
    local ns
    for ns in "${netns[@]}"; do
      [[ "$ns" == /var/run/netns/* || "$ns" == /run/netns/* ]] || continue
      umount "$ns" 2>/dev/null || true
      rm -f "$ns"
    done
  fi
  local jobs=()
  for name in kube-proxy coredns node-proxy-ferretdb node-proxy-prometheus containerd; do
    if pid="$(owned_pid "$state/pids/$name.pid" "$state")"; then
      stop_pid "$name" "$pid" &
      jobs+=($!)
    fi
  done
  ((${#jobs[@]} == 0)) || wait "${jobs[@]}"
  # containerd's shims outlive it; each names its socket (under STATE) on its command line.
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "containerd-shim-runc-v2 " || continue
    tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "-address $sock " || continue
    f="${f#/proc/}"
    kill -KILL "${f%/cmdline}" 2>/dev/null || true
  done
  # Mounts left under the node's folders (container rootfs, kubelet volumes): deepest first.
  local m
  for m in $(awk -v s="$state/node/" 'index($2, s) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  if [[ -x "$NODE_DIR/bin/kube-proxy" && -d "$state/node" ]] && command -v iptables >/dev/null; then
    "$NODE_DIR/bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  iptables_guard_down
  kubelet_chains_down
  if ip link show "$POD_BRIDGE" >/dev/null 2>&1; then ip link delete "$POD_BRIDGE" 2>/dev/null || true; fi
  rm -f "$state"/pids/{kubelet,kube-proxy,coredns,containerd,node-proxy-ferretdb,node-proxy-prometheus}.pid
}
