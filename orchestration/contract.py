"""The raw data contract (docs/raw-contract.md) for the Python side: tables, columns, rules, paths.

The contract is declared once, in dbt_project.yml (var `raw_contract`):
the SQL validation (macros/contract.sql), ingest's raw tables, the GX landing gate and the generator
all read that declaration.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent

DBT_PROJECT_YML = PROJECT_DIR / "dbt_project.yml"
_DBT_VARS: dict = yaml.safe_load(DBT_PROJECT_YML.read_text(encoding="utf-8"))["vars"]


def dbt_var(name: str):
    """A var's value in dbt_project.yml (the raw contract, plausibility bounds, time zone)."""
    return _DBT_VARS[name]


# {table: contract}: the one declaration of the raw contract (dbt var `raw_contract`).
CONTRACT: dict[str, dict] = dbt_var("raw_contract")
TABLE_COLUMNS: dict[str, list[str]] = {t: [c["name"] for c in spec["columns"]] for t, spec in CONTRACT.items()}
REQUIRED_TABLES = tuple(t for t, spec in CONTRACT.items() if spec.get("required_table"))
PERSONAL_DATA_COLUMNS = tuple(sorted({c["name"] for spec in CONTRACT.values() for c in spec["columns"]
                                     if c["type"] == "personal"}))
FILE_SUFFIXES = (".parquet", ".csv")  # matched case-insensitively
# Columns added by ingest to every raw table (lineage for quarantine and dedupe).
META_COLUMNS = ("_malformed_line", "_source_file", "_row_number", "_loaded_at")


def landing_dir() -> Path:
    return Path(os.environ.get("CRM_LANDING_DIR", PROJECT_DIR / "data" / "landing"))


def warehouse_path() -> Path:
    return Path(os.environ.get("CRM_DUCKDB_PATH", PROJECT_DIR / "data" / "warehouse.duckdb"))


def publish_dir() -> Path:
    return Path(os.environ.get("CRM_PUBLISH_DIR", PROJECT_DIR / "data" / "published"))


def keep_days() -> int:
    """How many days a run's own records are kept: its detailed log (data/logs) and its GX
    validation results (decision log 106). The marts, the warehouse and the load log keep everything."""
    value = os.environ.get("CRM_KEEP_DAYS", "30")
    if not value.strip().isdigit():
        raise ValueError(f"CRM_KEEP_DAYS must be a whole number of days (default 30), not {value!r}: "
                         "set it to how long run logs and GX results are kept, or unset it")
    return int(value)


# dbt's target folders of the Dagster runs: one folder per run, one per dbt command (and attempt) in it
DBT_RUN_TARGETS = PROJECT_DIR / "target" / "dagster"
DBT_SAVED_PARSE = "partial_parse.msgpack"


def dbt_run_files(run_id: str, name: str) -> list[Path]:
    """A file the dbt commands of a Dagster run wrote (run_results.json, partial_parse.msgpack), one
    per command that wrote it, oldest first."""
    return sorted((DBT_RUN_TARGETS / run_id).glob(f"*/{name}"), key=lambda p: p.stat().st_mtime)


def use_saved_parse(saved: Path | None, target: Path) -> None:
    """Start a dbt command in ``target`` from a parse saved with the same vars, profile and files,
    so dbt re-parses only what changed (decision log 103). A target that has a parse keeps it."""
    if saved is not None and saved.exists() and not (target / DBT_SAVED_PARSE).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(saved, target / DBT_SAVED_PARSE)


# The same patterns as macros/parsing.sql (a test keeps them equal): values the warehouse holds
# exactly. Anything else is 'unparseable', never rounded.
DECIMAL_PATTERN = r"^[+-]?([0-9]{1,14}([.][0-9]{0,4}0*)?|[.][0-9]{1,4}0*)$"
INTEGER_PATTERN = r"^[+-]?[0-9]{1,18}([.]0+)?$"


def _row_rules(spec: dict) -> dict:
    cols = [c for c in spec["columns"] if c["type"] != "personal"]
    return {
        "required": [c["name"] for c in cols if c.get("required")],
        "timestamps": [c["name"] for c in cols if c["type"] in ("timestamp", "date")],
        "non_negative": [c["name"] for c in cols if c.get("min") == 0],
        "positive": [c["name"] for c in cols if c.get("positive")],
        "integers": [c["name"] for c in cols if c["type"] == "integer"],
        "decimals": [c["name"] for c in cols if c["type"] == "decimal"],
        "allowed": {c["name"]: c["allowed"] for c in cols if c.get("allowed")},
        "maximum": {c["name"]: dbt_var(c["max_var"]) for c in cols if c.get("max_var")},
    }


# The contract's row rules, as the landing quality gate (GX) checks them before a batch is loaded.
# The authority that quarantines rows is the SQL generated from the same YAML; this is the same
# contract read for a report on each incoming batch.
ROW_RULES: dict[str, dict] = {table: _row_rules(spec) for table, spec in CONTRACT.items()}
