"""The model-fit tables (source ``model_fits``: clv_fits, clv_scores, retention_fits).

Their columns, in order, and types are declared once, in dbt_project.yml (var
``model_fits_tables``). The dbt on-run-start hook (macros/model_fits.sql) creates them empty from
that declaration; the Python fits (fit.py, sbg.py) create and write them from it here.
"""

from __future__ import annotations

from orchestration.settings import dbt_var

SCHEMA = "model_fits"
# {table: {column: type}}: the one declaration (dbt var `model_fits_tables`)
TABLES: dict[str, dict[str, str]] = dbt_var("model_fits_tables")


def columns(table: str) -> dict[str, str]:
    """Column -> type of one model-fit table, in order."""
    return dict(TABLES[table])


def create_table_sql(table: str) -> list[str]:
    """The DDL that makes one model-fit table exist (empty), as the dbt hook does, and gives a
    table made by an earlier version the columns declared since (DuckDB)."""
    declared = ", ".join(f"{name} {kind}" for name, kind in TABLES[table].items())
    return [
        f"create schema if not exists {SCHEMA}",
        f"create table if not exists {SCHEMA}.{table} ({declared})",
        *(
            f"alter table {SCHEMA}.{table} add column if not exists {name} {kind}"
            for name, kind in TABLES[table].items()
        ),
    ]
