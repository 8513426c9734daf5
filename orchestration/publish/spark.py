"""The Spark warehouse as DuckDB sees it: a DuckDB file of views over the Parquet files of Spark's
tables (``<spark.warehouse_dir>/warehouse/<schema>.db/<table>/``) and over the rows of its views that
``python -m orchestration.ingest.spark export-views`` wrote. The daily job's Python steps on the
Spark target (mart checks, fits, exports, contact log, publish) read this file as they read the
DuckDB warehouse: no JVM, so they never hold the Spark metastore while dbt builds. The tables those
steps write themselves (the fits, the contact log) are kept in the same file and copied into Spark
(orchestration/pipeline/engine.py). ``publish`` then writes the marts as Parquet and the DuckDB file
for BI tools, with the same atomic swap as on DuckDB.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.activation.contact_log import SCHEMA as LOG_SCHEMA
from orchestration.predict.fit import FITS_SCHEMA
from orchestration.sql_text import duckdb_text

# schemas whose tables the job writes in Python into the file itself, never views over Spark's: the
# fits, the contact log, and raw (the ingest's views over the raw zone and its load log, which
# Spark's raw tables read in turn)
WRITTEN_HERE = frozenset({FITS_SCHEMA, LOG_SCHEMA, "raw"})


def _folders(spark_dir: Path) -> dict[str, dict[str, Path]]:
    """{schema: {table: folder of Parquet files}}: Spark's tables, then the exported views' rows."""
    from orchestration.ingest.spark import views_dir

    found: dict[str, dict[str, Path]] = {}
    for db in sorted((spark_dir / "warehouse").glob("*.db")):
        schema = db.name.removesuffix(".db")
        if schema not in WRITTEN_HERE:
            found[schema] = {t.name: t for t in sorted(db.iterdir()) if t.is_dir() and any(t.glob("*.parquet"))}
    exported = views_dir(spark_dir)
    if exported.is_dir():
        for db in sorted(p for p in exported.iterdir() if p.is_dir()):
            found.setdefault(db.name, {}).update(
                {t.name: t for t in sorted(db.iterdir()) if t.is_dir() and any(t.glob("*.parquet"))}
            )
    return found


def refresh_views(database: str | Path, spark_dir: str | Path) -> dict[str, int]:
    """Make ``database`` hold one view per Spark table (and exported view) of every schema but the
    job's own; views of tables that are gone are dropped. Returns the number of views per schema."""
    database, spark_dir = Path(database), Path(spark_dir).absolute()
    database.parent.mkdir(parents=True, exist_ok=True)
    counts = {}
    with duckdb.connect(str(database)) as con:
        for schema, tables in _folders(spark_dir).items():
            con.execute(f'create schema if not exists "{schema}"')
            existing = {
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = ? and table_type = 'VIEW'",
                    [schema],
                ).fetchall()
            }
            for gone in existing - set(tables):
                con.execute(f'drop view "{schema}"."{gone}"')
            for table, folder in tables.items():
                pattern = duckdb_text(folder / "*.parquet")
                con.execute(f'create or replace view "{schema}"."{table}" as select * from read_parquet({pattern})')
            counts[schema] = len(tables)
    return counts
