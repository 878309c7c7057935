# Shared by deploy/check_image.sh and deploy/check_compose.sh (source it from the repository root).

# The Debian bookworm base (Python 3.11 as python3), made from Debian's packages with debootstrap
# where no registry can be reached; kept between runs. Does nothing for any other BASE.
ensure_base_image() {
    local base="$1" root
    if [ "$base" = localhost/digitpad-base:bookworm ] && ! podman image exists "$base"; then
        root=$(mktemp -d /tmp/digitpad-base-XXXXXX)
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root/rootfs" \
            http://deb.debian.org/debian >"$root/debootstrap.log"
        rm -rf "$root"/rootfs/var/cache/apt/archives/*.deb "$root"/rootfs/var/lib/apt/lists/*
        tar -C "$root/rootfs" -c . | podman import - "$base" >/dev/null
        rm -rf "$root"
    fi
}

# podman build with the base as BASE, quietly; PIP_CERT (a CA bundle) goes in as a secret.
#   build_image IMAGE BASE [podman build arguments...]
build_image() {
    local image="$1" base="$2"; shift 2
    local secret=()
    if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then secret=(--secret "id=pip_cert,src=$PIP_CERT"); fi
    podman build --quiet --format docker --build-arg "BASE=$base" "${secret[@]}" -t "$image" "$@" . >/dev/null
}

# A 7 drawn in black on white, 280 x 280, written as a PNG with the standard library only.
write_digit_png() {
    python3 - "$1" <<'PY'
import sys, zlib, struct
w = h = 280
rows = []
for y in range(h):
    row = bytearray([0]) + bytearray([255] * w)
    for x in range(w):
        if 50 <= y < 68 and 60 <= x < 220 or (y >= 50 and abs(x - (220 - (y - 50) * 0.45)) < 10 and y < 250):
            row[1 + x] = 0
    rows.append(bytes(row))
chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
}

# Megabytes, as podman counts an image's size.
image_mb() { echo $(( $(podman image inspect --format '{{.Size}}' "$1") / 1000000 )); }
