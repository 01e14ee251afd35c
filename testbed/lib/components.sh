# shellcheck shell=bash disable=SC2034
# Start and health-check functions for each test bed component. Sourced after
# common.sh. Every process is started by `daemon` (pid file + log file) and
# stopped by that pid only.

KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_NODE_PORT=19094 # the listener for the real node's pods (node IP)
MONGO_PORT=27017
FERRETDB_DEBUG_PORT=18088
ETCD_PORT=2379
ETCD_PEER_PORT=2380
APISERVER_PORT=6443
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
KWOK_PORT=10247
PROMETHEUS_PORT=9090
FAKE_NODES=3

# Every TCP port the bed listens on, with its owner (for clash reports).
ALL_PORTS=(
  "$KAFKA_PORT:kafka" "$KAFKA_CONTROLLER_PORT:kafka" "$MONGO_PORT:ferretdb" "$FERRETDB_DEBUG_PORT:ferretdb"
  "$ETCD_PORT:etcd" "$ETCD_PEER_PORT:etcd" "$APISERVER_PORT:kube-apiserver"
  "$CONTROLLER_MANAGER_PORT:kube-controller-manager" "$SCHEDULER_PORT:kube-scheduler"
  "$KWOK_PORT:kwok" "$PROMETHEUS_PORT:prometheus"
)
# The real node's IP: $STATE/node-ip, written by up.sh when the node is enabled (else empty).
BED_NODE_IP="$(cat "$STATE/node-ip" 2>/dev/null || true)"
tcp_open_at() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

PKI="$STATE/pki"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
PROM_TARGETS="$STATE/prometheus/targets"

# daemon NAME CMD...: start CMD detached (own session, no terminal), record its pid.
daemon() {
  local name="$1"
  shift
  mkdir -p "$LOGS" "$PIDS"
  printf '$ %s\n' "$*" >"$LOGS/$name.log"
  # fd 9 is the up.sh lock: a daemon must not inherit it.
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  echo $! >"$PIDS/$name.pid"
}

# expect_alive NAME: fail with the log tail if the process already died.
expect_alive() {
  pid_alive "$1" || fail "$1" "$(head -n1 "$LOGS/$1.log" | cut -c3-)" "$LOGS/$1.log" "process exited during start-up"
}

# wait_ready NAME TIMEOUT WHAT CMD...: like wait_for, but also fails fast when the process dies.
wait_ready() {
  local name="$1" timeout="$2" what="$3"
  shift 3
  local deadline=$(($(now) + timeout))
  until "$@" >/dev/null 2>&1; do
    expect_alive "$name"
    if (($(now) >= deadline)); then
      fail "$name" "$(head -n1 "$LOGS/$name.log" | cut -c3-)" "$LOGS/$name.log" "timed out after ${timeout}s waiting for: $what"
    fi
    sleep 0.5
  done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- Kafka
kafka_java() {
  java -Xms64m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$STATE/kafka/log4j2.properties" \
    -cp "$KAFKA_DIR/libs/*" "$@"
}

start_kafka() {
  local dir="$STATE/kafka"
  mkdir -p "$dir/data"
  # With the real node, a second listener on the node IP (advertised as such) serves its pods.
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT" advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
  if [[ -n "$BED_NODE_IP" ]]; then
    listeners+=",NODE://$BED_NODE_IP:$KAFKA_NODE_PORT"
    advertised+=",NODE://$BED_NODE_IP:$KAFKA_NODE_PORT"
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,NODE:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
num.network.threads=2
num.io.threads=2
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
EOF
  # A log dir that holds a cluster (meta.properties) is started as it is: a restart keeps
  # every topic and offset. up.sh starts from an empty state dir, so it always formats.
  [[ -f "$dir/data/meta.properties" ]] || format_kafka "$dir"
  daemon kafka java -Xms64m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$dir/log4j2.properties" \
    -cp "$KAFKA_DIR/libs/*" kafka.Kafka "$dir/server.properties"
  wait_ready kafka 120 "broker listening on 127.0.0.1:$KAFKA_PORT and 'Kafka Server started' in its log" healthy_kafka
}

# format_kafka DIR: a new cluster id, written into the (empty) KRaft log dir.
format_kafka() {
  local dir="$1" cluster_id fmt_log="$LOGS/kafka-format.log"
  cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>"$fmt_log")" ||
    fail kafka "java ... kafka.tools.StorageTool random-uuid" "$fmt_log" "cannot make a cluster id"
  kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >>"$fmt_log" 2>&1 ||
    fail kafka "java ... kafka.tools.StorageTool format -t $cluster_id -c $dir/server.properties" "$fmt_log" "cannot format the KRaft log dir"
}

healthy_kafka() {
  pid_alive kafka && tcp_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOGS/kafka.log" &&
    { [[ -z "$BED_NODE_IP" ]] || tcp_open_at "$BED_NODE_IP" "$KAFKA_NODE_PORT"; }
}

# ---------------------------------------------------------------- FerretDB
start_ferretdb() {
  local dir="$STATE/ferretdb"
  mkdir -p "$dir/data" "$dir/state"
  daemon ferretdb ferretdb --handler=sqlite "--sqlite-url=file:$dir/data/" \
    "--listen-addr=127.0.0.1:$MONGO_PORT" "--state-dir=$dir/state" \
    "--debug-addr=127.0.0.1:$FERRETDB_DEBUG_PORT" --telemetry=disable --log-level=WARN
  wait_ready ferretdb 60 "MongoDB wire protocol on 127.0.0.1:$MONGO_PORT" healthy_ferretdb
}

healthy_ferretdb() {
  pid_alive ferretdb && tcp_open "$MONGO_PORT" && http_ok "http://127.0.0.1:$FERRETDB_DEBUG_PORT/debug/readyz"
}

# ---------------------------------------------------------------- Prometheus
start_prometheus() {
  local dir="$STATE/prometheus"
  mkdir -p "$dir/data" "$PROM_TARGETS"
  cat >"$dir/prometheus.yml" <<EOF
# Written by testbed/up.sh. Project processes register their /metrics endpoints
# by writing file_sd JSON files into $PROM_TARGETS/.
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:$PROMETHEUS_PORT"]
  - job_name: testbed-etcd
    static_configs:
      - targets: ["127.0.0.1:$ETCD_PORT"]
  - job_name: testbed-ferretdb
    metrics_path: /debug/metrics
    static_configs:
      - targets: ["127.0.0.1:$FERRETDB_DEBUG_PORT"]
  - job_name: flead
    file_sd_configs:
      - files: ["$PROM_TARGETS/*.json", "$PROM_TARGETS/*.yaml", "$PROM_TARGETS/*.yml"]
        refresh_interval: 5s
EOF
  promtool check config "$dir/prometheus.yml" >"$LOGS/promtool.log" 2>&1 ||
    fail prometheus "promtool check config $dir/prometheus.yml" "$LOGS/promtool.log" "generated config is invalid"
  daemon prometheus prometheus "--config.file=$dir/prometheus.yml" "--storage.tsdb.path=$dir/data" \
    "--web.listen-address=127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
    --storage.tsdb.retention.time=1d --log.level=warn
  wait_ready prometheus 60 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" healthy_prometheus
}

healthy_prometheus() { pid_alive prometheus && http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }

# ---------------------------------------------------------------- Kubernetes PKI
# gen_ca NAME CN: a self-signed certificate authority.
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

gen_ca() {
  gen_key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 365 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# gen_cert NAME SUBJECT [SAN] [CA]: key + certificate signed by CA (default: the bed's CA).
gen_cert() {
  local name="$1" subj="$2" san="${3:-}" ca="${4:-ca}" ext="$PKI/$1.ext"
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    if [[ -n "$san" ]]; then
      echo "extendedKeyUsage=serverAuth,clientAuth"
      echo "subjectAltName=$san"
    else
      echo "extendedKeyUsage=clientAuth"
    fi
  } >"$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

# write_kubeconfig FILE USER CERTNAME
write_kubeconfig() {
  local file="$1" user="$2" cert="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: flead-testbed
    cluster:
      server: https://127.0.0.1:$APISERVER_PORT
      certificate-authority: $PKI/ca.crt
users:
  - name: $user
    user:
      client-certificate: $PKI/$cert.crt
      client-key: $PKI/$cert.key
contexts:
  - name: flead-testbed
    context: {cluster: flead-testbed, user: $user, namespace: default}
current-context: flead-testbed
EOF
  chmod 600 "$file"
}

make_pki() {
  local log="$LOGS/pki.log"
  mkdir -p "$PKI" "$LOGS"
  {
    gen_ca ca flead-testbed-ca &&
      gen_ca front-proxy-ca flead-testbed-front-proxy-ca &&
      gen_cert front-proxy-client "/CN=front-proxy-client" "" front-proxy-ca &&
      gen_cert apiserver "/CN=kube-apiserver" \
        "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1${BED_NODE_IP:+,IP:$BED_NODE_IP}" &&
      gen_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" &&
      gen_cert admin "/O=system:masters/CN=flead-admin" &&
      gen_cert controller-manager "/CN=system:kube-controller-manager" &&
      gen_cert scheduler "/CN=system:kube-scheduler" &&
      gen_cert kwok "/O=system:masters/CN=kwok-controller" &&
      gen_key "$PKI/sa.key" &&
      openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
  } >"$log" 2>&1 || fail kubernetes "openssl (see testbed/lib/components.sh make_pki)" "$log" "cannot make certificates"
  chmod 600 "$PKI"/*.key
  write_kubeconfig "$KUBECONFIG_ADMIN" flead-admin admin
  write_kubeconfig "$PKI/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  write_kubeconfig "$PKI/scheduler.kubeconfig" system:kube-scheduler scheduler
  write_kubeconfig "$PKI/kwok.kubeconfig" kwok-controller kwok
}

# ---------------------------------------------------------------- Kubernetes processes
start_etcd() {
  daemon etcd etcd --name=flead-testbed "--data-dir=$STATE/etcd" \
    "--listen-client-urls=http://127.0.0.1:$ETCD_PORT" "--advertise-client-urls=http://127.0.0.1:$ETCD_PORT" \
    "--listen-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT" "--initial-advertise-peer-urls=http://127.0.0.1:$ETCD_PEER_PORT" \
    "--initial-cluster=flead-testbed=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn
  wait_ready etcd 60 "http://127.0.0.1:$ETCD_PORT/health" healthy_etcd
}

healthy_etcd() { pid_alive etcd && curl -fsS --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

start_apiserver() {
  # With the real node its pods reach the API through the kubernetes Service: the
  # apiserver listens on every address (testbed/lib/node.sh lets only this machine
  # and the pods in) and advertises the node IP as that Service's endpoint.
  local where=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
  if [[ -n "$BED_NODE_IP" ]]; then
    where=(--bind-address=0.0.0.0 "--advertise-address=$BED_NODE_IP"
      "--kubelet-client-certificate=$PKI/apiserver-kubelet-client.crt" "--kubelet-client-key=$PKI/apiserver-kubelet-client.key"
      "--kubelet-certificate-authority=$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP)
  fi
  daemon kube-apiserver kube-apiserver \
    "--etcd-servers=http://127.0.0.1:$ETCD_PORT" \
    "${where[@]}" "--secure-port=$APISERVER_PORT" \
    --enable-admission-plugins=PodNodeSelector,PodTolerationRestriction \
    "--tls-cert-file=$PKI/apiserver.crt" "--tls-private-key-file=$PKI/apiserver.key" \
    "--client-ca-file=$PKI/ca.crt" \
    "--requestheader-client-ca-file=$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    "--proxy-client-cert-file=$PKI/front-proxy-client.crt" "--proxy-client-key-file=$PKI/front-proxy-client.key" \
    "--service-account-key-file=$PKI/sa.pub" "--service-account-signing-key-file=$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=Node,RBAC --allow-privileged=true \
    --service-cluster-ip-range=10.0.0.0/24 --profiling=false
  wait_ready kube-apiserver 120 "https://127.0.0.1:$APISERVER_PORT/readyz" healthy_apiserver
}

healthy_apiserver() {
  pid_alive kube-apiserver &&
    http_ok "https://127.0.0.1:$APISERVER_PORT/readyz" --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key"
}

start_controller_manager() {
  local kc="$PKI/controller-manager.kubeconfig"
  daemon kube-controller-manager kube-controller-manager \
    "--kubeconfig=$kc" "--authentication-kubeconfig=$kc" "--authorization-kubeconfig=$kc" \
    --bind-address=127.0.0.1 "--secure-port=$CONTROLLER_MANAGER_PORT" --leader-elect=false \
    "--root-ca-file=$PKI/ca.crt" "--service-account-private-key-file=$PKI/sa.key" \
    "--cluster-signing-cert-file=$PKI/ca.crt" "--cluster-signing-key-file=$PKI/ca.key" \
    --use-service-account-credentials=true --controllers='*' \
    --service-cluster-ip-range=10.0.0.0/24 --profiling=false
  wait_ready kube-controller-manager 60 "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz" healthy_controller_manager
}

healthy_controller_manager() { pid_alive kube-controller-manager && http_ok -k "https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"; }

start_scheduler() {
  local kc="$PKI/scheduler.kubeconfig"
  daemon kube-scheduler kube-scheduler \
    "--kubeconfig=$kc" "--authentication-kubeconfig=$kc" "--authorization-kubeconfig=$kc" \
    --bind-address=127.0.0.1 "--secure-port=$SCHEDULER_PORT" --leader-elect=false --profiling=false
  wait_ready kube-scheduler 60 "https://127.0.0.1:$SCHEDULER_PORT/healthz" healthy_scheduler
}

healthy_scheduler() { pid_alive kube-scheduler && http_ok -k "https://127.0.0.1:$SCHEDULER_PORT/healthz"; }

start_kwok() {
  daemon kwok kwok "--kubeconfig=$PKI/kwok.kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip=10.0.1.1 --cidr=10.0.128.0/17 --node-lease-duration-seconds=40 \
    "--server-address=127.0.0.1:$KWOK_PORT" \
    "--config=$TESTBED_DIR/kwok/stages.yaml"
  wait_ready kwok 60 "http://127.0.0.1:$KWOK_PORT/healthz" healthy_kwok
}

healthy_kwok() { pid_alive kwok && http_ok "http://127.0.0.1:$KWOK_PORT/healthz"; }

kubectl_admin() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=10s "$@"; }

ready_node_count() {
  local out
  out="$(kubectl_admin get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null)" || true
  grep -c '^True$' <<<"$out" || true
}

nodes_ready() { (($(ready_node_count) >= FAKE_NODES)); }
default_sa_exists() { kubectl_admin get serviceaccount default -n default; }

create_fake_nodes() {
  local i log="$LOGS/fake-nodes.log"
  for ((i = 0; i < FAKE_NODES; i++)); do
    echo ---
    sed "s/@NAME@/kwok-node-$i/g" "$TESTBED_DIR/kwok/node.yaml"
  done | kubectl_admin apply -f - >"$log" 2>&1 ||
    fail kwok "kubectl apply -f testbed/kwok/node.yaml (x$FAKE_NODES)" "$log" "cannot create the fake nodes"
}

# The whole Kubernetes chain: etcd -> apiserver -> (controller-manager, scheduler, kwok) -> nodes.
start_kubernetes() {
  start_etcd
  start_apiserver
  start_controller_manager &
  local cm=$!
  start_scheduler &
  local sch=$!
  start_kwok &
  local kw=$!
  wait "$cm" && wait "$sch" && wait "$kw" || exit 1
  create_fake_nodes
  wait_for kubernetes 60 "$LOGS/kwok.log" "$FAKE_NODES fake nodes Ready" nodes_ready
  wait_for kubernetes 60 "$LOGS/kube-controller-manager.log" "ServiceAccount default/default" default_sa_exists
}

healthy_kubernetes() {
  healthy_etcd && healthy_apiserver && healthy_controller_manager && healthy_scheduler && healthy_kwok && nodes_ready
}
