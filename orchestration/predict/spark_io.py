"""Write the fit tables (model_fits.clv_fits, clv_scores, retention_fits) into a local Spark
warehouse: the same rows the DuckDB fits wrote, so the models that read them build on Spark from
the same parameters (the DuckDB/Spark parity test; ``python -m orchestration.predict
copy-to-spark``). The tables must exist (the dbt on-run-start hook creates them)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from orchestration.predict.fit import FITS_SCHEMA, FITS_TABLE, SCORES_TABLE
from orchestration.predict.sbg import FIT_TABLE as RETENTION_TABLE

TABLES = (FITS_TABLE, SCORES_TABLE, RETENTION_TABLE)


def copy_fits_to_spark(database: str | Path, root: Path | None = None) -> dict[str, int]:
    """Replace the Spark fit tables' rows with the DuckDB warehouse's; returns rows per table."""
    from pyspark.sql import functions as F

    from orchestration.ingest.spark import session

    spark = session(root)
    counts = {}
    with duckdb.connect(str(database), read_only=True) as con:
        frames = {t: con.execute(f"select * from {FITS_SCHEMA}.{t}").df() for t in TABLES}
    for table, df in frames.items():
        name = f"{FITS_SCHEMA}.{table}"
        target = spark.table(name)
        rows = [tuple(None if pd.isna(v) else str(v) for v in rec) for rec in df.astype(object).itertuples(index=False)]
        if not rows:
            spark.sql(f"truncate table {name}")
        else:
            source = spark.createDataFrame(rows, schema=", ".join(f"{c} string" for c in df.columns))
            source.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in target.schema]).write.insertInto(
                name, overwrite=True
            )
        counts[table] = len(rows)
    return counts
