#!/usr/bin/env bash
# Build FLEAD's four container images and hand them to containerd.
#
#   scripts/images.sh [build] [COMPONENT...]  build flead-<component>:$IMAGE_TAG (default: all four),
#                                             then smoke-test them (IMAGES_SMOKE=0 skips it)
#   scripts/images.sh load [COMPONENT...]     import the built images into containerd (ctr)
#   scripts/images.sh smoke [COMPONENT...]    start each image as containerd/Docker would (read-only
#                                             root, UID 10001 without a passwd entry)
#   scripts/images.sh push [COMPONENT...]     push $IMAGE_REGISTRY/flead-<component>:$IMAGE_TAG
#   scripts/images.sh base                    only make sure the Python base image exists
#   eval "$(scripts/images.sh env)"           this shell's podman then uses the same settings
#
# Engine: `docker build` when a Docker engine answers, otherwise podman (installed from Debian
# when missing). Base: the official Python image when it is present or can be pulled, otherwise
# one built from Debian packages with mmdebstrap (same Python minor, `python` on PATH), cached by
# its inputs so later runs reuse it.
#
# Environment (all optional):
#   IMAGE_TAG=dev               tag of the four images
#   IMAGE_REGISTRY=             name prefix, e.g. registry.example.com/flead -> registry.example.com/flead/flead-trainer
#   IMAGE_ENGINE=               docker | podman (default: docker if its engine answers, else podman)
#   IMAGE_BASE=auto             auto | registry (pull the official image) | debian (always mmdebstrap)
#   IMAGES_SMOKE=1              smoke-test what `build` built
#   IMAGE_PUSH_TLS_VERIFY=true  false: `push` talks plain http / unverified TLS (podman), e.g. to the test bed's
#                               registry (testbed/registry.sh)
#   IMAGES_CACHE=~/.cache/flead/images  logs, the podman configuration for this run, the Debian rootfs tarball
#   CONTAINERD_ADDRESS=/run/containerd/containerd.sock   containerd socket for `load`
#   CONTAINERD_NAMESPACE=k8s.io containerd namespace for `load` (the kubelet's)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

IMAGE_TAG=${IMAGE_TAG:-dev}
IMAGE_REGISTRY=${IMAGE_REGISTRY:-}
IMAGE_REGISTRY=${IMAGE_REGISTRY%/}
ENGINE=${IMAGE_ENGINE:-}
BASE_MODE=${IMAGE_BASE:-auto}
CACHE=${IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flead/images}
CONTAINERD_ADDRESS=${CONTAINERD_ADDRESS:-/run/containerd/containerd.sock}
CONTAINERD_NAMESPACE=${CONTAINERD_NAMESPACE:-k8s.io}

COMPONENTS=(operator trainer aggregator producer)
BASE_DOCKERFILE=deploy/docker/base.Dockerfile
# The official base, read from the base Dockerfile so there is one place to bump it.
OFFICIAL_PYTHON=$(sed -n 's/^ARG PYTHON_IMAGE=//p' "$BASE_DOCKERFILE")
# The base built from Debian packages: bookworm's python3 is 3.11, like OFFICIAL_PYTHON.
DEBIAN_PYTHON=flead-python:3.11-bookworm
DEBIAN_SUITE=bookworm
DEBIAN_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
BASE_LABEL=io.flead.base-inputs
HOST_CA_DIR=/usr/local/share/ca-certificates

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# fail MESSAGE [LOG]: one line naming what failed, then the tail of its log.
fail() {
  local message=$1 logfile=${2:-}
  if [[ -n $logfile && -s $logfile ]]; then
    printf 'images: %s (log: %s); last lines:\n' "$message" "$logfile" >&2
    tail -n 25 "$logfile" | sed 's/^/  | /' >&2
  else
    printf 'images: %s\n' "$message" >&2
  fi
  exit 1
}

# step NAME LOG CMD...: run CMD with its output in LOG, report progress every 30 s, fail with the
# log's tail. NAME is what the user reads: "build flead-trainer:dev".
step() {
  local name=$1 logfile=$2 started=$SECONDS pid rc
  shift 2
  mkdir -p "$(dirname "$logfile")"
  log "$name ..."
  "$@" >"$logfile" 2>&1 &
  pid=$!
  while ! wait_for "$pid" 30; do
    log "  still $name ($((SECONDS - started)) s): $(tail -n 1 "$logfile" | cut -c1-100)"
  done
  rc=0
  wait "$pid" || rc=$?
  ((rc == 0)) || fail "$name failed" "$logfile"
  log "$name done in $((SECONDS - started)) s"
}

# wait_for PID SECONDS: true once PID has exited, false if it still runs after SECONDS.
wait_for() {
  local pid=$1 i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 1
  done
  ! kill -0 "$pid" 2>/dev/null
}

# need_packages CMD:PACKAGE...: install from Debian whatever command is missing (idempotent).
need_packages() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null 2>&1 ||
    fail "cannot install ${missing[*]}: no apt-get here (install them with your package manager)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  step "apt-get update" "$CACHE/logs/apt-update.log" "${apt[@]}" update
  step "apt-get install ${missing[*]}" "$CACHE/logs/apt-install.log" \
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
}

component_dockerfile() {
  case $1 in
    operator) echo operator/Dockerfile ;;
    *) echo "services/$1/Dockerfile" ;;
  esac
}

# The dependency set (pyproject extra) of a component's base.
component_extras() {
  case $1 in
    operator) echo operator ;;
    *) echo services ;;
  esac
}

image_ref() { echo "${IMAGE_REGISTRY:+$IMAGE_REGISTRY/}flead-$1:$IMAGE_TAG"; }

check_components() {
  local c known
  for c in "$@"; do
    known=0
    for k in "${COMPONENTS[@]}"; do [[ $c == "$k" ]] && known=1; done
    ((known)) || fail "unknown component '$c' (known: ${COMPONENTS[*]})"
  done
}

# Write FILE only when its content changes, so repeated runs touch nothing.
write_if_changed() {
  local file=$1 content
  content=$(cat)
  [[ -f $file && $(cat "$file") == "$content" ]] || printf '%s\n' "$content" >"$file"
}

# podman reads this run's settings from files in the cache (CONTAINERS_CONF replaces the system
# containers.conf; nothing under /etc is changed):
# - runc with cgroupfs: crun 1.8 refuses hybrid cgroup v1 hosts, and no systemd is needed;
# - ulimits within the current hard limits: without CAP_SYS_RESOURCE podman cannot raise them;
# - no unqualified-search registries: short names resolve to local images only.
configure_podman() {
  local dir=$CACHE/containers nofile nproc
  mkdir -p "$dir"
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [[ $nofile == unlimited ]] && nofile=1048576
  # runc refused nproc at the full hard limit (96365) here with EPERM; 32768 works and is plenty.
  [[ $nproc == unlimited ]] || ((nproc > 32768)) && nproc=32768
  write_if_changed "$dir/containers.conf" <<EOF
# written by scripts/images.sh for this machine
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
events_logger = "file"
EOF
  write_if_changed "$dir/registries.conf" <<'EOF'
# written by scripts/images.sh: images are named in full (docker.io/library/python:...) or local
unqualified-search-registries = []
EOF
  export CONTAINERS_CONF=$dir/containers.conf
  export CONTAINERS_REGISTRIES_CONF=$dir/registries.conf
}

pick_engine() {
  if [[ -z $ENGINE ]]; then
    if command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; then
      ENGINE=docker
    else
      ENGINE=podman
    fi
  fi
  case $ENGINE in
    docker) command -v docker >/dev/null 2>&1 || fail "IMAGE_ENGINE=docker: no docker command" ;;
    podman)
      need_packages podman:podman runc:runc
      configure_podman
      ;;
    *) fail "unknown IMAGE_ENGINE=$ENGINE (use docker or podman)" ;;
  esac
  log "engine: $ENGINE ($($ENGINE --version 2>/dev/null | head -n 1))"
}

have_image() { $ENGINE image inspect "$1" >/dev/null 2>&1; }

image_label() {
  $ENGINE image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# Everything the Debian base is made from; a change rebuilds it.
debian_base_inputs() {
  {
    echo "recipe 1 $DEBIAN_SUITE $DEBIAN_PACKAGES"
    cat /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null || true
    cat "$HOST_CA_DIR"/*.crt 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

# The mirror argument of mmdebstrap: the host's own apt sources when they are bookworm's, so the
# base comes from the same Debian mirror (or snapshot) as the host's packages; else Debian's.
debian_sources() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -s $f ]] && grep -qw "$DEBIAN_SUITE" "$f" && { echo "$f"; return; }
  done
  echo http://deb.debian.org/debian
}

build_debian_base() {
  local inputs tarball hooks=()
  inputs=$(debian_base_inputs)
  if [[ $(image_label "$DEBIAN_PYTHON" "$BASE_LABEL") == "$inputs" ]]; then
    log "base: $DEBIAN_PYTHON is up to date (inputs $inputs)"
    return
  fi
  need_packages mmdebstrap:mmdebstrap
  tarball=$CACHE/debian-base.$$.tar
  # shellcheck disable=SC2064
  trap "rm -f '$tarball'" EXIT
  # The host's extra CA certificates (empty on most machines) so pip inside the build trusts the
  # same TLS endpoints as the host.
  if compgen -G "$HOST_CA_DIR/*.crt" >/dev/null; then
    hooks+=(--customize-hook="mkdir -p \"\$1$HOST_CA_DIR\""
      --customize-hook="copy-in $(echo "$HOST_CA_DIR"/*.crt) $HOST_CA_DIR"
      --customize-hook='chroot "$1" update-ca-certificates')
  fi
  step "mmdebstrap the Python base ($DEBIAN_SUITE: $DEBIAN_PACKAGES)" "$CACHE/logs/mmdebstrap.log" \
    mmdebstrap --variant=minbase --include="$DEBIAN_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "${hooks[@]}" --format=tar "$DEBIAN_SUITE" "$tarball" "$(debian_sources)"
  step "import $DEBIAN_PYTHON" "$CACHE/logs/import.log" \
    $ENGINE import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python"]' \
    --change "LABEL $BASE_LABEL=$inputs" \
    "$tarball" "$DEBIAN_PYTHON"
  rm -f "$tarball"
}

# Sets PYTHON_IMAGE (and PULL, the pull policy of the base build) from IMAGE_BASE.
choose_base() {
  local why
  case $BASE_MODE in
    registry)
      PYTHON_IMAGE=$OFFICIAL_PYTHON
      PULL=missing
      return
      ;;
    debian) ;;
    auto)
      if have_image "$OFFICIAL_PYTHON"; then
        PYTHON_IMAGE=$OFFICIAL_PYTHON PULL=never
        log "base: $OFFICIAL_PYTHON (present)"
        return
      fi
      if ! have_image "$DEBIAN_PYTHON"; then
        log "base: pulling $OFFICIAL_PYTHON (up to 60 s) ..."
        if timeout 60 $ENGINE pull "$OFFICIAL_PYTHON" >"$CACHE/logs/pull.log" 2>&1; then
          PYTHON_IMAGE=$OFFICIAL_PYTHON PULL=never
          return
        fi
        why=$(tail -n 1 "$CACHE/logs/pull.log")
        log "base: cannot pull $OFFICIAL_PYTHON (…${why: -100}); building it from Debian packages"
      fi
      ;;
    *) fail "unknown IMAGE_BASE=$BASE_MODE (use auto, registry or debian)" ;;
  esac
  build_debian_base
  PYTHON_IMAGE=$DEBIAN_PYTHON PULL=never
}

# engine_build LOGNAME ARGS...: one image build from the repository root.
engine_build() {
  local name=$1
  shift
  local args=(build --network=host)
  [[ $ENGINE == podman ]] && args+=(--layers)
  step "build $name" "$CACHE/logs/build-${name//[:\/]/_}.log" $ENGINE "${args[@]}" "$@" .
}

pull_flag() {
  if [[ $ENGINE == podman ]]; then
    echo "--pull=$1"
  elif [[ $1 == always ]]; then
    echo --pull
  fi
}

cmd_base() {
  pick_engine
  choose_base
  log "base: $PYTHON_IMAGE"
}

cmd_build() {
  local started=$SECONDS c extras
  (($#)) || set -- "${COMPONENTS[@]}"
  check_components "$@"
  pick_engine
  choose_base
  declare -A built=()
  for c in "$@"; do
    extras=$(component_extras "$c")
    if [[ -z ${built[$extras]:-} ]]; then
      # shellcheck disable=SC2046
      engine_build "flead-base-$extras:$IMAGE_TAG" $(pull_flag "$PULL") \
        -f "$BASE_DOCKERFILE" --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
        --build-arg "EXTRAS=$extras" -t "flead-base-$extras:$IMAGE_TAG"
      built[$extras]=1
    fi
    # shellcheck disable=SC2046
    engine_build "$(image_ref "$c")" $(pull_flag never) -f "$(component_dockerfile "$c")" \
      --build-arg "BASE_IMAGE=flead-base-$extras:$IMAGE_TAG" -t "$(image_ref "$c")"
  done
  log "built ${*/#/flead-} (tag $IMAGE_TAG, base $PYTHON_IMAGE) in $((SECONDS - started)) s"
  $ENGINE images --format '{{.Repository}}:{{.Tag}} {{.Size}}' 2>/dev/null |
    grep -E "flead-($(
      IFS='|'
      echo "$*"
    )):$IMAGE_TAG " | sed 's/^/  /' >&2 || true
  [[ ${IMAGES_SMOKE:-1} == 0 ]] || cmd_smoke "$@"
}

cmd_load() {
  local c refs=() save
  (($#)) || set -- "${COMPONENTS[@]}"
  check_components "$@"
  pick_engine
  command -v ctr >/dev/null 2>&1 || fail "load: no ctr command (install containerd)"
  [[ -S $CONTAINERD_ADDRESS ]] || fail "load: no containerd socket at $CONTAINERD_ADDRESS (set CONTAINERD_ADDRESS)"
  local ctr=(ctr --address "$CONTAINERD_ADDRESS" --namespace "$CONTAINERD_NAMESPACE")
  for c in "$@"; do
    refs+=("$(image_ref "$c")")
    have_image "${refs[-1]}" || fail "load ${refs[-1]}: no such image (run make images first)"
  done
  # One archive for all of them, so the layers they share are streamed and unpacked once.
  save="docker save"
  [[ $ENGINE == podman ]] && save="podman save --multi-image-archive --format docker-archive"
  step "load ${refs[*]} into containerd ($CONTAINERD_ADDRESS, namespace $CONTAINERD_NAMESPACE)" \
    "$CACHE/logs/load.log" bash -o pipefail -c "$save ${refs[*]} | ${ctr[*]} images import -"
  # podman names local images localhost/NAME; Kubernetes resolves a bare NAME to
  # docker.io/library/NAME, so give containerd both names.
  if [[ -z $IMAGE_REGISTRY && $ENGINE == podman ]]; then
    for c in "$@"; do
      "${ctr[@]}" images tag --force "localhost/$(image_ref "$c")" \
        "docker.io/library/$(image_ref "$c")" >>"$CACHE/logs/load.log" 2>&1 ||
        fail "load: tagging docker.io/library/$(image_ref "$c") failed" "$CACHE/logs/load.log"
    done
  fi
  "${ctr[@]}" images ls -q 2>/dev/null | grep -E "flead-" | sed 's/^/  /' >&2 || true
}

cmd_push() {
  local c
  (($#)) || set -- "${COMPONENTS[@]}"
  check_components "$@"
  [[ -n $IMAGE_REGISTRY ]] || fail "push: set IMAGE_REGISTRY (e.g. registry.example.com/flead) and build with it"
  pick_engine
  for c in "$@"; do
    have_image "$(image_ref "$c")" ||
      fail "push $(image_ref "$c"): no such image (build it with the same IMAGE_REGISTRY and IMAGE_TAG)"
    local tls=()
    [[ $ENGINE == podman && ${IMAGE_PUSH_TLS_VERIFY:-true} == false ]] && tls=(--tls-verify=false)
    step "push $(image_ref "$c")" "$CACHE/logs/push-$c.log" $ENGINE push "${tls[@]}" "$(image_ref "$c")"
  done
}

# smoke_operator REF LOG [ENV...]: start the operator image detached with ENV, wait until kopf has
# passed its identity and run its startup activity (which then fails: no API server here), stop it.
# Prints "ok", "crash" (getpwuid) or "timeout".
smoke_operator() {
  local ref=$1 logfile=$2 name i result=timeout
  shift 2
  name=flead-smoke-operator-$$
  $ENGINE "${SMOKE_RUN[@]}" -d --name "$name" "$@" "$ref" --all-namespaces >/dev/null
  for ((i = 0; i < 60; i++)); do
    $ENGINE logs "$name" >"$logfile" 2>&1 || true
    if grep -q getpwuid "$logfile"; then
      result=crash
      break
    fi
    if grep -q "Activity 'startup'" "$logfile"; then
      result=ok
      break
    fi
    [[ $($ENGINE inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || break
    sleep 1
  done
  $ENGINE rm -f "$name" >/dev/null 2>&1 || true
  echo "$result"
}

# Start each image the way containerd and Docker do: no passwd entry for UID 10001, read-only
# root filesystem, a tmpfs /tmp, no network. The services must import; the operator must get
# through kopf's identity to its startup activity both as the image is (USER names the UID) and
# as the chart runs it (POD_ID from the downward API), and must crash without either, which shows
# the check still sees the bug.
cmd_smoke() {
  local c ref logs=$CACHE/logs
  (($#)) || set -- "${COMPONENTS[@]}"
  check_components "$@"
  pick_engine
  SMOKE_RUN=(run --read-only --tmpfs /tmp --network=none --user 10001:10001)
  [[ $ENGINE == podman ]] && SMOKE_RUN+=(--passwd=false)
  for c in "$@"; do
    ref=$(image_ref "$c")
    have_image "$ref" || fail "smoke $ref: no such image (run make images first)"
    if [[ $c == operator ]]; then
      [[ $(smoke_operator "$ref" "$logs/smoke-operator.log") == ok ]] ||
        fail "smoke $ref failed: kopf did not reach its startup without a passwd entry" "$logs/smoke-operator.log"
      [[ $(smoke_operator "$ref" "$logs/smoke-operator-pod-id.log" -e USER= -e POD_ID=flead-operator-smoke) == ok ]] ||
        fail "smoke $ref failed: kopf did not reach its startup with POD_ID" "$logs/smoke-operator-pod-id.log"
      [[ $(smoke_operator "$ref" "$logs/smoke-operator-no-id.log" -e USER=) == crash ]] ||
        fail "smoke $ref failed: without USER and POD_ID kopf should crash on getpwuid (the check is blind)" \
          "$logs/smoke-operator-no-id.log"
    else
      $ENGINE "${SMOKE_RUN[@]}" --rm --entrypoint python "$ref" -c "import flead, flead_$c" \
        >"$logs/smoke-$c.log" 2>&1 || fail "smoke $ref failed: python -c 'import flead_$c'" "$logs/smoke-$c.log"
    fi
    log "smoke $ref: ok"
  done
}

cmd_env() {
  pick_engine >/dev/null 2>&1
  if [[ $ENGINE == podman ]]; then
    printf 'export CONTAINERS_CONF=%q CONTAINERS_REGISTRIES_CONF=%q\n' \
      "$CONTAINERS_CONF" "$CONTAINERS_REGISTRIES_CONF"
  fi
}

main() {
  mkdir -p "$CACHE/logs"
  local cmd=${1:-build}
  case $cmd in
    build | load | push | smoke | base | env)
      shift || true
      "cmd_$cmd" "$@"
      ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    *) cmd_build "$@" ;;
  esac
}

main "$@"
