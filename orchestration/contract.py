"""The raw data contract (docs/raw-contract.md) for the Python side: tables, columns, rules.

The contract is declared once, in dbt_project.yml (var `raw_contract`):
the SQL validation (macros/contract.sql), ingest's raw tables, the GX landing gate and the generator
all read that declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestration.project import project_vars

# {table: contract}: the one declaration of the raw contract (dbt var `raw_contract`).
CONTRACT: dict[str, dict] = project_vars()["raw_contract"]
TABLE_COLUMNS: dict[str, list[str]] = {t: [c["name"] for c in spec["columns"]] for t, spec in CONTRACT.items()}
REQUIRED_COLUMNS: dict[str, list[str]] = {
    t: [c["name"] for c in spec["columns"] if c.get("required") and c["type"] != "personal"]
    for t, spec in CONTRACT.items()
}
REQUIRED_TABLES = tuple(t for t, spec in CONTRACT.items() if spec.get("required_table"))
PERSONAL_DATA_COLUMNS = tuple(
    sorted({c["name"] for spec in CONTRACT.values() for c in spec["columns"] if c["type"] == "personal"})
)
# the columns a mapped export's landing file adds after the contract's: where each row came from
MAPPED_SOURCE_COLUMNS = ("source_file", "source_row")
# every column a landing file may have that cannot hold personal data: the contract's, of any
# table, and the mapping's lineage
CONTRACT_COLUMNS = (
    frozenset(c for columns in TABLE_COLUMNS.values() for c in columns) - set(PERSONAL_DATA_COLUMNS)
) | frozenset(MAPPED_SOURCE_COLUMNS)
FILE_SUFFIXES = (".parquet", ".csv")  # matched case-insensitively
# Columns added by ingest to every raw table (lineage for quarantine and dedupe).
META_COLUMNS = ("_malformed_line", "_source_file", "_row_number", "_loaded_at")


# The same patterns as macros/parsing.sql (a test keeps them equal): values the warehouse holds
# exactly. Anything else is 'unparseable', never rounded.
DECIMAL_PATTERN = r"^[+-]?([0-9]{1,14}([.][0-9]{0,4}0*)?|[.][0-9]{1,4}0*)$"
INTEGER_PATTERN = r"^[+-]?[0-9]{1,18}([.]0+)?$"


def row_rules(table: str, shop_var: Callable[[str], Any]) -> dict:
    """The contract's row rules of ``table``, as the landing quality gate (GX) checks them before a
    batch is loaded, with this shop's bounds (``shop_var``: a var's value for the shop, as
    ``Settings.var``). The authority that quarantines rows is the SQL generated from the same YAML;
    this is the same contract read for a report on each batch."""
    cols = [c for c in CONTRACT[table]["columns"] if c["type"] != "personal"]
    return {
        "required": REQUIRED_COLUMNS[table],
        "timestamps": [c["name"] for c in cols if c["type"] in ("timestamp", "date")],
        "non_negative": [c["name"] for c in cols if c.get("min") == 0],
        "positive": [c["name"] for c in cols if c.get("positive")],
        "integers": [c["name"] for c in cols if c["type"] == "integer"],
        "decimals": [c["name"] for c in cols if c["type"] == "decimal"],
        "allowed": {c["name"]: c["allowed"] for c in cols if c.get("allowed")},
        "maximum": {c["name"]: shop_var(c["max_var"]) for c in cols if c.get("max_var")},
    }
