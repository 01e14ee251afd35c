#!/usr/bin/env bash
# Mint a kubeconfig that acts as a ServiceAccount (token from `kubectl create token`),
# for testing least-privilege RBAC:
#   testbed/mint-sa-kubeconfig.sh NAMESPACE SERVICEACCOUNT OUT [DURATION]
# Uses $KUBECONFIG (default: the bed's admin kubeconfig) to ask for the token; the
# new file embeds the cluster CA, so it works on its own. DURATION defaults to 1h.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

if (($# < 3)); then
  echo "usage: $0 NAMESPACE SERVICEACCOUNT OUT [DURATION]" >&2
  exit 2
fi
ns="$1" sa="$2" out="$3" duration="${4:-1h}"
admin="${KUBECONFIG:-$STATE/kubeconfig}"
k() { kubectl --kubeconfig "$admin" --request-timeout=20s "$@"; }

server="$(k config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca_data="$(k config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
if [[ -z "$ca_data" ]]; then
  ca_file="$(k config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')"
  ca_data="$(base64 -w0 <"$ca_file")"
fi
token="$(k create token "$sa" -n "$ns" --duration="$duration")" ||
  fail mint-sa-kubeconfig "kubectl create token $sa -n $ns" "" "cannot mint a token (does the ServiceAccount exist?)"

umask 077
cat >"$out" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: flead-testbed
    cluster:
      server: $server
      certificate-authority-data: $ca_data
users:
  - name: system:serviceaccount:$ns:$sa
    user:
      token: $token
contexts:
  - name: $sa@$ns
    context: {cluster: flead-testbed, user: "system:serviceaccount:$ns:$sa", namespace: $ns}
current-context: $sa@$ns
YAML
echo "$out"
