#!/usr/bin/env bash
# skaffold's custom builder for the profile local-registry (skaffold.yaml): builds one FLEAD image
# with scripts/images.sh (podman/buildah when no Docker engine answers; the shared base and the
# layer cache as `make images` uses them) and pushes it when skaffold asks.
#
# skaffold sets IMAGE (e.g. 192.0.2.2:15000/flead-trainer:2f1c...) and PUSH_IMAGE (true/false).
# A registry listed in SKAFFOLD_INSECURE_REGISTRY (skaffold's own setting, comma-separated) is pushed
# to over plain http (IMAGE_PUSH_TLS_VERIFY=false), as skaffold itself then talks to it.
set -euo pipefail

: "${IMAGE:?IMAGE is set by skaffold (custom builder)}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo=${IMAGE%:*}        # 192.0.2.2:15000/flead-trainer
tag=${IMAGE##*:}        # 2f1c...
name=${repo##*/}        # flead-trainer
component=${name#flead-}
registry=${repo%/*}     # 192.0.2.2:15000 ("" when the image has no registry part)
[[ $registry == "$repo" ]] && registry=
[[ $name == flead-* && $tag != "$IMAGE" ]] || {
  echo "skaffold-build: cannot read a FLEAD image from IMAGE=$IMAGE" >&2
  exit 2
}

export IMAGE_REGISTRY=$registry IMAGE_TAG=$tag
if [[ -n $registry && ",${SKAFFOLD_INSECURE_REGISTRY:-}," == *",$registry,"* ]]; then
  export IMAGE_PUSH_TLS_VERIFY=false
fi
# skaffold runs the pods; the image smoke test is for `make images` (IMAGES_SMOKE=1 to keep it).
export IMAGES_SMOKE=${IMAGES_SMOKE:-0}
"$ROOT/scripts/images.sh" build "$component"
if [[ ${PUSH_IMAGE:-false} == true ]]; then
  "$ROOT/scripts/images.sh" push "$component"
fi
