#!/usr/bin/env bash
# The README's test command (and CI's): set up (with the Spark extra and a Java runtime, for the
# whole job on Spark compared with DuckDB), lint (ruff, ruff format, SQLFluff), then every test: pytest runs the
# Python tests, which build the dbt project on generated data (dbt unit tests, data tests, known
# answers) on DuckDB and Spark.
#   ./scripts/test.sh --fast   the fast loop: ruff, then every test not marked slow (a few minutes)
#   ./scripts/test.sh -k name  extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=0
if [ "${1:-}" = "--fast" ]; then
    FAST=1
    shift
fi
if [ "$FAST" = 0 ]; then
    bash scripts/ensure_java.sh
    bash scripts/ensure_browser.sh  # Chromium + Japanese fonts for the headless dashboard test
fi
bash scripts/setup.sh --extra spark
echo "[test] ruff check, ruff format --check"
.venv/bin/ruff check orchestration dashboard
.venv/bin/ruff format --check orchestration dashboard
if [ "$FAST" = 0 ]; then  # about 3 minutes on 2 cores: the full command only
    echo "[test] sqlfluff lint models tests"
    # the dbt templater compiles the project against a scratch warehouse, never the shop's, into a
    # target folder of its own (target/ keeps the manifests Dagster and MetricFlow read)
    LINT_DIR="$(mktemp -d)"
    CRM_DUCKDB_PATH="$LINT_DIR/lint.duckdb" DBT_TARGET_PATH="$LINT_DIR/target" \
        .venv/bin/sqlfluff lint models tests --processes 2 \
        --disable-progress-bar > "$LINT_DIR/sqlfluff.log" 2>&1 || { tail -40 "$LINT_DIR/sqlfluff.log"; exit 1; }
    grep -E "^(==|L:)" "$LINT_DIR/sqlfluff.log" || echo "SQLFluff: no violations"
fi
# Test modules run on CRM_TEST_PROCESSES processes (2 by default: CI has two cores), a module's tests
# together on one (pytest-xdist --dist loadfile), the longest first (conftest.py's LONGEST_FIRST, kept
# by --no-loadscope-reorder); CRM_TEST_PROCESSES=0 runs them in this process.
PARALLEL=(-n "${CRM_TEST_PROCESSES:-2}" --dist loadfile --no-loadscope-reorder)
echo "[test] pytest (${CRM_TEST_PROCESSES:-2} processes)"
if [ "$FAST" = 1 ]; then
    exec .venv/bin/python -m pytest "${PARALLEL[@]}" -m "not slow" "$@"
fi
exec .venv/bin/python -m pytest "${PARALLEL[@]}" --durations=15 "$@"
