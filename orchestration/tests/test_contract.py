"""The raw contract is declared once (dbt var `raw_contract`) and read the same way by SQL and Python."""

from __future__ import annotations

from orchestration.contract import (
    CONTRACT,
    DECIMAL_PATTERN,
    INTEGER_PATTERN,
    PERSONAL_DATA_COLUMNS,
    REQUIRED_TABLES,
    row_rules,
)
from orchestration.settings import PROJECT_DIR, settings


def test_the_gx_gate_parses_numbers_with_the_patterns_of_the_sql():
    macros = (PROJECT_DIR / "macros" / "parsing.sql").read_text()
    assert f"'{DECIMAL_PATTERN}'" in macros
    assert f"'{INTEGER_PATTERN}'" in macros


def test_the_contract_document_ships_with_the_project_and_names_every_column():
    doc = (PROJECT_DIR / "docs" / "raw-contract.md").read_text()
    for table, spec in CONTRACT.items():
        assert f"### {table}" in doc
        for column in spec["columns"]:
            assert f"| {column['name']} |" in doc, (table, column["name"])


def test_rules_derived_from_the_declaration():
    assert REQUIRED_TABLES == ("orders",)
    assert PERSONAL_DATA_COLUMNS == ("email", "full_name", "line_user_id")
    assert row_rules("order_items", settings().var)["maximum"] == {"quantity": 10000}  # the default
    assert row_rules("order_items", {"max_quantity": 500}.__getitem__)["maximum"] == {"quantity": 500}  # a shop's
    assert row_rules("orders", settings().var)["required"] == ["order_id", "ordered_at", "status", "order_total"]
    assert row_rules("orders", settings().var)["allowed"]["status"] == [
        "completed",
        "cancelled",
        "returned",
        "pending",
    ]
    assert "email_opt_in" in [c["name"] for c in CONTRACT["customers"]["columns"]]
