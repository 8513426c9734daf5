#!/usr/bin/env bash
# Creates .venv with the exact versions of uv.lock. Needs only Python 3.11 and the package index.
# Extra arguments go to `uv sync` (e.g. --extra spark).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    echo "error: Python 3.11 is required (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
UV_VERSION=0.13.8
if [ ! -x .tools/uv/bin/uv ]; then
    echo "[setup] installing uv ${UV_VERSION} into .tools/uv"
    "$PY" -m venv .tools/uv
    .tools/uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
export UV_PYTHON_DOWNLOADS=never
echo "[setup] syncing .venv from uv.lock"
# --compile-bytecode: write every package's .pyc now (about 12 s once, then under a second).
# Python writes them lazily on first import, except where PYTHONDONTWRITEBYTECODE is set (as on
# the machines this project is developed on); without them every process compiles dagster, dbt and GX again:
# a small shop's daily run took 50 s instead of 39 s (decision 104).
# A .venv that has the Spark extra (./scripts/test.sh installs it) keeps it: an exact sync without
# it would uninstall pyspark, and the next test run would install it again.
KEEP=()
if [ -d .venv/lib/python3.11/site-packages/pyspark ] && [[ " $* " != *" spark "* ]]; then
    KEEP=(--extra spark)
fi
.tools/uv/bin/uv sync --frozen --python "$PY" --quiet --compile-bytecode ${KEEP[@]+"${KEEP[@]}"} "$@"
# Prepare the dbt manifest before the Dagster code location loads (it is never parsed at import).
echo "[setup] dbt parse (manifest for Dagster)"
DBT_SEND_ANONYMOUS_USAGE_STATS=false .venv/bin/dbt parse --project-dir . --profiles-dir profiles --quiet
