"""The fit tables (model_fits.clv_fits, clv_scores, retention_fits) in a Spark warehouse. On the
Spark target the daily job fits on the inputs it reads from Spark's tables (int_clv_inputs, one row
per customer; fct_subscriptions) and then replaces these tables' rows in Spark, where the models
that read the parameters build (orchestration/pipeline/engine.py). ``python -m orchestration.predict
copy-to-spark`` does the same by hand from a DuckDB warehouse. The tables must exist (the dbt
on-run-start hook creates them)."""

from __future__ import annotations

from pathlib import Path

from orchestration.ingest.spark import replace_tables_from_duckdb
from orchestration.predict.fit import FITS_SCHEMA, FITS_TABLE, SCORES_TABLE
from orchestration.predict.sbg import FIT_TABLE as RETENTION_TABLE

TABLES = (FITS_TABLE, SCORES_TABLE, RETENTION_TABLE)


def copy_fits_to_spark(database: str | Path, root: Path | None = None) -> dict[str, int]:
    """Replace the Spark fit tables' rows with the DuckDB file's; returns rows per table."""
    return replace_tables_from_duckdb(database, FITS_SCHEMA, TABLES, root)
