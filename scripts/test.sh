#!/usr/bin/env bash
# The README's test command (and CI's): set up, lint, then every test: pytest runs the Python
# tests, which build the dbt project on generated data (dbt unit tests, data tests, known answers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "[test] ruff"
.venv/bin/ruff check orchestration
echo "[test] pytest"
exec .venv/bin/python -m pytest "$@"
