"""Write the fit tables (model_fits.clv_fits, clv_scores, retention_fits) into a local Spark
warehouse: the same rows the DuckDB fits wrote, so the models that read them build on Spark from
the same parameters (the DuckDB/Spark parity test; ``python -m orchestration.predict
copy-to-spark``). The tables must exist (the dbt on-run-start hook creates them)."""

from __future__ import annotations

from pathlib import Path

from orchestration.ingest.spark import replace_tables_from_duckdb
from orchestration.predict.fit import FITS_SCHEMA, FITS_TABLE, SCORES_TABLE
from orchestration.predict.sbg import FIT_TABLE as RETENTION_TABLE

TABLES = (FITS_TABLE, SCORES_TABLE, RETENTION_TABLE)


def copy_fits_to_spark(database: str | Path, root: Path | None = None) -> dict[str, int]:
    """Replace the Spark fit tables' rows with the DuckDB warehouse's; returns rows per table."""
    return replace_tables_from_duckdb(database, FITS_SCHEMA, TABLES, root)
