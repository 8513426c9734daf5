"""Shared fixtures: a small generated warehouse built once per test session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

# A pytest-xdist process's main module has no file; pyspark's Spark Connect client, imported by
# Great Expectations, takes such a process for its own doctests and exits. Name the file.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "pytest-xdist worker"

from orchestration.dbt import dbt_command
from orchestration.ingest.load import ingest, raw_zone
from orchestration.settings import PROJECT_DIR
from orchestration.tools.generate import generate

# The fast loop (`./scripts/test.sh --fast`, pytest -m "not slow") leaves out the modules that run
# the whole Dagster job, build more than the one shared shop, start a browser or Spark: the rest
# covers every layer (settings, contract, ingest, dbt models and their unit tests, fits, activation,
# publish) on the one shared warehouse.
SLOW_MODULES = {
    "test_dagster",
    "test_spark_job",
    "test_dashboard",
    "test_benchmark",
    "test_incremental",
    "test_shop_settings_run",
    "test_subscriptions",
    "test_publish_compat",
    "test_semantic_layer",
    "test_files",
    "test_runs",
    "test_values",
    "test_predict_pipeline",
    "test_privacy",
    "test_consent",
    "test_operations",
    "test_clv_day_to_day",
}


# The test command runs modules on two processes (pytest-xdist, --dist loadfile, --no-loadscope-reorder:
# by default xdist would queue the modules by their number of tests instead): the longest modules go
# first, so that neither process is left with one of them at the end. The order follows the
# test command's `--durations` (fixture set-up included).
LONGEST_FIRST = [
    "test_runs",
    "test_spark_job",
    "test_dagster",
    "test_incremental",
    "test_subscriptions",
    "test_mapping",
    "test_benchmark",
    "test_activation",
    "test_dashboard",
    "test_privacy",
    "test_shop_settings_run",
    "test_consent",
    "test_files",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _module(item) in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item), len(rank)))  # stable: the rest keep their order


def _module(item: pytest.Item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1]


# Each test process keeps its own dbt target and log folders: two dbt commands never write the same
# manifest or log (a Dagster run's dbt steps have a target folder per run already).
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("DBT_TARGET_PATH", str(PROJECT_DIR / "target" / f"pytest-{worker}"))
    os.environ.setdefault("DBT_LOG_PATH", str(PROJECT_DIR / "logs" / f"pytest-{worker}"))


START = date(2023, 7, 1)
END = date(2025, 6, 30)
AS_OF = "2025-06-30"


def dbt(db: Path, args: list[str], vars_: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run dbt against the DuckDB file ``db``; on failure show dbt's output."""
    env = dict(os.environ)
    env.update(
        CRM_DUCKDB_PATH=str(db),
        CRM_DUCKDB_TEMP_DIR=str(db.parent / "tmp"),
        DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        CRM_THREADS="2",
        CRM_DUCKDB_MEMORY_LIMIT="4GB",
    )
    proc = subprocess.run(
        dbt_command(args, vars_),
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-2000:]}")
    return proc


def copy_warehouse(src: Path, dst: Path) -> Path:
    """A copy of a warehouse: the DuckDB file and its raw zone (decision 146). Its raw views read the
    source's zone until an ingest opens the copy."""
    shutil.copy(src, dst)
    if raw_zone(src).is_dir():
        shutil.copytree(raw_zone(src), raw_zone(dst))
    return dst


def query(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def mart_snapshot(db: Path) -> dict[str, pd.DataFrame]:
    """Every table of schema marts, sorted by all columns, for exact comparison."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        out = {}
        for name in names:
            df = con.execute(f"select * from marts.{name}").df()
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
        return out
    finally:
        con.close()


@dataclass
class Warehouse:
    root: Path
    landing: Path
    db: Path
    planted: dict
    as_of: str


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("warehouse")
    landing = root / "landing"
    planted = generate(landing, customers=1200, start=START, end=END, seed=7, bad_share=0.003)
    db = root / "warehouse.duckdb"
    ingest(landing, db, verbose=False)
    build_with_fits(db, AS_OF)
    return Warehouse(root, landing, db, planted, AS_OF)


def build_with_fits(db: Path, as_of: str, extra_vars: dict | None = None) -> None:
    """What the Dagster job does, without Dagster: dbt build, the model fits, then the models that
    read them (`python -m orchestration.predict fit` between two dbt builds)."""
    from orchestration.predict.fit import fit_warehouse
    from orchestration.predict.sbg import fit_and_store

    vars_ = {"as_of_date": as_of, **(extra_vars or {})}
    dbt(db, ["build"], vars_)
    fit_warehouse(db, date.fromisoformat(as_of))
    fit_and_store(db, as_of)
    dbt(db, ["build", "--select", "tag:fitted_parameters+"], vars_)


def docs_site_manifest(index: Path) -> dict:
    """The manifest a published dbt docs site (a single ``index.html``) embeds: dbt's page holds it
    as ``{manifest:<json>,catalog:<json>}``."""
    html = index.read_text()
    manifest, _ = json.JSONDecoder().raw_decode(html, html.index("{manifest:") + len("{manifest:"))
    return manifest
