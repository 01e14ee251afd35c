#!/usr/bin/env bash
# The prometheus-operator (built from its Go module on first use, PROMETHEUS_OPERATOR_VERSION)
# as a process on this machine, against the bed's API server; it turns ServiceMonitors,
# PodMonitors and PrometheusRules into the configuration of each Prometheus object:
#   testbed/prometheus-operator.sh up       build (first time), apply its ten CRDs, start it; idempotent
#   testbed/prometheus-operator.sh down     stop it (the CRDs stay)
#   testbed/prometheus-operator.sh status   exit 0 when it runs and answers /healthz
#   testbed/prometheus-operator.sh render NAMESPACE NAME DIR
#       write what it generated for Prometheus NAMESPACE/NAME into DIR: prometheus.yaml (from
#       the Secret prometheus-NAME) and rules/ (the ConfigMaps prometheus-NAME-rulefiles-*), with
#       the rule file paths pointed at DIR, so a prometheus binary on this machine runs it as is
#   testbed/prometheus-operator.sh prometheus
#       print the path of the prometheus that runs it (built from its Go module with Kubernetes
#       discovery, which the bed's Debian prometheus lacks; not on PATH)
# testbed/down.sh stops it with the bed. Its /metrics and /healthz: 127.0.0.1:$PROMOP_PORT.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/extras.sh"

healthy_promop() { extra_alive prometheus-operator && http_ok "http://127.0.0.1:$PROMOP_PORT/healthz"; }

apply_crds() {
  local log="$LOGS/prometheus-operator-crds.log" deadline=$((SECONDS + 60))
  kubectl_admin apply --server-side --force-conflicts -f "$PROMOP_DIR/crds" >"$log" 2>&1 ||
    fail prometheus-operator "kubectl apply --server-side -f $PROMOP_DIR/crds" "$log" "cannot apply the CRDs"
  # A CRD created a moment ago may have no conditions yet (kubectl wait errors out): ask again.
  until kubectl_admin wait --for=condition=Established --timeout=10s -f "$PROMOP_DIR/crds" >>"$log" 2>&1; do
    ((SECONDS < deadline)) ||
      fail prometheus-operator "kubectl wait --for=condition=Established -f $PROMOP_DIR/crds" "$log" "CRDs not established within 60s"
    sleep 1
  done
}

# render NAMESPACE NAME DIR
render() {
  local ns="$1" name="$2" dir="$3"
  mkdir -p "$dir/rules"
  kubectl_admin get secret -n "$ns" "prometheus-$name" -o json |
    python3 -c '
import base64, gzip, json, sys
data = json.load(sys.stdin)["data"]
sys.stdout.write(gzip.decompress(base64.b64decode(data["prometheus.yaml.gz"])).decode())
' >"$dir/prometheus.operator.yaml"
  kubectl_admin get configmap -n "$ns" -l "prometheus-name=$name,managed-by=prometheus-operator" -o json |
    python3 -c '
import json, os, sys
out = sys.argv[1]
for cm in json.load(sys.stdin)["items"]:
    d = os.path.join(out, cm["metadata"]["name"])
    os.makedirs(d, exist_ok=True)
    for key, text in (cm.get("data") or {}).items():
        with open(os.path.join(d, key), "w") as f:
            f.write(text)
' "$dir/rules"
  # In its pod the operator's config reads rules from /etc/prometheus/rules/<configmap>/, and the
  # config-reloader expands $(VAR) from the pod's environment before Prometheus reads it: SHARD
  # (0, the one shard) and POD_NAME (the first replica's name).
  sed -e "s#/etc/prometheus/rules/#$dir/rules/#g" -e 's/\$(SHARD)/0/g' -e "s/\\\$(POD_NAME)/prometheus-$name-0/g" \
    "$dir/prometheus.operator.yaml" >"$dir/prometheus.yaml"
  if grep -n -e '/etc/prometheus/' -e '\$(' "$dir/prometheus.yaml" >&2; then
    fail prometheus-operator "testbed/prometheus-operator.sh render" "" \
      "the generated configuration reads files of the pod that are not rule files, or variables of its environment (above): not runnable here"
  fi
  echo "$dir/prometheus.yaml"
}

main() {
  local cmd="${1:-}" pid
  case "$cmd" in
    status) healthy_promop && echo "prometheus-operator v$PROMETHEUS_OPERATOR_VERSION http://127.0.0.1:$PROMOP_PORT" ;;
    down)
      if pid="$(owned_pid "$EXTRAS_STATE/prometheus-operator.pid" "$STATE")"; then stop_pid prometheus-operator "$pid"; fi
      rm -f "$EXTRAS_STATE/prometheus-operator.pid"
      ok "prometheus-operator stopped"
      ;;
    prometheus) echo "$PROMETHEUS_DIR/bin/prometheus" ;;
    render)
      (($# == 4)) || fail prometheus-operator "testbed/prometheus-operator.sh render NAMESPACE NAME DIR" "" "usage"
      render "$2" "$3" "$4"
      ;;
    up)
      extras_preflight prometheus-operator
      "$TESTBED_DIR/build.sh" promop prometheus # cached after the first time; waits for a build under way
      if healthy_promop; then
        ok "prometheus-operator already up (http://127.0.0.1:$PROMOP_PORT)"
        return
      fi
      local t0
      t0=$(now)
      apply_crds
      # The admin client certificate of the bed (system:masters), like the other host processes.
      extra_daemon prometheus-operator "$PROMOP_DIR/bin/prometheus-operator" \
        "--apiserver=https://127.0.0.1:$APISERVER_PORT" "--ca-file=$PKI/ca.crt" \
        "--cert-file=$PKI/admin.crt" "--key-file=$PKI/admin.key" \
        "--web.listen-address=127.0.0.1:$PROMOP_PORT" --log-level=info --log-format=logfmt
      extra_wait prometheus-operator 60 "http://127.0.0.1:$PROMOP_PORT/healthz" healthy_promop
      ok "prometheus-operator v$PROMETHEUS_OPERATOR_VERSION up in $(elapsed "$t0") (log: $LOGS/prometheus-operator.log)"
      ;;
    *)
      sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
