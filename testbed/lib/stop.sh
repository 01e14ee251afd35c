# stop_bed STATE_DIR: stop every process recorded under STATE_DIR/pids, newest
# layer first, by pid only. A pid is signalled only while its command line still
# mentions STATE_DIR, so a recycled pid is never hit. Sourced after common.sh.

# owned_pid PIDFILE STATE_DIR: print the pid if it is alive and ours.
owned_pid() {
  local pidfile="$1" state="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$state" || return 1
  echo "$pid"
}

# stop_pid NAME PID: TERM, wait up to 20s, then KILL.
stop_pid() {
  local name="$1" pid="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "stopped $name (pid $pid)"; return 0; }
    sleep 0.5
  done
  warn "$name (pid $pid) ignored SIGTERM for 20s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

stop_bed() {
  local state="$1" name pid jobs=()
  [[ -d "$state/pids" ]] || return 0
  # The real node first (its pods and network), while the apiserver still runs.
  if declare -F stop_node >/dev/null; then stop_node "$state"; fi
  # Control plane top-down (so nothing logs errors about a vanished etcd), the
  # other layers in parallel.
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd prometheus ferretdb kafka; do
    if pid="$(owned_pid "$state/pids/$name.pid" "$state")"; then
      stop_pid "$name" "$pid" &
      jobs+=($!)
    fi
    case "$name" in
      kube-controller-manager | kube-apiserver | etcd)
        ((${#jobs[@]})) && wait "${jobs[@]}"
        jobs=()
        ;;
    esac
  done
  ((${#jobs[@]})) && wait "${jobs[@]}"
  rm -f "$state"/pids/*.pid
}

# any_alive STATE_DIR: true when some process of that bed still runs.
any_alive() {
  local state="$1" f
  for f in "$state"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    owned_pid "$f" "$state" >/dev/null && return 0
  done
  return 1
}

# clean_state STATE_DIR: remove the bed's own files; other tools may keep
# theirs in the same folder (e.g. scripts/stack.sh uses .testbed/stack).
clean_state() {
  local state="$1" entry m
  # Never follow a mount left by the real node (container rootfs, pod volumes) into other files.
  for m in $(awk -v s="$state/node/" 'index($2, s) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  [[ ! -d "$state/node" ]] || rm -rf --one-file-system "${state:?}/node"
  for entry in env fingerprint borrowed kubeconfig etcd ferretdb kafka logs pids pki prometheus timings node node-ip; do
    rm -rf "${state:?}/$entry"
  done
  rmdir "$state" 2>/dev/null || true
}
