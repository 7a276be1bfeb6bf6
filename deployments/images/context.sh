#!/usr/bin/env bash
# Fill a Docker build context for one of o2v's images with every wheel it needs.
#
# Why: containers cannot reach PyPI while an image builds here, so the host downloads the
# wheels (Debian 12's python3 is 3.11, like the host's) and the Dockerfile installs them
# with `pip install --no-index`. Versions follow the host's environment, so the image runs
# the same aiohttp / pydantic / PyYAML as the tests.
#
# usage: context.sh IMAGE PYTHON REPO_ROOT CONTEXT_DIR
#   IMAGE: a folder of deployments/images/ with a Dockerfile and packages.txt, the distributions that
#   image's part of o2v imports (one a line); the o2v wheel itself goes in with --no-deps.
set -euo pipefail

image=$1
python=$2
root=$3
ctx=$4
src=$root/deployments/images/$image

rm -rf "$ctx"
mkdir -p "$ctx/wheels"
cp "$src/Dockerfile" "$ctx/Dockerfile"

# Pin to what the host venv runs, when those packages are installed there.
"$python" - "$src/packages.txt" >"$ctx/wheels/requirements.txt" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

with open(sys.argv[1]) as listing:
    names = [line.split("#")[0].strip() for line in listing]
for name in filter(None, names):
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
    || { echo "context.sh $image: pip download failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }

"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$ctx/wheels" "$root" >>"$piplog" 2>&1 \
    || { echo "context.sh $image: building the o2v wheel failed:" >&2; tail -n 20 "$piplog" >&2; exit 1; }
ls "$ctx"/wheels/o2v-*.whl >/dev/null
# setuptools builds in the source tree; leave no build/lib behind for ruff, mypy or the next wheel to trip on.
rm -rf "$root/build/lib" "$root"/build/bdist.*
