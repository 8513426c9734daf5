"""Spark's raw tables read the raw zone the DuckDB ingest writes (decision 147): a file loaded on
one day keeps that day's load time, a loaded landing file is never read again, a table without files
is empty with the zone's columns, and the DuckDB file of views over Spark keeps the ingest's raw."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from orchestration.contract import TABLE_COLUMNS
from orchestration.ingest.load import raw_zone, zone_schema

pytestmark = pytest.mark.slow  # a local Spark session (~30 s)

HEADER = ",".join(TABLE_COLUMNS["orders"])


def _orders(path, rows, amount="100"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        HEADER
        + "\n"
        + "".join(f"{order_id},C1,{day}T10:00:00,completed,{amount},0,0,web,false,,\n" for order_id, day in rows)
    )


def test_spark_raw_reads_the_zone_with_each_files_own_load_time(tmp_path):
    from orchestration.ingest.spark import _report_json, load_landing, read_load_report, session
    from orchestration.publish.spark import refresh_views

    landing, spark_dir, database = tmp_path / "landing", tmp_path / "spark", tmp_path / "warehouse.duckdb"
    day1 = landing / "orders" / "2025-01-01.csv"
    _orders(day1, [("O1", "2025-01-01"), ("O2", "2025-01-01")], amount="-5")  # breaks the contract
    _, gated = load_landing(landing, root=spark_dir, up_to=date(2025, 1, 1), database=database)
    assert (gated["orders"].rows, gated["orders"].failing_rows, gated["orders"].success) == (2, 2, False)
    with duckdb.connect(str(database), read_only=True) as con:
        (day1_loaded_at,) = con.execute(
            "select loaded_at from raw._load_log where file_path = '2025-01-01.csv'"
        ).fetchone()

    # day 2: a new file, and the day-1 file is gone from the landing folder (archived by the shop)
    _orders(landing / "orders" / "2025-01-02.csv", [("O3", "2025-01-02")])
    day1.unlink()
    (landing / "orders" / "2025-01-03.csv").write_bytes(b"\xff\xfe\x00garbage")  # unreadable: reported
    report, gated = load_landing(landing, root=spark_dir, up_to=date(2025, 1, 3), database=database)
    # the gate checks this load's rows only (decision 148): day 2's good row, not day 1's bad amounts
    assert (gated["orders"].rows, gated["orders"].failing_rows, gated["orders"].success) == (1, 0, True)
    assert gated["customers"] is None
    spark = session(spark_dir)
    rows = {
        r["order_id"]: (r["_source_file"], r["_loaded_at"])
        for r in spark.table("raw.orders").select("order_id", "_source_file", "_loaded_at").collect()
    }
    assert set(rows) == {"O1", "O2", "O3"}  # the day-1 rows come from the zone, not the landing file
    assert rows["O1"] == ("2025-01-01.csv", day1_loaded_at) == (rows["O2"][0], rows["O2"][1])
    assert rows["O3"][0] == "2025-01-02.csv" and rows["O3"][1] > day1_loaded_at
    # a table without files: no rows, the zone's columns
    customers = spark.table("raw.customers")
    assert customers.count() == 0 and customers.columns == zone_schema(TABLE_COLUMNS["customers"]).names
    log = {
        (r["file_path"], r["status"]): r["loaded_at"]
        for r in spark.table("raw._load_log").where("table_name = 'orders'").collect()
    }
    assert log == {
        ("2025-01-01.csv", "loaded"): day1_loaded_at,
        ("2025-01-02.csv", "loaded"): rows["O3"][1],
        ("2025-01-03.csv", "failed"): log[("2025-01-03.csv", "failed")],
    }
    spark.stop()

    # this run's report: the new file only, the unreadable one with its reason, through the JSON the job reads
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(_report_json(report, {}), default=str))
    read, outcomes = read_load_report(report_path)
    orders = read.tables["orders"]
    assert (orders.files_new, orders.rows_loaded, orders.files_skipped) == (1, 1, 0)
    assert [(p.path, p.kind) for p in orders.problems] == [(str(landing / "orders" / "2025-01-03.csv"), "failed")]
    assert read.tables["customers"].missing_folder and outcomes == []

    # the DuckDB file of views over Spark's tables keeps the ingest's raw: its load log and zone views
    refresh_views(database, spark_dir)
    with duckdb.connect(str(database), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        )
        assert kinds["_load_log"] == "BASE TABLE" and kinds["orders"] == "VIEW"
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == 3
        assert (
            str(raw_zone(database).resolve())
            in con.execute(
                "select sql from duckdb_views() where schema_name = 'raw' and view_name = 'orders'"
            ).fetchone()[0]
        )


def test_the_spark_gate_checks_this_loads_files_not_a_closed_months_merged_ones(tmp_path, monkeypatch):
    """The raw zone files of a closed month are merged at the end of a load (decision 154): new files
    of rows gated when they were loaded. The gate reads only the files this load wrote from landing."""
    from datetime import datetime, timedelta

    from orchestration.ingest import load
    from orchestration.ingest.spark import load_landing, session

    landing, spark_dir, database = tmp_path / "landing", tmp_path / "spark", tmp_path / "warehouse.duckdb"
    _orders(landing / "orders" / "2025-01-01.csv", [("O1", "2025-01-01"), ("O2", "2025-01-01")], amount="-5")
    _orders(landing / "orders" / "2025-01-02.csv", [("O3", "2025-01-02")])
    last_month = (datetime.now().replace(day=1) - timedelta(days=1)).replace(day=1, hour=6)
    with monkeypatch.context() as small:  # loaded last month, a file a day, not merged yet
        small.setattr(load, "MERGED_FILE_ROWS", 0)
        loaded = load.ingest(
            landing,
            database,
            tables=["orders"],
            verbose=False,
            load_times={
                ("orders", "2025-01-01.csv"): last_month,
                ("orders", "2025-01-02.csv"): last_month + timedelta(days=1),
            },
        )
    assert loaded.tables["orders"].rows_loaded == 3
    _orders(landing / "orders" / "2025-01-03.csv", [("O4", "2025-01-03")])
    report, gated = load_landing(landing, root=spark_dir, up_to=date(2025, 1, 3), database=database)
    orders = report.tables["orders"]
    assert (orders.files_new, orders.zone_files_merged, orders.zone_files_made) == (1, 2, 1)
    # the new file's one good row, not last month's two bad amounts again
    assert (gated["orders"].rows, gated["orders"].failing_rows, gated["orders"].success) == (1, 0, True)
    spark = session(spark_dir)
    assert sorted(r["order_id"] for r in spark.table("raw.orders").collect()) == ["O1", "O2", "O3", "O4"]
    spark.stop()
