"""The fitted-parameter tables have one layout, declared once (dbt var `model_fits_tables`): the
dbt hook that creates them empty (macros/model_fits.sql) and the Python fits that create and
write them (orchestration/predict/) both read it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.predict import fit, sbg, tables
from orchestration.tests.conftest import dbt

TYPES = {
    "string": "VARCHAR",
    "double": "DOUBLE",
    "bigint": "BIGINT",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def _created(db: Path) -> dict[str, list[tuple[str, str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'model_fits' order by table_name, ordinal_position"
        ).fetchall()
    created: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        created.setdefault(table, []).append((column, kind))
    return created


def test_the_dbt_hook_and_the_python_fits_create_the_declared_tables(tmp_path: Path):
    hook_db, python_db = tmp_path / "hook.duckdb", tmp_path / "python.duckdb"
    dbt(hook_db, ["run-operation", "create_model_fits_tables"])
    with duckdb.connect(str(python_db)) as con:
        for sql in fit.create_tables_sql():
            con.execute(sql)
        for sql in tables.create_table_sql(sbg.FIT_TABLE):
            con.execute(sql)
    declared = {table: [(c, TYPES[k]) for c, k in cols.items()] for table, cols in tables.TABLES.items()}
    # the three tables, as listed in the sources (a column moved or renamed shows here)
    assert set(declared) == {fit.FITS_TABLE, fit.SCORES_TABLE, sbg.FIT_TABLE}
    assert declared[sbg.FIT_TABLE][:2] == [("as_of_date", "DATE"), ("cohort_month", "VARCHAR")]
    assert _created(hook_db) == declared
    assert _created(python_db) == declared
    # the writers insert by these names: every column the fits fill is declared
    assert list(fit.FITS_COLUMNS) == [c for c, _ in declared[fit.FITS_TABLE]]
    assert list(sbg.FIT_COLUMNS) == [c for c, _ in declared[sbg.FIT_TABLE]]
