"""The fitted-parameter tables have one layout: the dbt hook that creates them empty
(macros/model_fits.sql) and the Python fits that write them (orchestration/predict/) agree."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.predict import fit, sbg
from orchestration.tests.conftest import dbt

TYPES = {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT", "date": "DATE", "timestamp": "TIMESTAMP"}


def test_the_dbt_hook_and_the_python_fits_declare_the_same_columns(tmp_path: Path):
    db = tmp_path / "w.duckdb"
    dbt(db, ["run-operation", "create_model_fits_tables"])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select table_name, column_name, data_type from information_schema.columns "
                           "where table_schema = 'model_fits' order by table_name, ordinal_position").fetchall()
    created: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        created.setdefault(table, []).append((column, kind))
    python = {
        fit.FITS_TABLE: list(fit.FITS_COLUMNS.items()),
        fit.SCORES_TABLE: list(fit.SCORES_COLUMNS.items()),
        sbg.FIT_TABLE: list(sbg.FIT_COLUMNS),
    }
    assert created == {table: [(c, TYPES[k]) for c, k in cols] for table, cols in python.items()}
