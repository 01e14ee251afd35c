#!/usr/bin/env bash
# The FLEAD pipeline as local processes on the test bed (`make up` / `make down`):
#   aggregator (:8000), STACK_TRAINERS trainers over the partitioned readings topic
#   (metrics :9101+), and a looping synthetic producer (:9100). Each registers with the
#   bed's Prometheus (file_sd, trainers with label group). Pid files and logs: .testbed/stack/.
# Settings (environment): STACK_TRAINERS=3, STACK_RATE=500 (readings/s), STACK_DEVICES=54,
#   FLEAD_READINGS_PARTITIONS=12, FLEAD_AGGREGATOR_TOKEN (generated when unset),
#   FLEAD_AGGREGATOR_MIN_UPDATES=5, FLEAD_AGGREGATOR_ROUND_TIMEOUT_SECONDS=15.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ENV_FILE="$REPO/.testbed/env"
STACK="$REPO/.testbed/stack"
PY="$REPO/.venv/bin/python"

die() { echo "stack: $*" >&2; exit 1; }

wait_http() { # url seconds name
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || die "$3 not ready at $1 after $2 s (log: $STACK/$3.log)"
    sleep 0.5
  done
}

start() { # name command...
  local name=$1; shift
  if [[ -f "$STACK/$name.pid" ]] && kill -0 "$(cat "$STACK/$name.pid")" 2>/dev/null; then
    echo "  $name already running (pid $(cat "$STACK/$name.pid"))"; return
  fi
  setsid "$@" >"$STACK/$name.log" 2>&1 < /dev/null &
  echo $! >"$STACK/$name.pid"
  echo "  $name started (pid $!, log .testbed/stack/$name.log)"
}

set_env_line() { # name value: replace or append an export in .testbed/env
  local tmp
  tmp=$(mktemp)
  grep -v "^export $1=" "$ENV_FILE" >"$tmp" || true
  echo "export $1=$2" >>"$tmp"
  cat "$tmp" >"$ENV_FILE"
  rm -f "$tmp"
}

up() {
  [[ -f "$ENV_FILE" ]] || die "no .testbed/env: start the test bed first (make testbed)"
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  mkdir -p "$STACK"
  local trainers=${STACK_TRAINERS:-3} partitions=${FLEAD_READINGS_PARTITIONS:-12}
  ((trainers >= 1 && trainers <= partitions)) || die "STACK_TRAINERS must be 1..$partitions"
  export FLEAD_READINGS_PARTITIONS=$partitions FLEAD_LOG_FORMAT=${FLEAD_LOG_FORMAT:-json}
  if [[ -z "${FLEAD_AGGREGATOR_TOKEN:-}" ]]; then
    [[ -f "$STACK/token" ]] || "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$STACK/token"
    FLEAD_AGGREGATOR_TOKEN=$(cat "$STACK/token")
  fi
  export FLEAD_AGGREGATOR_TOKEN
  local url="http://127.0.0.1:${FLEAD_AGGREGATOR_PORT:-8000}"
  echo "FLEAD stack: creating topics"
  "$PY" -m flead_producer.topics
  echo "FLEAD stack: starting processes"
  FLEAD_AGGREGATOR_MIN_UPDATES=${FLEAD_AGGREGATOR_MIN_UPDATES:-5} \
    FLEAD_AGGREGATOR_ROUND_TIMEOUT_SECONDS=${FLEAD_AGGREGATOR_ROUND_TIMEOUT_SECONDS:-15} \
    start aggregator "$PY" -m flead_aggregator
  wait_http "$url/readyz" 60 aggregator
  local i first last list p
  for ((i = 0; i < trainers; i++)); do
    first=$((i * partitions / trainers)); last=$(((i + 1) * partitions / trainers - 1)); list=""
    for ((p = first; p <= last; p++)); do list+="${list:+,}$p"; done
    FLEAD_PARTITIONS=$list FLEAD_PARTITION_GROUP=group-$i FLEAD_CONSUMER_GROUP=flead-trainer-group-$i \
      FLEAD_AGGREGATOR_URL=$url FLEAD_METRICS_PORT=$((9101 + i)) \
      FLEAD_TRAINER_UPDATE_EVERY_SAMPLES=${FLEAD_TRAINER_UPDATE_EVERY_SAMPLES:-200} \
      FLEAD_TRAINER_UPDATE_EVERY_SECONDS=${FLEAD_TRAINER_UPDATE_EVERY_SECONDS:-10} \
      start "trainer-$i" "$PY" -m flead_trainer
  done
  FLEAD_PRODUCER_RATE=${STACK_RATE:-500} FLEAD_PRODUCER_LOOP=true FLEAD_METRICS_PORT=9100 \
    FLEAD_PRODUCER_SYNTH_DEVICES=${STACK_DEVICES:-54} FLEAD_PRODUCER_PROGRESS=false \
    start producer "$PY" -m flead_producer
  for ((i = 0; i < trainers; i++)); do wait_http "http://127.0.0.1:$((9101 + i))/readyz" 60 "trainer-$i"; done
  set_env_line FLEAD_AGGREGATOR_URL "$url"
  set_env_line FLEAD_AGGREGATOR_TOKEN "$FLEAD_AGGREGATOR_TOKEN"
  echo "FLEAD stack: up; FLEAD_AGGREGATOR_URL=$url appended to .testbed/env"
  sleep "${STACK_SETTLE_SECONDS:-8}"
  "$REPO/.venv/bin/flead" status || true
}

down() {
  [[ -d "$STACK" ]] || { echo "FLEAD stack: nothing to stop"; return; }
  local f pid name
  for f in "$STACK"/producer.pid "$STACK"/trainer-*.pid "$STACK"/aggregator.pid; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f"); name=$(basename "$f" .pid)
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "  $name killed (did not stop in 20 s)"; else echo "  $name stopped"; fi
    fi
    rm -f "$f"
  done
  if [[ -f "$ENV_FILE" ]]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    if [[ -n "${PROMETHEUS_TARGETS_DIR:-}" ]]; then
      rm -f "$PROMETHEUS_TARGETS_DIR"/flead-producer-*.json "$PROMETHEUS_TARGETS_DIR"/flead-trainer-*.json \
        "$PROMETHEUS_TARGETS_DIR"/flead-aggregator-*.json
    fi
    local tmp
    tmp=$(mktemp)
    grep -v '^export FLEAD_AGGREGATOR_\(URL\|TOKEN\)=' "$ENV_FILE" >"$tmp" || true
    cat "$tmp" >"$ENV_FILE"; rm -f "$tmp"
  fi
  echo "FLEAD stack: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
