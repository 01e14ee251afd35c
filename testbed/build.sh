#!/usr/bin/env bash
# Build (first time only) every test bed component into the cache folder.
#   testbed/build.sh              build everything that is missing
#   testbed/build.sh k8s kafka    build only these (k8s etcd kwok ferretdb helm kafka crds)
# A component whose folder holds a .done stamp is not rebuilt; folders are keyed
# by the versions in testbed/versions.env.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

BUILD_LOGS="$CACHE/logs"
GO_P="${TESTBED_GO_P:-2}"

# run_logged COMPONENT LOGFILE CMD...: run CMD, append output to LOGFILE, fail loudly.
run_logged() {
  local component="$1" logfile="$2"
  shift 2
  printf '\n$ %s\n' "$*" >>"$logfile"
  "$@" >>"$logfile" 2>&1 || fail "$component" "$*" "$logfile" "build step failed"
}

go_ldflags_k8s() {
  local v="v$K8S_VERSION" major minor
  major="${K8S_VERSION%%.*}"
  minor="${K8S_VERSION#*.}"
  minor="${minor%%.*}"
  local date
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  printf '%s' "$flags"
}

# k8s.io/kubernetes replaces its staging modules with local paths, which `go
# install` refuses. A wrapper module pins each staging module to the matching
# v0.Y.Z release instead (the staging list is read from the release's go.mod).
build_k8s() {
  local dir="$K8S_DIR" log="$BUILD_LOGS/k8s.log"
  local staging="0.${K8S_VERSION#*.}"
  mkdir -p "$dir/bin"
  : >"$log"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" 2>>"$log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')" ||
    fail k8s "go mod download -json k8s.io/kubernetes@v$K8S_VERSION" "$log" "cannot download the kubernetes module"
  {
    printf 'module local/flead-testbed-k8s\n\ngo 1.26.0\n\nreplace (\n'
    grep -E '=> \./staging/' "$gomod" | awk -v s="$staging" '{print "\t" $1 " => " $1 " v" s}'
    printf ')\n'
  } >"$dir/go.mod"
  (
    cd "$dir"
    run_logged k8s "$log" go get -tool \
      "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION" \
      "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION"
    local cmd
    for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      run_logged k8s "$log" go build -p "$GO_P" -ldflags "$(go_ldflags_k8s)" -o "bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
}

# go_wrapper COMPONENT DIR PACKAGE@VERSION BINARY LDFLAGS: build PACKAGE from a
# wrapper module that requires it as a tool (its own replace directives, if
# any, are then ignored in favour of the released module versions).
go_wrapper() {
  local component="$1" dir="$2" pkg="${3%@*}" version="${3##*@}" binary="$4" ldflags="$5"
  local log="$BUILD_LOGS/$component.log"
  mkdir -p "$dir/bin"
  : >"$log"
  printf 'module local/flead-testbed-%s\n\ngo 1.26.0\n' "$component" >"$dir/go.mod"
  (
    cd "$dir"
    run_logged "$component" "$log" go get -tool "$pkg@$version"
    run_logged "$component" "$log" go build -p "$GO_P" -ldflags "$ldflags" -o "bin/$binary" "$pkg"
  )
}

build_etcd() {
  go_wrapper etcd "$ETCD_DIR" "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" etcd \
    "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION"
}

# go_install COMPONENT DIR PACKAGE@VERSION [LDFLAGS]: module without replace directives.
go_install() {
  local component="$1" dir="$2" pkg="$3" ldflags="${4:--s -w}" log="$BUILD_LOGS/$1.log"
  mkdir -p "$dir/bin"
  : >"$log"
  GOBIN="$dir/bin" run_logged "$component" "$log" go install -p "$GO_P" -ldflags "$ldflags" "$pkg"
}

build_kwok() {
  go_install kwok "$KWOK_DIR" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" \
    "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION"
}

# Built as the main module, FerretDB panics unless build/version/version.txt
# (absent from the module zip) holds a version; as a dependency it skips that check.
build_ferretdb() {
  go_wrapper ferretdb "$FERRETDB_DIR" "github.com/FerretDB/FerretDB/cmd/ferretdb@v$FERRETDB_VERSION" ferretdb "-s -w"
}

build_helm() {
  go_install helm "$HELM_DIR" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
}

build_kafka() {
  local dir="$KAFKA_DIR" log="$BUILD_LOGS/kafka.log"
  mkdir -p "$dir"
  : >"$log"
  run_logged kafka "$log" mvn -B -q -f "$TESTBED_DIR/kafka/pom.xml" \
    "-Dmaven.repo.local=$CACHE/m2" \
    "-Dkafka.version=$KAFKA_VERSION" "-Dkafka.scala.version=$KAFKA_SCALA_VERSION" \
    "-Dlog4j.version=$LOG4J_VERSION" "-Dslf4j.version=$SLF4J_VERSION" "-Ddependency.plugin.version=$MAVEN_DEPENDENCY_PLUGIN_VERSION" \
    "-Dtestbed.libs=$dir/libs" \
    "-Dtestbed.build=$CACHE/kafka-build" \
    dependency:copy-dependencies@copy-libs
}

# The prometheus-operator CRDs ship as YAML inside its Go module.
build_crds() {
  local dir="$CRDS_DIR" log="$BUILD_LOGS/crds.log"
  local mod="github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION"
  mkdir -p "$dir"
  : >"$log"
  local src
  src="$(cd "$CACHE" && go mod download -json "$mod" 2>>"$log" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" ||
    fail crds "go mod download -json $mod" "$log" "cannot download the prometheus-operator module"
  local f n=0
  for f in "$src"/example/prometheus-operator-crd/*.yaml; do
    case "$(basename "$f")" in
      *servicemonitors.yaml | *podmonitors.yaml | *prometheusrules.yaml) cp "$f" "$dir/" && n=$((n + 1)) ;;
    esac
  done
  ((n == 3)) || fail crds "cp $src/example/prometheus-operator-crd/*.yaml" "$log" "expected 3 CRD files, found $n"
  chmod 644 "$dir"/*.yaml
}

# Binaries on PATH come from one folder of links, refreshed on every build.
link_bins() {
  mkdir -p "$CACHE_BIN"
  local d b
  for d in "$K8S_DIR" "$ETCD_DIR" "$KWOK_DIR" "$FERRETDB_DIR" "$HELM_DIR"; do
    [[ -f "$d/.done" ]] || continue
    for b in "$d"/bin/*; do ln -sfn "$b" "$CACHE_BIN/$(basename "$b")"; done
  done
}

# verify_COMPONENT: the fresh build runs (a broken binary must not be cached).
verify_k8s() {
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    "$K8S_DIR/bin/$b" --version | grep -qx "Kubernetes v$K8S_VERSION" || return 1
  done
  "$K8S_DIR/bin/kubectl" version --client | grep -q "v$K8S_VERSION"
}
verify_etcd() { "$ETCD_DIR/bin/etcd" --version | grep -q "etcd Version: $ETCD_VERSION"; }
verify_kwok() { "$KWOK_DIR/bin/kwok" --version; }
verify_ferretdb() { "$FERRETDB_DIR/bin/ferretdb" --version; }
verify_helm() { "$HELM_DIR/bin/helm" version --short | grep -q "v$HELM_VERSION"; }
verify_kafka() { compgen -G "$KAFKA_DIR/libs/kafka_$KAFKA_SCALA_VERSION-$KAFKA_VERSION.jar"; }
verify_crds() { (($(find "$CRDS_DIR" -name '*.yaml' | wc -l) == 3)); }

dir_of() {
  case "$1" in
    k8s) echo "$K8S_DIR" ;; etcd) echo "$ETCD_DIR" ;; kwok) echo "$KWOK_DIR" ;;
    ferretdb) echo "$FERRETDB_DIR" ;; helm) echo "$HELM_DIR" ;; kafka) echo "$KAFKA_DIR" ;;
    crds) echo "$CRDS_DIR" ;; *) echo "unknown component: $1" >&2; exit 2 ;;
  esac
}

build_one() {
  local c="$1" dir
  dir="$(dir_of "$c")"
  if [[ -f "$dir/.done" ]]; then
    return 0
  fi
  local t0
  t0=$(now)
  log "building $c (first time; log: $BUILD_LOGS/$c.log)"
  "build_$c"
  "verify_$c" >>"$BUILD_LOGS/$c.log" 2>&1 ||
    fail "$c" "verify_$c (testbed/build.sh)" "$BUILD_LOGS/$c.log" "the build finished but its output does not run"
  local took
  took="$(elapsed "$t0")"
  printf '%s\n' "$took" >"$dir/.done"
  ok "built $c in $took"
}

main() {
  mkdir -p "$BUILD_LOGS" "$GOMODCACHE" "$GOCACHE"
  # One build at a time per cache (fd 8; up.sh holds fd 9 for its own lock).
  exec 8>"$CACHE/.build.lock"
  if ! flock -n 8; then
    log "another build is running in $CACHE; waiting for it (up to 90 min)"
    flock -w 5400 8 || fail build "flock $CACHE/.build.lock" "" "timed out waiting for another build"
  fi
  command -v go >/dev/null || fail build "command -v go" "" "Go (>= 1.26) is needed to build the test bed"
  local components=("$@")
  ((${#components[@]})) || components=(kafka ferretdb helm kwok etcd crds k8s)
  local c
  for c in "${components[@]}"; do build_one "$c"; done
  link_bins
}

main "$@"
