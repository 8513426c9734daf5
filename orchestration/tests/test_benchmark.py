"""The scale benchmark's pieces on a small shop: the floor reads every row of every landing file,
the event-heavy generator option adds browse-only sessions and nothing else, ingest --up-to holds
back the last day's files (what the one-day refresh then loads)."""

from __future__ import annotations

import json
from datetime import date

import duckdb

from orchestration.benchmark import _slowest, read_floor
from orchestration.generate import generate
from orchestration.ingest import main as ingest_main


def test_floor_reads_every_planted_row(tmp_path):
    planted = generate(tmp_path / "shop", customers=300, start=date(2025, 1, 1), end=date(2025, 2, 28))
    floor = read_floor(tmp_path / "shop")
    assert floor.pop("_seconds") > 0
    assert floor == planted["rows"]


def test_browse_per_order_adds_browse_sessions_only(tmp_path):
    base = generate(tmp_path / "a", customers=300, start=date(2025, 1, 1), end=date(2025, 2, 28))
    heavy = generate(tmp_path / "b", customers=300, start=date(2025, 1, 1), end=date(2025, 2, 28),
                     browse_per_order=12.0)
    for table in ("orders", "order_items", "customers", "products"):
        assert heavy["rows"][table] == base["rows"][table]
    assert heavy["rows"]["events"] > 1.8 * base["rows"]["events"]


def test_ingest_up_to_leaves_the_last_day_for_the_refresh(tmp_path):
    generate(tmp_path / "shop", customers=300, start=date(2025, 1, 1), end=date(2025, 1, 31))
    db = tmp_path / "w.duckdb"
    expected_last = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/shop/orders/2025-01-31.parquet')").fetchall()[0][0]
    assert expected_last > 0
    common = ["--landing", str(tmp_path / "shop"), "--database", str(db)]
    assert ingest_main([*common, "--up-to", "2025-01-30"]) == 0
    with duckdb.connect(str(db)) as con:
        before = con.execute("select count(*) from raw.orders").fetchone()[0]
        assert con.execute("select count(*) from raw.orders "
                           "where _source_file = '2025-01-31.parquet'").fetchone()[0] == 0
    assert ingest_main([*common, "--up-to", "2025-01-31"]) == 0
    with duckdb.connect(str(db)) as con:
        after = con.execute("select count(*) from raw.orders").fetchone()[0]
    assert after - before == expected_last
    assert json.loads((tmp_path / "shop" / "_planted.json").read_text())["rows"]["orders"] == after


def test_slowest_names_nodes_as_dbt_prints_them(tmp_path):
    # a generic test's unique_id ends in a hash: the name is the part before it
    results = [("model.crm_warehouse.int_sessions", 21.0),
               ("test.crm_warehouse.unique_fct_sessions_session_id.6d123dfdd6", 5.6),
               ("test.crm_warehouse.assert_cpm_transitions_conserve", 0.1),
               ("unit_test.crm_warehouse.customer_offers.offers_by_hand", 2.0),
               ("seed.crm_warehouse.cpm_states", None)]
    run_results = tmp_path / "run_results.json"
    run_results.write_text(json.dumps({"results": [
        {"unique_id": uid, "execution_time": seconds} for uid, seconds in results]}))
    assert _slowest(run_results, count=4) == ("int_sessions 21.0, unique_fct_sessions_session_id 5.6, "
                                              "customer_offers::offers_by_hand 2.0, "
                                              "assert_cpm_transitions_conserve 0.1")
    assert _slowest(tmp_path / "missing.json") == "(no run_results.json)"
