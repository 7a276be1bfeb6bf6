#!/usr/bin/env bash
# Build the local Docker images o2v's tests and simulators need, idempotently.
#
#   o2v-base:bookworm            Debian 12 minbase + python3 (debootstrap + docker import)
#   o2v-sim:<version>, :latest   `python3 -m o2v.simulate` on top of the base image
#   o2v-sim-vllm, o2v-sim-ollama the same with entrypoints that mimic vllm/vllm-openai and ollama/ollama
#   o2v-gateway:<version>        `o2v gateway` (the cutover gateway) on top of the base image
#
# Why local: no registry is reachable from the machines this runs on, so nothing can be pulled.
# An image that already exists is reused; the simulator image is rebuilt when the sources it
# runs changed (label o2v.source-hash). --force rebuilds both.
#
# usage: deployments/build-images.sh [--force] [--base-only]
#   env: PYTHON (default .venv/bin/python, else python3), DEBIAN_MIRROR (default deb.debian.org)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

force=0
base_only=0
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        --base-only) base_only=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "build-images.sh: unknown argument '$arg' (expected --force or --base-only)" >&2; exit 2 ;;
    esac
done

python=${PYTHON:-}
if [[ -z $python ]]; then
    if [[ -x $root/.venv/bin/python ]]; then python=$root/.venv/bin/python; else python=python3; fi
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_image=o2v-base:bookworm
log() { printf '[build-images] %s\n' "$*"; }

if ! docker info >/dev/null 2>&1; then
    echo "build-images.sh: no Docker engine answers (docker info failed); start dockerd first (bash .ci/run does)" >&2
    exit 1
fi

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
    if [[ $force == 0 ]] && image_exists "$base_image"; then
        log "$base_image exists, reusing it"
        return
    fi
    command -v debootstrap >/dev/null || {
        echo "build-images.sh: debootstrap is missing; apt-get install -y debootstrap" >&2; exit 1; }
    local rootfs
    rootfs=$(mktemp -d /tmp/o2v-base.XXXXXX)
    log "debootstrap bookworm (minbase) from $mirror into $rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" "$mirror" >/tmp/o2v-debootstrap.log 2>&1 || {
        echo "build-images.sh: debootstrap failed; last lines of /tmp/o2v-debootstrap.log:" >&2
        tail -n 20 /tmp/o2v-debootstrap.log >&2
        rm -rf "$rootfs"
        exit 1
    }
    # Keep the image small: no package lists, caches or docs.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    log "importing $rootfs as $base_image"
    tar --numeric-owner -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "o2v base: debootstrap --variant=minbase bookworm + python3" \
        - "$base_image" >/dev/null
    rm -rf "$rootfs"
    docker run --rm "$base_image" python3 -c "import sys, venv, ssl; print('python', sys.version.split()[0])"
}

source_hash() {
    # A short hash of every file under the given paths; an image's o2v.source-hash label holds it, so a
    # changed source rebuilds that image and an unchanged one is reused.
    {
        git -C "$root" ls-files -co --exclude-standard -- "$@" 2>/dev/null || find "$@" -type f
    } | LC_ALL=C sort | while read -r f; do [[ -f $f ]] && sha256sum "$f"; done | sha256sum | cut -c1-16
}

o2v_version() {
    "$python" -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])"
}

# Build o2v-NAME:<version> (also :latest) from deployments/images/NAME, unless that tag already carries HASH in
# its o2v.source-hash label; a fresh image must then start with SMOKE_ARGS.
# usage: build_image NAME HASH SMOKE_ARG...
build_image() {
    local name=$1 hash=$2 version tag current ctx
    shift 2
    version=$(o2v_version)
    tag=o2v-$name:$version
    if [[ $force == 0 ]] && image_exists "$tag"; then
        current=$(docker image inspect -f '{{ index .Config.Labels "o2v.source-hash" }}' "$tag" 2>/dev/null || true)
        if [[ $current == "$hash" ]]; then
            docker tag "$tag" "o2v-$name:latest"
            log "$tag exists for these sources ($hash), reusing it"
            return
        fi
        log "$tag exists but its sources changed ($current -> $hash), rebuilding"
    fi
    ctx=$root/build/images/$name
    log "collecting wheels into $ctx"
    bash "$root/deployments/images/context.sh" "$name" "$python" "$root" "$ctx"
    log "building $tag"
    DOCKER_BUILDKIT=0 docker build --quiet --network=none \
        --build-arg BASE_IMAGE="$base_image" --build-arg O2V_VERSION="$version" --build-arg SOURCE_HASH="$hash" \
        -t "$tag" -t "o2v-$name:latest" "$ctx" >/dev/null
    docker run --rm "$tag" "$@" >/dev/null
    log "$tag ready (also tagged o2v-$name:latest)"
}

build_sim() {
    [[ -f $root/o2v/simulate/__main__.py ]] || {
        echo "build-images.sh: o2v/simulate/__main__.py is missing, so there is no simulator to put in o2v-sim" >&2
        exit 1; }
    # Everything the simulator image runs or is built from.
    build_image sim "$(source_hash o2v/simulate o2v/errors.py o2v/event_loop.py o2v/__init__.py pyproject.toml \
        deployments/images/sim deployments/images/context.sh)" --help
}

build_entrypoint_tags() {
    # Thin images whose entrypoint mimics the real servers', so a deploy spec works unchanged on them:
    # o2v-sim-vllm behaves like vllm/vllm-openai (`vllm serve` args, port 8000), o2v-sim-ollama like ollama/ollama.
    local version
    version=$(o2v_version)
    printf 'FROM o2v-sim:%s\nENTRYPOINT ["python3", "-m", "o2v.simulate", "vllm"]\nCMD ["--host", "0.0.0.0", "--port", "8000"]\n' \
        "$version" | DOCKER_BUILDKIT=0 docker build --quiet -t "o2v-sim-vllm:$version" -t o2v-sim-vllm:latest - >/dev/null
    printf 'FROM o2v-sim:%s\nENTRYPOINT ["python3", "-m", "o2v.simulate", "ollama", "--host", "0.0.0.0", "--port", "11434"]\nCMD []\n' \
        "$version" | DOCKER_BUILDKIT=0 docker build --quiet -t "o2v-sim-ollama:$version" -t o2v-sim-ollama:latest - >/dev/null
    log "o2v-sim-vllm:$version and o2v-sim-ollama:$version ready"
}

build_gateway() {
    build_image gateway "$(source_hash o2v pyproject.toml deployments/images/gateway deployments/images/context.sh)" \
        gateway --help
}

build_base
if [[ $base_only == 0 ]]; then
    build_sim
    build_entrypoint_tags
    build_gateway
fi
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^o2v-(base|sim|sim-vllm|sim-ollama|gateway):' || true
