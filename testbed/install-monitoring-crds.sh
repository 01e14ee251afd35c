#!/usr/bin/env bash
# Apply the prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) to
# the bed's API server, so `kubectl apply --dry-run=server` can validate a chart's
# monitoring objects. The YAML comes from the prometheus-operator Go module (version
# in testbed/versions.env), fetched into the cache by testbed/build.sh.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

admin="${KUBECONFIG:-$STATE/kubeconfig}"
[[ -f "$CRDS_DIR/.done" ]] || "$TESTBED_DIR/build.sh" crds
log="$CACHE/logs/install-monitoring-crds.log"
# Server-side apply: these CRDs are too large for the last-applied annotation.
kubectl --kubeconfig "$admin" --request-timeout=60s apply --server-side --force-conflicts \
  -f "$CRDS_DIR" >"$log" 2>&1 ||
  fail monitoring-crds "kubectl apply --server-side -f $CRDS_DIR" "$log" "cannot apply the CRDs"
# `kubectl wait` errors out at once (".status.conditions accessor error: <nil>") on a CRD so new
# that the API server has not written its conditions yet: ask again until 60 s have passed.
deadline=$((SECONDS + 60))
until kubectl --kubeconfig "$admin" wait --for=condition=Established --timeout=10s \
  crd/servicemonitors.monitoring.coreos.com crd/podmonitors.monitoring.coreos.com \
  crd/prometheusrules.monitoring.coreos.com >>"$log" 2>&1; do
  ((SECONDS < deadline)) ||
    fail monitoring-crds "kubectl wait --for=condition=Established crd/..." "$log" "CRDs not established within 60s"
  sleep 1
done
ok "prometheus-operator v$PROMETHEUS_OPERATOR_VERSION CRDs installed (ServiceMonitor, PodMonitor, PrometheusRule)"
