"""The one way this project runs dbt: its environment, its vars and its command line, from the
shop's settings (orchestration/settings.py). The Dagster resource over it is in
orchestration/pipeline/resources.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestration.settings import PROJECT_DIR, settings

DBT_PROFILES_DIR = PROJECT_DIR / "profiles"

# What the daily job adds to `dbt build` (decision 90): no unit tests. Their inputs are fixed
# rows, so they can only fail when the project's code changes, which CI checks; a scheduled run
# would spend the same seconds each day proving it again. The benchmark times the same command.
SCHEDULED_BUILD_FLAGS = ("--exclude-resource-type", "unit_test")

# dbt's target folders of the Dagster runs: one folder per run, one per dbt command (and attempt) in it
DBT_RUN_TARGETS = PROJECT_DIR / "target" / "dagster"
DBT_SAVED_PARSE = "partial_parse.msgpack"


def dbt_vars(**run_vars: Any) -> dict[str, Any]:
    """The vars of a dbt command: the shop's settings, then the run's own (``as_of_date``)."""
    return {**settings().dbt_vars(), **run_vars}


def dbt_vars_arg(**run_vars: Any) -> list[str]:
    return ["--vars", json.dumps(dbt_vars(**run_vars), default=str)]  # JSON is YAML


def dbt_env(database: str | Path | None = None, publish: str | Path | None = None) -> dict[str, str]:
    """The environment of a dbt process so that profiles/profiles.yml points at this shop's warehouse
    (or ``database`` / ``publish``, as a Dagster resource names them), spilling where the settings say."""
    s = settings()
    database = database or s.warehouse_path
    temp = s.temp_dir_for(database)
    temp.mkdir(parents=True, exist_ok=True)
    return {
        **spark_env(),
        "CRM_DUCKDB_PATH": str(database),
        "CRM_DUCKDB_TEMP_DIR": str(temp),
        "CRM_PUBLISH_DIR": str(publish or s.publish_dir),
        "DBT_PROFILES_DIR": str(DBT_PROFILES_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_INDIRECT_SELECTION": "eager",
    }


def spark_env() -> dict[str, str]:
    """The dbt target of the shop's settings (profiles/profiles.yml) and, on Spark, where it runs."""
    s = settings()
    if s.target != "spark":
        return {"CRM_TARGET": "duckdb"}
    env = {
        "CRM_TARGET": "spark",
        "CRM_SPARK_DIR": str(s.spark.warehouse_dir),
        "CRM_SPARK_MASTER": s.spark.master,
        "CRM_SPARK_EXECUTOR_MEMORY": s.spark.executor_memory,
        "CRM_SPARK_DRIVER_MEMORY": s.spark.driver_memory,
        "CRM_SPARK_SHUFFLE_PARTITIONS": str(s.spark.shuffle_partitions),
    }
    if s.spark.thrift:
        env.update(CRM_TARGET="spark_thrift", CRM_SPARK_HOST=s.spark.thrift[0], CRM_SPARK_PORT=str(s.spark.thrift[1]))
    return env


@contextmanager
def dbt_environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set for the dbt processes started inside (dagster-dbt's resource reads the process
    environment), and the process's own values put back afterwards, so that one step's warehouse
    never becomes a later settings read's override in the same process."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_executable() -> str:
    """dbt from this environment (the venv may not be on PATH)."""
    local = Path(sys.prefix) / "bin" / "dbt"
    return str(local) if local.exists() else "dbt"


def dbt_command(args: list[str], vars_: dict | None = None) -> list[str]:
    """A dbt command line on this project with the shop's vars (and ``vars_``)."""
    return [
        dbt_executable(),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        *dbt_vars_arg(**(vars_ or {})),
    ]


def run_dbt(args: list[str], vars_: dict | None = None) -> int:
    cmd = dbt_command(args, vars_)
    print(f"[dbt] {' '.join(cmd)}", flush=True)
    return subprocess.call(cmd, cwd=PROJECT_DIR, env=dict(os.environ, **dbt_env()))


def dbt_run_files(run_id: str, name: str) -> list[Path]:
    """A file the dbt commands of a Dagster run wrote (run_results.json, partial_parse.msgpack), one
    per command that wrote it, oldest first."""
    return sorted((DBT_RUN_TARGETS / run_id).glob(f"*/{name}"), key=lambda p: p.stat().st_mtime)


def use_saved_parse(saved: Path | None, target: Path) -> None:
    """Start a dbt command in ``target`` from a parse saved with the same vars, profile and files,
    so dbt re-parses only what changed (decision 103). A target that has a parse keeps it."""
    if saved is not None and saved.exists() and not (target / DBT_SAVED_PARSE).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(saved, target / DBT_SAVED_PARSE)


def run_dbt_in(
    folder: Path, args: list[str], vars_: dict | None, env: dict[str, str], parse: Path | None = None
) -> None:
    """One dbt command whose files and log go into ``folder`` (``--target-path``, ``--log-path``),
    started from ``parse`` (``use_saved_parse``), in the process environment plus ``env``. Raises
    with the end of dbt's output when it fails."""
    use_saved_parse(parse, folder)
    cmd = dbt_command([*args, "--target-path", str(folder), "--log-path", str(folder)], vars_)
    proc = subprocess.run(
        cmd, cwd=PROJECT_DIR, env=dict(os.environ, **env), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")


def ensure_manifest() -> None:
    """The dbt manifest Dagster loads (scripts/setup.sh prepares it; this covers a fresh checkout)."""
    if not (PROJECT_DIR / "target" / "manifest.json").exists():
        print("[dbt] preparing the dbt manifest (dbt parse)", flush=True)
        if run_dbt(["parse", "--quiet"]) != 0:
            raise SystemExit("dbt parse failed: read the errors above")
