#!/usr/bin/env bash
# Fill a Docker build context for the simulator image with every wheel it needs.
#
# Why: containers cannot reach PyPI while an image builds here, so the host downloads the
# wheels (Debian 12's python3 is 3.11, like the host's) and the Dockerfile installs them
# with `pip install --no-index`. Versions follow the host's environment, so the simulator
# in the image runs the same aiohttp / pydantic / PyYAML as the tests.
#
# usage: sim-context.sh PYTHON REPO_ROOT CONTEXT_DIR
set -euo pipefail

python=$1
root=$2
ctx=$3

rm -rf "$ctx"
mkdir -p "$ctx/wheels"
cp "$root/deployments/images/sim/Dockerfile" "$ctx/Dockerfile"

# Pin to what the host venv runs, when those packages are installed there.
pins=$("$python" - <<'PY'
from importlib.metadata import PackageNotFoundError, version

for name in ("aiohttp", "pydantic", "pydantic-core", "PyYAML"):
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        print(name)
PY
)
printf '%s\n' "$pins" > "$ctx/wheels/requirements.txt"

piplog=$ctx/pip.log
"$python" -m pip download --quiet --disable-pip-version-check \
    --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$ctx/wheels" -r "$ctx/wheels/requirements.txt" >"$piplog" 2>&1 \
    || { echo "sim-context.sh: pip download failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }

"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$ctx/wheels" "$root" >>"$piplog" 2>&1 \
    || { echo "sim-context.sh: building the o2v wheel failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }
ls "$ctx"/wheels/o2v-*.whl >/dev/null
# setuptools builds in the source tree; leave no build/lib behind for ruff, mypy or the next wheel to trip on.
rm -rf "$root/build/lib" "$root"/build/bdist.*
