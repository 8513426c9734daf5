"""Values that must never change silently or fail the build (docs/raw-contract.md, "Timestamps,
money"): each goes to quarantine with its reason, or is kept exactly."""

from __future__ import annotations

from datetime import datetime

from orchestration.tests.conftest import query


def _reasons(shop, table: str, key: str, like: str) -> dict:
    rows = query(
        shop.db,
        f"select {key}, reject_reason from quarantine.quarantine_{table} where {key} like '{like}'",
    )
    return dict(zip(rows[key], rows["reject_reason"]))


def test_bad_order_values_are_quarantined_with_their_reason(hostile):
    assert _reasons(hostile, "orders", "order_id", "OV%") == {
        "OV2": "implausible ordered_at",  # 1970-01-01: before earliest_valid_date
        "OV3": "implausible ordered_at",  # 9999-12-31: not pending forever
        "OV4": "unparseable order_total",  # a fifth decimal is never rounded
        "OV6": "unparseable ordered_at",  # 'JST' after the time
    }


def test_kept_values_are_exact(hostile):
    orders = query(
        hostile.db,
        "select order_id, ordered_at, cast(order_total as varchar) as order_total from marts.fct_orders "
        "where order_id in ('OV1', 'OV5', 'OV7') order by 1",
    ).set_index("order_id")
    assert orders.loc["OV1", "ordered_at"] == datetime(2025, 6, 25, 10, 0)  # 01:00 UTC = 10:00 in Tokyo
    assert orders.loc["OV5", "order_total"] == "3300.1234"  # exactly, as text
    assert orders.loc["OV7", "ordered_at"] == datetime(2025, 6, 25, 19, 0)
    assert orders.loc["OV7", "order_total"] == "99999999999999.0000"


def test_bad_quantities_and_line_numbers_are_quarantined_never_rounded(hostile):
    bad = query(
        hostile.db,
        "select line_number, quantity, reject_reason from quarantine.quarantine_order_items "
        "where order_id = 'OV5' order by _source_file, _row_number",
    )
    assert list(zip(bad["line_number"], bad["quantity"], bad["reject_reason"])) == [
        ("1", "4901234567890", "implausible quantity"),
        ("3", "1.5", "unparseable quantity"),
        ("4", "0x10", "unparseable quantity"),
        ("5", "1e3", "unparseable quantity"),
        ("1.5", "1", "unparseable line_number"),
    ]
    lines = query(
        hostile.db,
        "select line_number, product_id, cast(unit_price as varchar) as unit_price "
        "from staging.stg_shop__order_items "
        "where order_id = 'OV5'",
    )
    assert list(zip(lines["line_number"], lines["product_id"])) == [(2, "P0002")]  # the real line 2 survives
    assert lines["unit_price"][0] == "3300.1234"


def test_the_largest_values_the_contract_holds_do_not_overflow(hostile):
    line = query(
        hostile.db,
        "select cast(line_value as varchar) as v from intermediate.int_order_lines_costed where order_id = 'OV7'",
    )
    assert line["v"][0] == "999999999999990000.0000"
    revenue = query(
        hostile.db,
        "select lifetime_revenue from marts.dim_customers where customer_id = 'C0000007'",
    )
    assert revenue["lifetime_revenue"][0] >= 99999999999999


def test_a_placeholder_date_does_not_stretch_the_daily_kpis(hostile):
    days = query(hostile.db, "select min(date_day) as first, count(*) as n from marts.kpi_daily")
    assert str(days["first"][0]) >= "2025-05-01"
    assert days["n"][0] <= 61  # 2025-05-01 .. 2025-06-30
