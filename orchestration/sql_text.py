"""A Python value written into SQL as a string literal, for each engine: every file path, pattern
or id the package puts into a statement goes through one of these (a quote in a folder name must
not end the literal)."""

from __future__ import annotations


def duckdb_text(value: object) -> str:
    """A DuckDB string literal: a quote is doubled (standard SQL)."""
    return "'" + str(value).replace("'", "''") + "'"


def spark_text(value: object) -> str:
    """A Spark SQL string literal: backslash and quote are escaped with a backslash (Spark reads
    two quotes as two adjacent literals, so doubling would drop the quote)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
