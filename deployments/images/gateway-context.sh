#!/usr/bin/env bash
# Fill a Docker build context for the gateway image with every wheel it needs (see sim-context.sh for why:
# containers cannot reach PyPI while an image builds here). Versions follow the host's environment.
#
# usage: gateway-context.sh PYTHON REPO_ROOT CONTEXT_DIR
set -euo pipefail

python=$1
root=$2
ctx=$3

rm -rf "$ctx"
mkdir -p "$ctx/wheels"
cp "$root/deployments/images/gateway/Dockerfile" "$ctx/Dockerfile"

# What `o2v gateway` imports, pinned to the host venv's versions.
"$python" - >"$ctx/wheels/requirements.txt" <<'PY'
from importlib.metadata import PackageNotFoundError, version

for name in ("aiohttp", "pydantic", "pydantic-core", "pydantic-settings", "PyYAML", "SQLAlchemy", "psycopg",
             "psycopg-binary", "orjson", "prometheus-client", "uvloop", "httptools", "typer", "rich", "httpx"):
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)
PY

piplog=$ctx/pip.log
"$python" -m pip download --quiet --disable-pip-version-check \
    --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$ctx/wheels" -r "$ctx/wheels/requirements.txt" >"$piplog" 2>&1 \
    || { echo "gateway-context.sh: pip download failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }

"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$ctx/wheels" "$root" >>"$piplog" 2>&1 \
    || { echo "gateway-context.sh: building the o2v wheel failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }
ls "$ctx"/wheels/o2v-*.whl >/dev/null
rm -rf "$root/build/lib" "$root"/build/bdist.*
