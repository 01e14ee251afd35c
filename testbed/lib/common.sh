# shellcheck shell=bash disable=SC2034
# Shared by the testbed scripts: paths, versions, logging, timing, waits.
# Sourced, never executed.

TESTBED_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$TESTBED_DIR/.." && pwd)"
# shellcheck source=/dev/null
. "$TESTBED_DIR/versions.env"

CACHE="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flead/testbed}"
STATE="${TESTBED_STATE:-$REPO_DIR/.testbed}"
CACHE_BIN="$CACHE/bin"
LOGS="$STATE/logs"
PIDS="$STATE/pids"

# Go: every module and build cache under the testbed cache; no checksum
# database is reachable from here, the module proxy is.
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOPATH="$CACHE/go/path"
export GOFLAGS="-trimpath -buildvcs=false -modcacherw"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOSUMDB=off
export GOTOOLCHAIN=local
export CGO_ENABLED=0

# Where each build lands: one folder per component and version.
K8S_DIR="$CACHE/k8s-v$K8S_VERSION"
ETCD_DIR="$CACHE/etcd-v$ETCD_VERSION"
KWOK_DIR="$CACHE/kwok-v$KWOK_VERSION"
FERRETDB_DIR="$CACHE/ferretdb-v$FERRETDB_VERSION"
HELM_DIR="$CACHE/helm-v$HELM_VERSION-kube-version" # built with the Kubernetes version a release carries
KAFKA_DIR="$CACHE/kafka-$KAFKA_SCALA_VERSION-$KAFKA_VERSION-log4j-$LOG4J_VERSION-slf4j-$SLF4J_VERSION"
CRDS_DIR="$CACHE/prometheus-operator-crds-v$PROMETHEUS_OPERATOR_VERSION"
NODE_DIR="$CACHE/node-k8s-v$K8S_VERSION" # kubelet, kube-proxy, the sandbox image
COREDNS_DIR="$CACHE/coredns-v$COREDNS_VERSION"
NETPOL_DIR="$CACHE/kube-router-v$KUBE_ROUTER_VERSION" # the real node's NetworkPolicy controller
PAUSE_IMAGE="localhost/flead-testbed/pause:1"
PROBE_IMAGE="localhost/flead-testbed/probe:1" # the node smoke tests' network probe

# The real node (kubelet + containerd) is part of the bed unless TESTBED_NODE=0.
node_enabled() { [[ "${TESTBED_NODE:-1}" != 0 ]]; }

export PATH="$CACHE_BIN:$PATH"
# Go from the official tarball is often not on a non-interactive PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; fi

if [[ -t 1 ]]; then _B=$'\e[1m' _R=$'\e[31m' _G=$'\e[32m' _Y=$'\e[33m' _N=$'\e[0m'; else _B='' _R='' _G='' _Y='' _N=''; fi

log() { printf '%s[testbed %s]%s %s\n' "$_B" "$(date +%H:%M:%S)" "$_N" "$*"; }
ok() { printf '%s[testbed %s] OK%s %s\n' "$_G" "$(date +%H:%M:%S)" "$_N" "$*"; }
warn() { printf '%s[testbed %s] WARN%s %s\n' "$_Y" "$(date +%H:%M:%S)" "$_N" "$*" >&2; }

# fail COMPONENT COMMAND LOGFILE MESSAGE: say what broke, how, and show the log tail.
fail() {
  local component="$1" cmd="$2" logfile="$3" msg="$4"
  {
    printf '%s[testbed] FAILED: %s%s\n' "$_R" "$component" "$_N"
    printf '  what:    %s\n' "$msg"
    printf '  command: %s\n' "$cmd"
    if [[ -n "$logfile" && -f "$logfile" ]]; then
      printf '  log:     %s (last 40 lines)\n' "$logfile"
      tail -n 40 "$logfile" | sed 's/^/    | /'
    fi
  } >&2
  exit 1
}

now() { date +%s; }
# elapsed START -> "12s" / "3m04s"
elapsed() {
  local s=$(($(now) - $1))
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# wait_for COMPONENT TIMEOUT_S LOGFILE DESCRIPTION CMD...: poll CMD every 0.5s.
wait_for() {
  local component="$1" timeout="$2" logfile="$3" what="$4"
  shift 4
  local deadline=$(($(now) + timeout))
  until "$@" >/dev/null 2>&1; do
    if (($(now) >= deadline)); then
      fail "$component" "$*" "$logfile" "timed out after ${timeout}s waiting for: $what"
    fi
    sleep 0.5
  done
}

pid_alive() { [[ -f "$PIDS/$1.pid" ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

# http_ok URL [curl args...]: true when URL answers 2xx.
http_ok() { curl -fsS -o /dev/null --max-time 3 "$@"; }

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# apt_install COMPONENT PACKAGE...: install Debian packages (root or sudo) without
# letting apt start their services (policy-rc.d), named in the failure message.
apt_install() {
  local component="$1" sudo="" log="$CACHE/logs/apt-$1.log"
  shift
  if ((EUID != 0)); then
    command -v sudo >/dev/null || fail "$component" "apt-get install $*" "" "not root and no sudo: install the Debian packages $*"
    sudo="sudo"
  fi
  mkdir -p "$CACHE/logs"
  log "installing Debian packages for $component: $* (apt-get)"
  local t0 policy_added=0 rc=0
  t0=$(now)
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  {
    $sudo apt-get update -q -o DPkg::Lock::Timeout=300 &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "$@"
  } >"$log" 2>&1 || rc=$?
  ((policy_added)) && $sudo rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || fail "$component" "apt-get update && apt-get install -y $*" "$log" "cannot install $*"
  ok "installed $* in $(elapsed "$t0")"
}
