#!/usr/bin/env bash
# Bring compose.yaml up with podman where no registry can be reached, and check it through nginx:
# PostgreSQL, Redis and nginx built from Debian bookworm's packages (deploy/images/, on the base
# deploy/check_image.sh makes), the serving image, podman-compose 1.6.0 (in a venv of its own).
# Checks: the migration job exits 0, three servers healthy, /readyz 200 through nginx, a drawing
# of a 7 read as 7 at /predict/, a correction stored (`flask corrections stats --json` in web1);
# then everything is taken down, volumes too. Prints each step's seconds, the images' sizes and
# the seconds from `up` to /readyz 200. Not part of `make test`.
#
#   deploy/check_compose.sh          # published on 127.0.0.1:18090 (PORT=...)
#   UP=plain deploy/check_compose.sh # one `podman-compose up -d` (podman >= 4.6 with systemd)
#
# UP=staged (the default on podman < 4.6 or without systemd) starts the services one stage at a
# time with --no-deps, doing what compose's depends_on conditions say: podman 4.3 fails to start
# a container whose --requires has its own (`generating dependency graph ... not found in input
# list`), podman-compose ignores service_healthy before podman 4.6, and without systemd podman
# runs no healthchecks by itself (here `podman healthcheck run` is asked instead).
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}"
source deploy/lib.sh
BASE="${BASE:-localhost/digitpad-base:bookworm}"
PORT="${PORT:-18090}"
PROJECT="digitpad-check-$$"
COMPOSE_VENV="${COMPOSE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/digitpad/podman-compose-1.6.0}"

step_start=0
step() { step_start=$(date +%s.%N); printf '%-44s' "$1"; }
done_() { printf '%6.1f s  %s\n' "$(echo "$(date +%s.%N) - $step_start" | bc)" "${1:-}"; }
fail() { echo; echo "FAILED: $*"; exit 1; }

step "podman-compose 1.6.0 (venv)"
if [ ! -x "$COMPOSE_VENV/bin/podman-compose" ]; then
    python3 -m venv "$COMPOSE_VENV"
    "$COMPOSE_VENV/bin/pip" install --quiet --disable-pip-version-check podman-compose==1.6.0 >"$COMPOSE_VENV/pip.log" 2>&1 \
        || { cat "$COMPOSE_VENV/pip.log"; fail "pip install podman-compose==1.6.0"; }
fi
compose() { "$COMPOSE_VENV/bin/podman-compose" -p "$PROJECT" "$@"; }
done_ "$COMPOSE_VENV"

step "base image ($BASE)"
ensure_base_image "$BASE"
done_

step "app image (localhost/digitpad:serve)"
build_image localhost/digitpad:serve "$BASE" --target serve
done_
for service in postgres redis nginx; do
    step "$service image (localhost/digitpad-$service)"
    build_image "localhost/digitpad-$service:bookworm" "$BASE" -f "deploy/images/$service.Dockerfile"
    done_
done
echo "sizes: base $(image_mb "$BASE") MB, app $(image_mb localhost/digitpad:serve) MB," \
     "postgres $(image_mb localhost/digitpad-postgres:bookworm) MB, redis $(image_mb localhost/digitpad-redis:bookworm) MB," \
     "nginx $(image_mb localhost/digitpad-nginx:bookworm) MB (each includes the base)"

export POSTGRES_IMAGE=localhost/digitpad-postgres:bookworm REDIS_IMAGE=localhost/digitpad-redis:bookworm \
       NGINX_IMAGE=localhost/digitpad-nginx:bookworm DIGITPAD_PORT="$PORT"
export DIGITPAD_CLIENT_SALT="${DIGITPAD_CLIENT_SALT:-$(python3 -c "import secrets; print(secrets.token_hex(32))")}"
teardown() {
    local t0; t0=$(date +%s.%N)
    compose down -v >/dev/null 2>&1 || true
    printf '%-44s%6.1f s\n' "down -v" "$(echo "$(date +%s.%N) - $t0" | bc)"
}
trap teardown EXIT

podman_version=$(podman version --format '{{.Client.Version}}')
if [ -z "${UP:-}" ]; then
    if [ -S /run/systemd/private ] && [ "$(printf '4.6.0\n%s\n' "$podman_version" | sort -V | head -1)" = 4.6.0 ]; then
        UP=plain; else UP=staged; fi
fi
c() { echo "${PROJECT}_$1_1"; }
healthy() { podman healthcheck run "$(c "$1")" >/dev/null 2>&1; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local limit="$1" what="$2"; shift 2
    local t0; t0=$(date +%s)
    until "$@"; do
        [ $(( $(date +%s) - t0 )) -lt "$limit" ] || fail "$what not within $limit s"
        sleep 0.5
    done
}
exited() { [ "$(podman inspect --format '{{.State.Status}}' "$(c "$1")")" = exited ]; }
readyz() { curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz"; }

echo "up ($UP, podman $podman_version, project $PROJECT, 127.0.0.1:$PORT)"
up_start=$(date +%s.%N)
if [ "$UP" = plain ]; then
    step "  podman-compose up -d"
    compose up -d >"/tmp/$PROJECT-up.log" 2>&1 || { tail -20 "/tmp/$PROJECT-up.log"; fail "up"; }
    done_
else
    step "  postgres, redis: up, healthy"
    compose up -d --no-deps postgres redis >"/tmp/$PROJECT-up.log" 2>&1 || { tail -20 "/tmp/$PROJECT-up.log"; fail "up postgres redis"; }
    wait_for 60 "postgres healthy" healthy postgres
    wait_for 60 "redis healthy" healthy redis
    done_
    step "  migrate: exited 0"
    compose up -d --no-deps migrate >>"/tmp/$PROJECT-up.log" 2>&1 || fail "up migrate"
    wait_for 120 "migrate exited" exited migrate
    [ "$(podman inspect --format '{{.State.ExitCode}}' "$(c migrate)")" = 0 ] \
        || { podman logs "$(c migrate)" | tail -20; fail "migrate exited $(podman inspect --format '{{.State.ExitCode}}' "$(c migrate)")"; }
    done_
    step "  web1-3, nginx: up"
    compose up -d --no-deps web1 web2 web3 nginx >>"/tmp/$PROJECT-up.log" 2>&1 || { tail -20 "/tmp/$PROJECT-up.log"; fail "up web nginx"; }
    done_
fi
step "  /readyz 200 through nginx"
wait_for 180 "/readyz 200 through nginx" readyz
done_
printf '%-44s%6.1f s\n' "up -> /readyz 200 through nginx" "$(echo "$(date +%s.%N) - $up_start" | bc)"
step "  web1-3 healthy (their healthcheck)"
for web in web1 web2 web3; do wait_for 180 "$web healthy" healthy "$web"; done
done_
printf '%-44s%6.1f s\n' "up -> all three servers healthy" "$(echo "$(date +%s.%N) - $up_start" | bc)"
podman ps --filter "name=^${PROJECT}_" --format '    {{.Names}}  {{.Status}}' -a

drawing=$(mktemp --suffix=.png)
write_digit_png "$drawing"
step "POST /predict/ through nginx"
answer=$(curl -fsS -H 'Content-Type: image/png' --data-binary "@$drawing" "http://127.0.0.1:$PORT/predict/") || fail "/predict/"
done_ "$(echo "$answer" | python3 -c 'import json, sys; a = json.load(sys.stdin); print("digit", a["digit"], "confidence", round(a["confidence"], 3), "model", a["model_version"])')"
[ "$(echo "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["digit"])')" = 7 ] || fail "not read as 7: $answer"

step "POST /api/corrections through nginx"
body=$(python3 -c 'import base64, json, sys; print(json.dumps({"image": "data:image/png;base64," + base64.b64encode(open(sys.argv[1], "rb").read()).decode(), "label": 7, "kind": "right"}))' "$drawing")
stored=$(curl -sS -w '\n%{http_code}' -H 'Content-Type: application/json' -H "Sec-Fetch-Site: same-origin" \
    --data-binary "$body" "http://127.0.0.1:$PORT/api/corrections")
rm -f "$drawing"
code=$(echo "$stored" | tail -1); stored=$(echo "$stored" | sed '$d')
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "/api/corrections answered $code: $stored"
done_ "$code $stored"

step "stored: corrections stats --json (web1)"
stats=$(podman exec "$(c web1)" flask --app app corrections stats --json 2>/dev/null | tail -1)
echo "$stats" | python3 -c 'import json, sys; s = json.load(sys.stdin); assert s["total"] >= 1 and s["by_label"].get("7", 0) >= 1, s' \
    || fail "no correction labelled 7 in the database: $stats"
done_ "$(echo "$stats" | python3 -c 'import json, sys; s = json.load(sys.stdin); print("total", s["total"], "by_label", s["by_label"], "by_kind", s["by_kind"])')"
echo "ok"
