from __future__ import annotations

import shutil
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.generate import generate
from orchestration.ingest import ingest


def _count(db, table):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    finally:
        con.close()


def test_a_file_is_loaded_once_and_a_new_day_loads_only_that_day(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, customers=120, start=date(2025, 1, 1), end=date(2025, 1, 31), seed=2)
    db = tmp_path / "w.duckdb"
    first = ingest(landing, db, verbose=False)
    rows_orders = _count(db, "orders")
    assert first.tables["orders"].rows_loaded == rows_orders > 0

    again = ingest(landing, db, verbose=False)
    assert again.rows_loaded == 0
    assert _count(db, "orders") == rows_orders

    # a new day arrives: only its file is loaded
    extra = tmp_path / "extra"
    generate(extra, customers=30, start=date(2025, 2, 1), end=date(2025, 2, 1), seed=9, tables=("orders",))
    new_file = min((extra / "orders").glob("*.parquet"))
    shutil.copy(new_file, landing / "orders" / "2025-02-01.parquet")
    third = ingest(landing, db, verbose=False)
    assert third.tables["orders"].files_new == 1
    assert third.tables["orders"].rows_loaded == pq.read_metadata(new_file).num_rows
    assert third.tables["events"].files_new == 0
    con = duckdb.connect(str(db), read_only=True)
    log = con.execute("select count(*), count(distinct file_path) from raw._load_log where table_name = 'orders'").fetchone()
    con.close()
    assert log[0] == log[1]  # one log row per file


def test_unreadable_file_is_reported_and_skipped_not_fatal(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, customers=50, start=date(2025, 1, 1), end=date(2025, 1, 5), seed=2, tables=("orders",))
    (landing / "orders" / "2025-01-06.parquet").write_bytes(b"this is not parquet")
    db = tmp_path / "w.duckdb"
    report = ingest(landing, db, verbose=False)
    assert [p.path.endswith("2025-01-06.parquet") for _, p in report.problems] == [True]
    assert report.tables["orders"].files_new == 5
    con = duckdb.connect(str(db), read_only=True)
    status = con.execute("select status from raw._load_log where file_path = '2025-01-06.parquet'").fetchone()
    con.close()
    assert status == ("failed",)


def test_missing_optional_tables_become_empty_tables_of_the_right_shape(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, customers=50, start=date(2025, 1, 1), end=date(2025, 1, 5), seed=2,
             tables=("orders",), fmt="csv")
    db = tmp_path / "w.duckdb"
    report = ingest(landing, db, verbose=False)
    assert report.tables["events"].missing_folder
    assert _count(db, "events") == 0
    con = duckdb.connect(str(db), read_only=True)
    cols = [r[0] for r in con.execute("describe raw.events").fetchall()]
    con.close()
    assert cols[:3] == ["event_id", "session_id", "anonymous_id"]


def test_typed_parquet_is_stored_as_contract_text(tmp_path):
    landing = tmp_path / "landing" / "orders"
    landing.mkdir(parents=True)
    table = pa.table({
        "ORDER_ID": ["A1"],  # header case does not matter
        "customer_id": ["C1"],
        "ordered_at": pa.array([datetime(2025, 1, 31, 16, 30, tzinfo=UTC)], pa.timestamp("us", "UTC")),
        "status": ["Completed "],
        "order_total": pa.array([1234.5], pa.float64()),
        "is_subscription": [True],
        "unlisted_column": ["ignored"],
    })
    pq.write_table(table, landing / "2025-01-31.parquet")
    db = tmp_path / "w.duckdb"
    ingest(tmp_path / "landing", db, verbose=False)
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute("select order_id, ordered_at, order_total, is_subscription, discount_total from raw.orders").fetchone()
    con.close()
    assert row == ("A1", "2025-01-31T16:30:00.000000Z", "1234.5", "true", None)


def test_csv_with_excel_bom_and_crlf_keeps_its_first_column(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "2025-06-01.csv").write_bytes(
        "\ufefforder_id,customer_id,ordered_at,status,order_total\r\nA1,C1,2025-06-01 10:00:00,completed,1200\r\n".encode()
    )
    db = tmp_path / "w.duckdb"
    ingest(tmp_path / "landing", db, verbose=False)
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute("select order_id, customer_id, order_total from raw.orders").fetchone()
    con.close()
    assert row == ("A1", "C1", "1200")
