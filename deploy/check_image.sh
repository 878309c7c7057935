#!/usr/bin/env bash
# Build the serving image with podman and check it: it starts as a user other than root, has no
# TensorFlow, turns /readyz 200 and reads a drawing at /predict/. Prints the image's size and
# the seconds from `podman run` to /readyz 200. About 3-5 minutes the first time (pip installs
# the dependencies), under one after; not part of `make test`.
#
#   deploy/check_image.sh                     # base: localhost/digitpad-base:bookworm, made here
#   BASE=python:3.11-slim deploy/check_image.sh   # where a registry can be reached
#
# Where crun cannot set limits (setrlimit not permitted, hybrid cgroups), runc and no default
# ulimits: deploy/podman/containers.conf. With no registry the base image is built from
# Debian's packages with debootstrap (Python 3.11 of bookworm). Behind a proxy that re-signs
# TLS, PIP_CERT (the CA bundle pip uses here) is passed to the build as a secret.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
IMAGE="${IMAGE:-localhost/digitpad:serve}"
BASE="${BASE:-localhost/digitpad-base:bookworm}"
PORT="${PORT:-18080}"
NAME="digitpad-check-$$"

source deploy/lib.sh
ensure_base_image "$BASE"
started=$(date +%s)
build_image "$IMAGE" "$BASE" --target serve
echo "built $IMAGE in $(( $(date +%s) - started )) s on $BASE"
echo "image size: $(image_mb "$IMAGE") MB ($(image_mb "$BASE") MB of it the base)"

trap 'podman rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
t0=$(date +%s.%N)
podman run -d --no-healthcheck --name "$NAME" -p "127.0.0.1:$PORT:8000" -e WEB_CONCURRENCY=2 "$IMAGE" >/dev/null
until curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz"; do
    if [ "$(echo "$(date +%s.%N) - $t0 > 120" | bc)" = 1 ]; then
        podman logs "$NAME" | tail -30; echo "not ready within 120 s"; exit 1
    fi
    sleep 0.1
done
echo "ready: /readyz 200 $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s after podman run"

echo "user: $(podman exec "$NAME" id -un) (uid $(podman exec "$NAME" id -u))"
[ "$(podman exec "$NAME" id -u)" != 0 ] || { echo "runs as root"; exit 1; }
if podman exec "$NAME" python3 -c "import tensorflow" 2>/dev/null; then echo "TensorFlow is in the image"; exit 1; fi
echo "TensorFlow: not in the image"

drawing=$(mktemp --suffix=.png)
write_digit_png "$drawing"
answer=$(curl -fs -H 'Content-Type: image/png' --data-binary "@$drawing" "http://127.0.0.1:$PORT/predict/")
rm -f "$drawing"
echo "/predict/: $(echo "$answer" | python3 -c 'import json, sys; a = json.load(sys.stdin); print("digit", a["digit"], "confidence", round(a["confidence"], 3), "model", a["model_version"])')"
[ "$(echo "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["digit"])')" = 7 ]
echo "ok"
