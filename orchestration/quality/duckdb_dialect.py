"""The SQLAlchemy dialect GX reads the landing gate's DuckDB through (decision 150).

GX runs each metric query as ``with engine.connect() as c: result = c.execute(query)`` and fetches
the rows after the block has handed the connection back. duckdb_engine's dialect begins a
transaction on execute and rolls it back at that hand-back, and DuckDB's rollback discards the
pending result: GX then fails with ``IndexError`` in ``resolve_metric_bundle`` (its SQL path
"fails on DuckDB"). The gate only reads Parquet files from an in-memory database, so this dialect
opens no transaction and has none to roll back; everything else is duckdb_engine's.

Importing the module registers it as ``duckdb+readonly``; ``URL`` is the gate's connection string.
"""

from __future__ import annotations

from duckdb_engine import Dialect as DuckDBDialect
from sqlalchemy.dialects import registry

URL = "duckdb+readonly:///:memory:"


class ReadOnlyDuckDBDialect(DuckDBDialect):
    """duckdb_engine without transactions: for read-only queries whose rows are fetched after the
    connection went back to the pool."""

    supports_statement_cache = False

    def do_begin(self, dbapi_connection) -> None:
        return None

    def do_rollback(self, dbapi_connection) -> None:
        return None


registry.register("duckdb.readonly", __name__, "ReadOnlyDuckDBDialect")
