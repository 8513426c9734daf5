#!/usr/bin/env bash
# The README's test command (and CI's): set up (with the Spark extra and a Java runtime, for the
# DuckDB/Spark parity test), lint, then every test: pytest runs the Python tests, which build the
# dbt project on generated data (dbt unit tests, data tests, known answers) on DuckDB and Spark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_java.sh
bash scripts/ensure_browser.sh  # Chromium + Japanese fonts for the headless dashboard test
bash scripts/setup.sh --extra spark
echo "[test] ruff"
.venv/bin/ruff check orchestration
echo "[test] pytest"
exec .venv/bin/python -m pytest "$@"
