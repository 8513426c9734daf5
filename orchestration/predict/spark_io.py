"""Write the fits tables (model_fits.clv_fits, clv_scores) into a local Spark warehouse: the
same rows the DuckDB fit wrote, so the prediction marts build on Spark from the same parameters
(the parity test; a Spark deployment runs fit.py's ``fit_inputs``/``score`` the same way)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from orchestration.predict.fit import FITS_SCHEMA, FITS_TABLE, SCORES_TABLE


def copy_fits_to_spark(database: str | Path, root: Path | None = None) -> dict[str, int]:
    """Replace the Spark fits tables' rows with the DuckDB warehouse's; returns rows per table."""
    from pyspark.sql import functions as F

    from orchestration.spark import session

    spark = session(root)
    spark.sql(f"create schema if not exists {FITS_SCHEMA}")
    counts = {}
    with duckdb.connect(str(database), read_only=True) as con:
        frames = {t: con.execute(f"select * from {FITS_SCHEMA}.{t}").df() for t in (FITS_TABLE, SCORES_TABLE)}
    for table, df in frames.items():
        name = f"{FITS_SCHEMA}.{table}"
        target = spark.table(name)
        rows = [tuple(None if pd.isna(v) else str(v) for v in rec) for rec in df.astype(object).itertuples(index=False)]
        source = spark.createDataFrame(rows, schema=", ".join(f"{c} string" for c in df.columns)) if rows else None
        if source is None:
            spark.sql(f"truncate table {name}")
        else:
            source.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in target.schema]) \
                .write.insertInto(name, overwrite=True)
        counts[table] = len(rows)
    return counts
