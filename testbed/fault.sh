#!/usr/bin/env bash
# Hurt one component of the running test bed, by its pid file in .testbed/pids:
#   testbed/fault.sh kill COMPONENT      SIGKILL, then wait until the process is gone
#   testbed/fault.sh stop COMPONENT      SIGSTOP (frozen: its sockets stay open, nothing answers)
#   testbed/fault.sh cont COMPONENT      SIGCONT, then wait until healthy
#   testbed/fault.sh restart COMPONENT   SIGKILL if still running, start it again on the SAME
#                                        data (same topics, offsets, databases), wait until healthy
# COMPONENT: ferretdb | kafka | prometheus | apiserver (kube-apiserver), and the real node's
# containerd | kubelet. A component is added by listing it in FAULT_COMPONENTS with its start
# (testbed/lib/components.sh and node.sh, shared with up.sh) and health functions. Prometheus
# restarts on its TSDB; the apiserver on etcd (same objects); containerd on its root and state
# (the containers keep running in their shims); the kubelet on its --root-dir (it adopts the
# running pods). The node's two are healthy again once the kubelet shows it after the fault
# (testbed/lib/node.sh healthy_containerd_since / healthy_kubelet_since), not on the Node's
# Ready condition alone, which outlives a dead kubelet by ~40 s.
# Never touches another component; the bed's other processes keep running.
# The bed is shared: kill/stop leave a marker in .testbed/faults/ (removed by restart/cont) so
# another session's tests/support ensure_testbed waits for the fault to end instead of running
# up.sh, and restart/cont take up.sh's lock, so the two never start the same component twice.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED_DIR/lib/components.sh"
. "$TESTBED_DIR/lib/stop.sh"
. "$TESTBED_DIR/lib/node.sh"

# name -> "start-function health-function seconds-to-wait-for-health"
declare -A FAULT_COMPONENTS=(
  [ferretdb]="start_ferretdb healthy_ferretdb 60"
  [kafka]="start_kafka healthy_kafka 120"
  [prometheus]="start_prometheus healthy_prometheus 60"
  [kube-apiserver]="start_apiserver healthy_apiserver 120"
)
# The real node's, when the bed has one (their health takes the fault's time: FAULT_SINCE).
if node_enabled && [[ -n "$BED_NODE_IP" ]]; then
  FAULT_COMPONENTS[containerd]="start_containerd healthy_containerd_since 120"
  FAULT_COMPONENTS[kubelet]="start_kubelet_again healthy_kubelet_since 120"
fi

usage() {
  echo "usage: testbed/fault.sh kill|stop|cont|restart COMPONENT  (COMPONENT: ${!FAULT_COMPONENTS[*]})" >&2
  exit 2
}

# running_pid NAME: the component's pid when it is alive and belongs to this bed.
running_pid() { owned_pid "$PIDS/$1.pid" "$STATE"; }

FAULTS="$STATE/faults"
mark_fault() { mkdir -p "$FAULTS" && echo "$1 $(now)" >"$FAULTS/$2"; }
clear_fault() { rm -f "$FAULTS/$1"; }

# with_up_lock: wait (up to 10 min) for a running up.sh, which may be starting this component.
with_up_lock() {
  exec 9>"$CACHE/.up.lock"
  flock -w 600 9 || fail testbed "flock $CACHE/.up.lock" "" "timed out waiting for a running up.sh"
}

# gone NAME PID: true once PID no longer runs (a zombie of nobody's counts as gone).
gone() { ! kill -0 "$2" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null)" == Z ]]; }

kill_component() {
  local name="$1" pid
  pid="$(running_pid "$name")" || { log "$name is not running (nothing to kill)"; return 0; }
  mark_fault kill "$name"
  kill -KILL "$pid"
  wait_for "$name" 20 "$LOGS/$name.log" "pid $pid to exit after SIGKILL" gone "$name" "$pid"
  ok "$name killed (SIGKILL, pid $pid)"
}

stop_component() {
  local name="$1" pid
  pid="$(running_pid "$name")" || fail "$name" "kill -STOP <pid from $PIDS/$name.pid>" "$LOGS/$name.log" "$name is not running"
  mark_fault stop "$name"
  kill -STOP "$pid"
  ok "$name stopped (SIGSTOP, pid $pid); resume it with: testbed/fault.sh cont $name"
}

# FAULT_SINCE: when the fault began (the marker's time, else now): a health function of the
# node's components is called with it; the others ignore it.
FAULT_SINCE=""
fault_since() {
  local marker="$FAULTS/$1"
  if [[ -f "$marker" ]]; then FAULT_SINCE="$(awk '{print $2}' "$marker")"; fi
  [[ "$FAULT_SINCE" =~ ^[0-9]+$ ]] || FAULT_SINCE="$(now)"
}

wait_healthy() {
  local name="$1" health="$2" timeout="$3"
  wait_ready "$name" "$timeout" "$name healthy ($health $FAULT_SINCE)" "$health" "$FAULT_SINCE"
}

cont_component() {
  local name="$1" health="$2" timeout="$3" pid
  pid="$(running_pid "$name")" || fail "$name" "kill -CONT <pid from $PIDS/$name.pid>" "$LOGS/$name.log" "$name is not running (restart it instead)"
  kill -CONT "$pid"
  wait_healthy "$name" "$health" "$timeout"
  clear_fault "$name"
  ok "$name continued (SIGCONT, pid $pid) and healthy"
}

# close_inherited_fds: a caller's descriptors (`flock FILE testbed/fault.sh ...` passes its
# lock) must not live on in the restarted daemon, holding the caller's lock for good: close all
# but stdio, the up lock (fd 9, which daemon closes for its child) and bash's script (255).
close_inherited_fds() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd="${fd##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 9 && fd != 255)) || continue
    eval "exec $fd>&-" 2>/dev/null || true
  done
}

restart_component() {
  local name="$1" start="$2" health="$3" t0
  t0=$(now)
  with_up_lock
  close_inherited_fds
  if [[ -f "$FAULTS/$name" ]] && running_pid "$name" >/dev/null && "$health" "$FAULT_SINCE" >/dev/null 2>&1; then
    # killed by us, but started again meanwhile (an up.sh of another session): healthy as is.
    clear_fault "$name"
    ok "$name already restarted on the same data and healthy (pid $(cat "$PIDS/$name.pid"))"
    return 0
  fi
  kill_component "$name"
  fault_since "$name" # the kill's time, when this restart did the kill
  # daemon() starts a fresh log; the one of the killed process is kept next to it.
  if [[ -f "$LOGS/$name.log" ]]; then mv -f "$LOGS/$name.log" "$LOGS/$name.log.before-restart"; fi
  "$start" # waits until it answers, fails with the log tail
  wait_healthy "$name" "$health" "${FAULT_COMPONENTS[$name]##* }"
  clear_fault "$name"
  ok "$name restarted on the same data and healthy in $(elapsed "$t0") (pid $(cat "$PIDS/$name.pid"))"
}

main() {
  (($# == 2)) || usage
  local action="$1" name="$2" spec
  [[ "$name" != apiserver ]] || name=kube-apiserver # its pid and log files are named so
  spec="${FAULT_COMPONENTS[$name]:-}"
  [[ -n "$spec" ]] || usage
  [[ -f "$STATE/env" && ! -f "$STATE/borrowed" ]] ||
    fail "$name" "testbed/fault.sh $action $name" "" "no test bed of this checkout is up in $STATE (a borrowed bed is not ours to hurt)"
  local start health timeout
  read -r start health timeout <<<"$spec"
  fault_since "$name"
  case "$action" in
    kill) kill_component "$name" ;;
    stop) stop_component "$name" ;;
    cont) cont_component "$name" "$health" "$timeout" ;;
    restart) restart_component "$name" "$start" "$health" ;;
    *) usage ;;
  esac
}

main "$@"
