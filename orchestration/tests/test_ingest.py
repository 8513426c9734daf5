from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.contract import TABLE_COLUMNS
from orchestration.ingest.files import conform, read_file
from orchestration.ingest.load import (
    LoadedFile,
    _check_native_types,
    _native_select,
    _plan_parquet,
    _register_float_udfs,
    ingest,
    raw_zone,
)
from orchestration.tools.generate import generate


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
    generate(
        extra,
        customers=30,
        start=date(2025, 2, 1),
        end=date(2025, 2, 1),
        seed=9,
        tables=("orders",),
    )
    new_file = min((extra / "orders").glob("*.parquet"))
    shutil.copy(new_file, landing / "orders" / "2025-02-01.parquet")
    third = ingest(landing, db, verbose=False)
    assert third.tables["orders"].files_new == 1
    assert third.tables["orders"].rows_loaded == pq.read_metadata(new_file).num_rows
    assert third.tables["events"].files_new == 0
    con = duckdb.connect(str(db), read_only=True)
    log = con.execute(
        "select count(*), count(distinct file_path) from raw._load_log where table_name = 'orders'"
    ).fetchone()
    con.close()
    assert log[0] == log[1]  # one log row per file


def test_unreadable_file_is_reported_and_skipped_not_fatal(tmp_path):
    landing = tmp_path / "landing"
    generate(
        landing,
        customers=50,
        start=date(2025, 1, 1),
        end=date(2025, 1, 5),
        seed=2,
        tables=("orders",),
    )
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
    generate(
        landing,
        customers=50,
        start=date(2025, 1, 1),
        end=date(2025, 1, 5),
        seed=2,
        tables=("orders",),
        fmt="csv",
    )
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
    table = pa.table(
        {
            "ORDER_ID": ["A1"],  # header case does not matter
            "customer_id": ["C1"],
            "ordered_at": pa.array([datetime(2025, 1, 31, 16, 30, tzinfo=UTC)], pa.timestamp("us", "UTC")),
            "status": ["Completed "],
            "order_total": pa.array([1234.5], pa.float64()),
            "is_subscription": [True],
            "unlisted_column": ["ignored"],
        }
    )
    pq.write_table(table, landing / "2025-01-31.parquet")
    db = tmp_path / "w.duckdb"
    ingest(tmp_path / "landing", db, verbose=False)
    con = duckdb.connect(str(db), read_only=True)
    row = con.execute(
        "select order_id, ordered_at, order_total, is_subscription, discount_total from raw.orders"
    ).fetchone()
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


# --- Parquet read by DuckDB (read_parquet) writes the same text as the Python path ------------------


def _every_kind() -> pa.Table:
    """One column of every kind a Parquet export may hold, with awkward values."""
    naive = [datetime(2025, 1, 31, 16, 30), datetime(1969, 12, 31, 23, 59, 59, 999000), None]
    aware = [
        datetime(2025, 1, 31, 16, 30, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 0, 0, 123000, tzinfo=UTC),
        None,
    ]
    return pa.table(
        {
            "text": ["a", " b ", None],
            "large": pa.array(["x", "", None], pa.large_string()),
            "dict": pa.array(["p", "q", None]).dictionary_encode(),
            "ts_s": pa.array(naive, pa.timestamp("s")),
            "ts_ms": pa.array(naive, pa.timestamp("ms")),
            "ts_us": pa.array([datetime(2025, 1, 31, 16, 30, 0, 123456), *naive[1:]], pa.timestamp("us")),
            "ts_ns": pa.array([1738341000123456789, -1, None], pa.timestamp("ns")),
            "tz_utc": pa.array(aware, pa.timestamp("us", "UTC")),
            "tz_tokyo": pa.array(aware, pa.timestamp("ms", "Asia/Tokyo")),
            "tz_ns": pa.array([1738341000123456789, 5, None], pa.timestamp("ns", "America/New_York")),
            "day": pa.array([date(2025, 1, 31), date(1900, 2, 28), None], pa.date32()),
            "flag": [True, False, None],
            "i8": pa.array([1, -128, None], pa.int8()),
            "i64": pa.array([2**63 - 1, -(2**63), None], pa.int64()),
            "u64": pa.array([2**64 - 1, 0, None], pa.uint64()),
            "f64": [1234.5, 1e14, float("nan")],
            "f64b": [0.1, -6.074379962852603e11, 1e-7],
            "f32": pa.array([0.1, 1e10, None], pa.float32()),
            "money": pa.array([Decimal("1234.50"), Decimal("-0.01"), None], pa.decimal128(10, 2)),
            "whole": pa.array([Decimal(12), Decimal(0), None], pa.decimal128(38, 0)),
            "nothing": pa.nulls(3),
        }
    )


def test_duckdb_reads_parquet_as_the_same_text_as_the_python_path(tmp_path):
    folder = tmp_path / "kinds"
    folder.mkdir()
    path = folder / "2025-01-31.parquet"
    data = _every_kind()
    pq.write_table(data, path)
    columns = [*data.column_names, "missing"]
    con = duckdb.connect()
    _register_float_udfs(con)
    plan, rows = _plan_parquet(path, columns)
    assert plan is None  # zone-aware nanoseconds: DuckDB holds microseconds, so the Python path reads it

    native_columns = [c for c in columns if c != "tz_ns"]
    plan, rows = _plan_parquet(path, native_columns)
    assert plan is not None and rows == 3
    f = LoadedFile("2025-01-31.parquet", "x", None, None, 1, 1, 0, path=path, plan=plan, rows=rows)
    assert _check_native_types(con, path, plan)
    sql, params = _native_select([f], f"{folder}{os.sep}")
    got = con.execute(sql, params).to_arrow_table()
    expected = conform(read_file(path), native_columns, "2025-01-31.parquet")
    assert got.num_rows == expected.num_rows == 3
    for i, name in enumerate(expected.column_names):
        assert got.column(i).to_pylist() == expected.column(name).to_pylist(), name
    # what the text is, spelled out for the kinds staging parses
    row = dict(
        zip(
            expected.column_names,
            [got.column(i)[0].as_py() for i in range(got.num_columns)],
            strict=True,
        )
    )
    assert row["ts_ms"] == "2025-01-31T16:30:00.000"  # naive: wall-clock text, no offset
    assert row["tz_tokyo"] == "2025-01-31T16:30:00.000Z"  # zone-aware: the instant in UTC
    assert (row["flag"], row["f64"], row["money"], row["missing"]) == (
        "true",
        "1234.5",
        "1234.50",
        None,
    )
    assert row["_source_file"] == "2025-01-31.parquet" and row["_row_number"] == 1


def test_the_session_time_zone_does_not_change_the_text(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "order_id": ["A1"],
                "ordered_at": pa.array([datetime(2025, 1, 31, 16, 30, tzinfo=UTC)], pa.timestamp("us", "Asia/Tokyo")),
                "updated_at": pa.array([datetime(2025, 2, 1, 9, 0)], pa.timestamp("ms")),
            }
        ),
        folder / "2025-01-31.parquet",
    )
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'America/Los_Angeles'")  # a persistent setting would not matter either
    con.close()
    ingest(tmp_path / "landing", db, verbose=False)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select ordered_at, updated_at from raw.orders").fetchone() == (
        "2025-01-31T16:30:00.000000Z",
        "2025-02-01T09:00:00.000",
    )
    con.close()


def test_mixed_schemas_in_one_folder_load_with_their_own_names_and_kinds(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    # day 1: all text, the generator's layout
    pq.write_table(
        pa.table(
            {
                "order_id": ["A1", "A2"],
                "customer_id": ["C1", "C2"],
                "ordered_at": ["2025-01-01 10:00:00"] * 2,
                "status": ["completed"] * 2,
                "order_total": ["100", "200"],
            }
        ),
        folder / "2025-01-01.parquet",
    )
    # day 2: typed, other order, names with spaces and upper case, an extra column, no customer_id
    pq.write_table(
        pa.table(
            {
                " Order_Total ": pa.array([Decimal("12.50")], pa.decimal128(12, 2)),
                " ORDER_ID": ["B1"],
                "Ordered_At": pa.array([datetime(2025, 1, 2, 1, 0, tzinfo=UTC)], pa.timestamp("us", "UTC")),
                "Status": ["completed"],
                "Is_Subscription": [False],
                "extra": [1],
            }
        ),
        folder / "2025-01-02.parquet",
    )
    # day 3: the day-1 layout again (same group as day 1)
    pq.write_table(
        pa.table(
            {
                "order_id": ["D1"],
                "customer_id": ["C9"],
                "ordered_at": ["2025-01-03 10:00:00"],
                "status": ["pending"],
                "order_total": ["5"],
            }
        ),
        folder / "2025-01-03.parquet",
    )
    db = tmp_path / "w.duckdb"
    report = ingest(tmp_path / "landing", db, tables=["orders"], verbose=False)
    assert report.problems == [] and report.tables["orders"].files_new == 3 and report.rows_loaded == 4
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "select _source_file, _row_number, order_id, customer_id, ordered_at, order_total, "
        "is_subscription, _malformed_line from raw.orders order by _source_file, _row_number"
    ).fetchall()
    logged = con.execute("select file_path, row_count, status from raw._load_log order by file_path").fetchall()
    con.close()
    assert rows == [
        ("2025-01-01.parquet", 1, "A1", "C1", "2025-01-01 10:00:00", "100", None, None),
        ("2025-01-01.parquet", 2, "A2", "C2", "2025-01-01 10:00:00", "200", None, None),
        (
            "2025-01-02.parquet",
            1,
            "B1",
            None,
            "2025-01-02T01:00:00.000000Z",
            "12.50",
            "false",
            None,
        ),
        ("2025-01-03.parquet", 1, "D1", "C9", "2025-01-03 10:00:00", "5", None, None),
    ]
    assert logged == [
        ("2025-01-01.parquet", 2, "loaded"),
        ("2025-01-02.parquet", 1, "loaded"),
        ("2025-01-03.parquet", 1, "loaded"),
    ]


def _corrupt_pages(path):
    """A Parquet file whose footer reads but whose data pages do not decompress."""
    raw = bytearray(path.read_bytes())
    for i in range(8, len(raw) // 2):
        raw[i] = 0xFF
    path.write_bytes(bytes(raw))


def _events_day(day: int, n: int) -> pa.Table:
    return pa.table(
        {
            "event_id": [f"e{day}-{i}" for i in range(n)],
            "session_id": ["s"] * n,
            "anonymous_id": ["a"] * n,
            "event_type": ["page_view"] * n,
            "occurred_at": [f"2025-01-0{day} 10:00:00"] * n,
        }
    )


def _landing_with_a_corrupt_day(tmp_path):
    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True)
    for day in (1, 2, 3, 4):
        pq.write_table(_events_day(day, 1000 * day), folder / f"2025-01-0{day}.parquet", compression="snappy")
    _corrupt_pages(folder / "2025-01-02.parquet")
    pq.ParquetFile(folder / "2025-01-02.parquet").close()  # the footer still reads: only the read finds it
    return folder


def test_a_corrupt_parquet_among_good_ones_is_reported_and_the_others_load(tmp_path):
    folder = _landing_with_a_corrupt_day(tmp_path)
    db = tmp_path / "w.duckdb"
    report = ingest(tmp_path / "landing", db, tables=["events"], verbose=False)
    assert [(p.path, p.kind) for _, p in report.problems] == [(str(folder / "2025-01-02.parquet"), "failed")]
    line = report.problems[0][1].line()
    assert "not a readable Parquet file" in line and "What to do: fix the file or replace it" in line
    assert report.tables["events"].files_new == 3 and report.rows_loaded == 1000 + 3000 + 4000
    con = duckdb.connect(str(db), read_only=True)
    per_file = con.execute(
        "select _source_file, count(*), min(_row_number), max(_row_number) from raw.events group by all order by 1"
    ).fetchall()
    log = con.execute("select file_path, status, row_count from raw._load_log order by 1").fetchall()
    con.close()
    assert per_file == [
        ("2025-01-01.parquet", 1000, 1, 1000),
        ("2025-01-03.parquet", 3000, 1, 3000),
        ("2025-01-04.parquet", 4000, 1, 4000),
    ]
    assert log == [
        ("2025-01-01.parquet", "loaded", 1000),
        ("2025-01-02.parquet", "failed", None),
        ("2025-01-03.parquet", "loaded", 3000),
        ("2025-01-04.parquet", "loaded", 4000),
    ]
    # the bad file is tried again (and reported again) on the next run; nothing else loads twice
    again = ingest(tmp_path / "landing", db, tables=["events"], verbose=False)
    assert again.rows_loaded == 0 and len(again.problems) == 1
    # fixed: it loads
    pq.write_table(_events_day(2, 2000), folder / "2025-01-02.parquet")
    fixed = ingest(tmp_path / "landing", db, tables=["events"], verbose=False)
    assert fixed.problems == [] and fixed.rows_loaded == 2000


def _rows_of(files) -> pa.Table:
    """What a gate given a batch's raw zone files reads: their rows that split into fields."""
    rows = pa.concat_tables([pq.read_table(f) for f in files])
    return rows.filter(rows.column("_malformed_line").is_null())


def test_the_gate_is_given_each_batchs_zone_files_and_a_corrupt_file_is_left_out(tmp_path):
    _landing_with_a_corrupt_day(tmp_path)
    seen = []
    report = ingest(
        tmp_path / "landing",
        tmp_path / "w.duckdb",
        tables=["events"],
        verbose=False,
        on_batch=lambda table, files: seen.append((table, _rows_of(files))),
    )
    assert len(report.problems) == 1
    assert [t for t, _ in seen] == ["events"]
    rows = seen[0][1]
    assert rows.num_rows == 8000
    assert rows.schema.field("event_id").type == pa.string() and rows.schema.field("_row_number").type == pa.int64()
    assert sorted(set(rows.column("_source_file").to_pylist())) == [
        "2025-01-01.parquet",
        "2025-01-03.parquet",
        "2025-01-04.parquet",
    ]
    assert rows.column("_malformed_line").null_count == rows.num_rows


def test_batches_split_by_rows_and_each_is_one_transaction_with_its_log(tmp_path, monkeypatch):
    import orchestration.ingest.load as ingest_module

    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True)
    for day in (1, 2, 3):
        pq.write_table(_events_day(day, 10), folder / f"2025-01-0{day}.parquet")
    monkeypatch.setattr(ingest_module, "NATIVE_BATCH_ROWS", 20)
    batches = []
    report = ingest(
        tmp_path / "landing",
        tmp_path / "w.duckdb",
        tables=["events"],
        verbose=False,
        on_batch=lambda table, files: batches.append(sorted(set(_rows_of(files).column("_source_file").to_pylist()))),
    )
    assert report.rows_loaded == 30
    assert batches == [["2025-01-01.parquet", "2025-01-02.parquet"], ["2025-01-03.parquet"]]

    # a batch whose commit fails leaves neither its rows nor its log rows
    (folder / "2025-01-04.parquet").write_bytes((folder / "2025-01-03.parquet").read_bytes())

    def gate_fails(table, files):
        raise RuntimeError("gate crashed")

    try:
        ingest(
            tmp_path / "landing",
            tmp_path / "w.duckdb",
            tables=["events"],
            verbose=False,
            on_batch=gate_fails,
        )
    except RuntimeError:
        pass
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    counts = con.execute("select (select count(*) from raw.events), (select count(*) from raw._load_log)").fetchone()
    con.close()
    assert counts == (30, 3)


def test_a_parquet_duckdb_reads_with_other_types_goes_through_the_python_path(tmp_path):
    # INT96 timestamps: pyarrow reads nanoseconds, DuckDB microseconds; the Python path writes the text
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    path = folder / "2025-01-31.parquet"
    pq.write_table(
        pa.table(
            {
                "order_id": ["A1"],
                "ordered_at": pa.array([datetime(2025, 1, 31, 16, 30, 0, 123456)], pa.timestamp("us")),
            }
        ),
        path,
        use_deprecated_int96_timestamps=True,
    )
    con = duckdb.connect()
    plan, _ = _plan_parquet(path, ["order_id", "ordered_at"])
    assert plan is not None and not _check_native_types(con, path, plan)
    db = tmp_path / "w.duckdb"
    report = ingest(tmp_path / "landing", db, tables=["orders"], verbose=False)
    assert report.problems == [] and report.rows_loaded == 1
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select order_id, ordered_at, _source_file, _row_number from raw.orders").fetchone() == (
        "A1",
        "2025-01-31T16:30:00.123456000",
        "2025-01-31.parquet",
        1,
    )
    con.close()


def test_a_new_warehouse_is_created_in_the_newer_storage_format_and_an_old_one_kept(tmp_path):
    """Decision 98: ingest creates the warehouse in WAREHOUSE_STORAGE_VERSION (strings written
    with DICT_FSST); a warehouse created before, in DuckDB's default 0.10.2 format, opens and loads
    a new day in its own format."""
    from orchestration.ingest.load import WAREHOUSE_STORAGE_VERSION

    landing = tmp_path / "landing"
    generate(landing, customers=60, start=date(2025, 1, 1), end=date(2025, 1, 10), seed=4)

    def storage(db):
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(
                "select tags['storage_version'] from duckdb_databases() where path = ?", [str(db)]
            ).fetchone()[0]

    new = tmp_path / "new.duckdb"
    ingest(landing, new, verbose=False)
    assert storage(new).startswith(WAREHOUSE_STORAGE_VERSION)

    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()  # DuckDB's default format, as warehouses before this change
    report = ingest(landing, old, verbose=False)
    assert not storage(old).startswith(WAREHOUSE_STORAGE_VERSION)
    assert report.tables["events"].rows_loaded == _count(old, "events") == _count(new, "events") > 0


ORDERS_HEADER = "order_id,customer_id,ordered_at,status,order_total,discount_total,shipping_fee\n"


def test_the_gate_validates_a_batchs_zone_files_in_duckdb_and_counts_each_planted_value(tmp_path):
    """Decision 150: GX runs the landing rules as DuckDB queries over the batch's raw zone files.
    Two files of one batch (a CSV with a malformed line, a Parquet file) with one planted breach
    per rule; the counts, the samples and the rows checked are hand-computed."""
    from orchestration.quality.gx import gate_landing_files

    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "2025-01-01.csv").write_text(
        ORDERS_HEADER
        + "o1,c1,2025-01-01 10:00:00,completed,1000,0,0\n"  # good
        + "o2,c1,2025-01-01T10:00:00Z,COMPLETED , 1000.50 ,0,0\n"  # good: Z, upper case, spaces
        + "o3,c1,2025-01-01 10:00:00 UTC,returned,1000,0,0\n"  # good: a UTC suffix
        + "o4,c1,2025-01-01T10:00:00+09:00,cancelled,1000,0,0\n"  # good: an offset
        + "o5,c1,2025-13-01 10:00:00,completed,1000,0,0\n"  # ordered_at does not parse
        + "o6,c1,1970-01-01 00:00:00,completed,1000,0,0\n"  # ordered_at implausible
        + "o7,c1,2025-01-01 10:00:00,shipped?,-5,0,0\n"  # unknown status, negative total
        + "o8,c1,2025-01-01 10:00:00,completed,1e3,0,0\n"  # total not a plain decimal
        + "o9,c1,2025-01-01 10:00:00,completed,1000,1.23456,0\n"  # discount: 5 decimals
        + ",c1,2025-01-01 10:00:00,completed,1000,0,0\n"  # no order id
        + "   ,c1,2025-01-01 10:00:00,completed,1000,0,0\n"  # a blank order id is missing too
        + "o12,c1,2025-01-01 10:00:00,completed,1000,0,0,extra,fields\n"  # malformed: not checked
    )
    pq.write_table(
        pa.table(
            {
                "order_id": ["p1", "p2"],
                "ordered_at": ["2025-01-02 10:00:00", None],  # p2: no order time
                "status": ["pending", "completed"],
                "order_total": ["10", "20"],
            }
        ),
        folder / "2025-01-02.parquet",
    )
    outcomes = []
    report = ingest(
        tmp_path / "landing",
        tmp_path / "w.duckdb",
        tables=["orders"],
        verbose=False,
        on_batch=lambda table, files: outcomes.append(gate_landing_files(table, files, tmp_path / "gx")),
    )
    assert report.rows_loaded == 14 and report.tables["orders"].malformed_lines == 1
    assert len(outcomes) == 1
    gate = outcomes[0]
    assert gate.rows == 13 and not gate.success
    counts = {(f.expectation, f.column): f.unexpected_count for f in gate.failures}
    assert counts == {
        ("expect_column_values_to_not_be_null", "order_id"): 2,
        ("expect_column_values_to_not_be_null", "ordered_at"): 1,
        ("expect_column_values_to_be_null", "ordered_at__unparseable"): 1,
        ("expect_column_values_to_be_null", "ordered_at__implausible"): 1,
        ("expect_column_values_to_be_in_set", "status__code"): 1,
        ("expect_column_values_to_be_between", "order_total__number"): 1,
        ("expect_column_values_to_be_null", "order_total__not_decimal"): 1,
        ("expect_column_values_to_be_null", "discount_total__not_decimal"): 1,
    }
    samples = {f.column: f.sample for f in gate.failures}
    assert samples["status__code"] == ["shipped?"] and samples["order_total__number"] == [-5.0]
    # the sample of a rule on text shows the text that broke it
    assert samples["ordered_at__unparseable"] == ["2025-13-01 10:00:00"]
    assert samples["ordered_at__implausible"] == ["1970-01-01 00:00:00"]
    assert samples["order_total__not_decimal"] == ["1e3"] and samples["discount_total__not_decimal"] == ["1.23456"]
    # a clean batch passes; nothing new is nothing to check
    clean = tmp_path / "clean"
    (clean / "orders").mkdir(parents=True)
    (clean / "orders" / "2025-01-03.csv").write_text(ORDERS_HEADER + "q1,c1,2025-01-03 10:00:00,completed,5,0,0\n")
    outcomes.clear()
    ingest(
        clean,
        tmp_path / "w.duckdb",
        tables=["orders"],
        verbose=False,
        on_batch=lambda t, f: outcomes.append(gate_landing_files(t, f, tmp_path / "gx")),
    )
    assert [(o.rows, o.success, o.failures) for o in outcomes] == [(1, True, [])]
    assert gate_landing_files("orders", [], tmp_path / "gx").rows == 0


def _zone(db) -> list[str]:
    folder = raw_zone(db) / "events"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _events_landing(tmp_path):
    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True)
    pq.write_table(_events_day(1, 300), folder / "2025-01-01.parquet")
    (folder / "2025-01-02.csv").write_text(
        "event_id,session_id,anonymous_id,event_type,occurred_at\ne2-0,s,a,page_view,2025-01-02 10:00:00\n"
        "e2-1,s,a,page_view,2025-01-02 11:00:00\n"
    )
    return tmp_path / "landing"


def test_raw_tables_are_views_over_the_zone_files_the_load_log_names(tmp_path):
    """Decision 146: the DuckDB file holds no raw rows; a landed file's rows are in a Parquet file of
    the raw zone beside it (a Parquet and a CSV file are read differently: two files), named in the
    load log, and raw.<table> is a view over exactly those files."""
    landing = _events_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    ingest(landing, db, tables=["events"], verbose=False)
    assert raw_zone(db) == tmp_path / "w.raw"
    with duckdb.connect(str(db), read_only=True) as con:
        kinds = dict(
            con.execute(
                "select table_name, table_type from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        )
        logged = con.execute("select file_path, raw_file from raw._load_log order by file_path").fetchall()
        rows = con.execute(
            "select _source_file, count(*), max(_row_number) from raw.events group by 1 order by 1"
        ).fetchall()
        second = con.execute(
            "select event_id, occurred_at from raw.events where _row_number = 2 and _source_file = '2025-01-02.csv'"
        ).fetchone()
    assert kinds.pop("_load_log") == "BASE TABLE"
    assert set(kinds.values()) == {"VIEW"} and "events" in kinds and "customers" in kinds
    assert rows == [("2025-01-01.parquet", 300, 300), ("2025-01-02.csv", 2, 2)]
    assert second == ("e2-1", "2025-01-02 11:00:00")
    assert _zone(db) == sorted(name for _, name in logged)
    for rel, name in logged:
        part = pq.read_table(raw_zone(db) / "events" / name)
        assert set(part.column("_source_file").to_pylist()) == {rel}
        assert part.schema.field("event_id").type == pa.string()


def test_a_crash_before_the_commit_leaves_no_rows_and_the_next_ingest_removes_its_file(tmp_path):
    landing = _events_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    ingest(landing, db, tables=["events"], verbose=False)
    kept = _zone(db)
    # a batch whose gate fails: its written files go with it
    pq.write_table(_events_day(3, 50), landing / "events" / "2025-01-03.parquet")

    def gate_fails(table, files):
        raise RuntimeError("gate crashed")

    try:
        ingest(landing, db, tables=["events"], verbose=False, on_batch=gate_fails)
    except RuntimeError:
        pass
    assert _zone(db) == kept and _count(db, "events") == 302
    # the process killed after writing a file, before its commit: the file is in no view
    orphan = raw_zone(db) / "events" / "20250103T000000000000-00000000-0000000000000000.parquet"
    shutil.copyfile(raw_zone(db) / "events" / kept[0], orphan)
    assert _count(db, "events") == 302
    report = ingest(landing, db, tables=["events"], verbose=False)
    assert not orphan.exists() and report.tables["events"].rows_loaded == 50
    assert _count(db, "events") == 352 and len(_zone(db)) == 3


def test_a_copied_warehouse_folder_reads_its_own_raw_zone(tmp_path):
    """Back-up is copying the folder: opened for ingest elsewhere, the views read the copy's files."""
    landing = _events_landing(tmp_path)
    ingest(landing, tmp_path / "a" / "w.duckdb", tables=["events"], verbose=False)
    with duckdb.connect(str(tmp_path / "a" / "w.duckdb"), read_only=True) as con:
        before = con.execute("select * from raw.events order by _source_file, _row_number").fetchall()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    report = ingest(landing, tmp_path / "b" / "w.duckdb", tables=["events"], verbose=False)
    assert report.tables["events"].files_skipped == 2 and report.rows_loaded == 0
    with duckdb.connect(str(tmp_path / "b" / "w.duckdb"), read_only=True) as con:
        assert con.execute("select * from raw.events order by _source_file, _row_number").fetchall() == before


def test_a_warehouse_with_raw_tables_moves_them_into_the_raw_zone(tmp_path):
    """A warehouse from before the raw zone: its raw rows (not re-read from the landing files, which
    may be archived) become the zone's files on its next ingest."""
    landing = _events_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    ingest(landing, db, tables=["events"], verbose=False)
    with duckdb.connect(str(db)) as con:  # as the warehouse was: a table, and a log without raw_file
        con.execute("create table raw.events_rows as select * from raw.events")
        con.execute("drop view raw.events")
        con.execute("alter table raw.events_rows rename to events")
        con.execute("update raw.events set event_type = 'kept from the table' where _row_number = 1")
        con.execute("alter table raw._load_log drop column raw_file")
    shutil.rmtree(raw_zone(db))
    report = ingest(landing, db, tables=["events"], verbose=False)
    assert report.rows_loaded == 0 and len(_zone(db)) == 2
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "select count(*), count(*) filter (event_type = 'kept from the table') from raw.events"
        ).fetchone() == (302, 2)
        assert con.execute(
            "select table_type from information_schema.tables where table_schema = 'raw' and table_name = 'events'"
        ).fetchone() == ("VIEW",)


def _damaged(tmp_path):
    from orchestration.pipeline.repair import save_load_log

    landing = _events_landing(tmp_path)
    db = tmp_path / "w.duckdb"
    ingest(landing, db, tables=["events"], verbose=False)
    save_load_log(db)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select * from raw.events order by _source_file, _row_number").fetchall()
        log = con.execute("select table_name, file_path, loaded_at from raw._load_log order by all").fetchall()
    os.truncate(db, db.stat().st_size // 3)
    return landing, db, rows, log


def _raw_of(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return (
            con.execute("select * from raw.events order by _source_file, _row_number").fetchall(),
            con.execute("select table_name, file_path, loaded_at from raw._load_log order by all").fetchall(),
        )


def test_repair_rebuilds_raw_from_the_raw_zone_without_the_landing_files(tmp_path):
    from orchestration.pipeline.repair import rebuild_raw

    landing, db, rows, log = _damaged(tmp_path)
    shutil.rmtree(landing)  # archived by the shop: the zone holds the rows
    report = rebuild_raw(db, landing)
    assert report.damaged_copy.exists() and report.files_loaded == 2 and report.rows_loaded == 302
    assert "raw zone" in report.load_log and report.missing_files == []
    assert _raw_of(db) == (rows, log)


def test_repair_without_the_raw_zone_reloads_the_landing_files_with_their_load_times(tmp_path):
    from orchestration.pipeline.repair import rebuild_raw

    landing, db, rows, log = _damaged(tmp_path)
    shutil.rmtree(raw_zone(db))
    report = rebuild_raw(db, landing)
    assert report.files_loaded == 2 and report.rows_loaded == 302 and "raw zone" not in report.load_log
    assert _raw_of(db) == (rows, log)


def test_crm_repair_on_spark_rebuilds_the_duckdb_file_the_spark_job_opens(tmp_path, monkeypatch):
    """On Spark the daily job's DuckDB file (the raw zone's views, the views over Spark's tables) is
    <spark.warehouse_dir>/spark_tables.duckdb (decision 147): the file a damaged run names is the one
    `crm repair` rebuilds, never warehouse_path; --from-published, which restores DuckDB marts, is
    refused there with what to do."""
    from argparse import Namespace

    from orchestration import cli
    from orchestration import settings as settings_module
    from orchestration.pipeline.repair import save_load_log
    from orchestration.pipeline.resources import SPARK_VIEWS_DB

    landing = _events_landing(tmp_path)
    spark_dir = tmp_path / "spark"
    db = spark_dir / SPARK_VIEWS_DB
    ingest(landing, db, tables=["events"], verbose=False)
    save_load_log(db)
    before = _raw_of(db)
    os.truncate(db, db.stat().st_size // 3)
    for name, value in (
        ("CRM_WAREHOUSE_TARGET", "spark"),
        ("CRM_SPARK_DIR", spark_dir),
        ("CRM_LANDING_DIR", landing),
        ("CRM_DUCKDB_PATH", tmp_path / "duckdb" / "w.duckdb"),
        ("CRM_PUBLISH_DIR", tmp_path / "published"),
    ):
        monkeypatch.setenv(name, str(value))
    settings_module.refresh()
    ran = []
    monkeypatch.setattr(cli, "cmd_run", lambda args: ran.append(args.as_of) or 0)
    try:
        assert cli.cmd_repair(Namespace(force=False, from_published=True, as_of=None)) == 2
        assert not list(spark_dir.glob("*.damaged-*")) and ran == []
        assert cli.cmd_repair(Namespace(force=False, from_published=False, as_of="2025-01-05")) == 0
    finally:
        settings_module.refresh()  # the environment is put back after the test: read it anew then
    assert ran == ["2025-01-05"]  # then the daily job, on Spark
    assert len(list(spark_dir.glob(f"{SPARK_VIEWS_DB}.damaged-*"))) == 1
    assert _raw_of(db) == before and not (tmp_path / "duckdb").exists()


def test_a_csv_read_block_by_block_gives_the_rows_of_the_whole_file(tmp_path, monkeypatch):
    """A CSV is decoded and parsed a block at a time (memory bounded whatever its size): with blocks
    of a few hundred bytes, a Shift_JIS character and a quoted line break split across blocks, a
    malformed line in the middle and an invalid byte far into the file give exactly what reading the
    whole file gives: the same rows, numbers, malformed line and encoding, or the same error."""
    from orchestration.ingest import files

    lines = ["event_id,customer_id,session_id,occurred_at,event_type,utm_campaign"]
    for i in range(1, 400):
        page = f'"夏の/{i}\r\n美容液"' if i % 37 == 0 else f"春のキャンペーン{i}"
        lines.append(f"E{i:05d},C{i % 50:03d},S{i // 3:04d},2025-01-02T10:{i % 60:02d}:00,page_view,{page}")
        if i == 200:
            lines.append("E-bad,C001,only three")  # cannot be split into the header's fields
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    path = landing / "events" / "2025-01-02.csv"
    path.write_bytes("\r\n".join(lines).encode("cp932") + b"\r\n")

    whole = conform(read_file(path, ["event_id"]), ["event_id", "customer_id", "utm_campaign"], "2025-01-02.csv")
    monkeypatch.setattr(files, "CSV_BLOCK_BYTES", 257)  # odd: splits two-byte characters
    blocks = list(files.open_csv_rows(path, ["event_id"]).batches)
    assert len(blocks) > 10
    assert (
        conform(read_file(path, ["event_id"]), ["event_id", "customer_id", "utm_campaign"], "2025-01-02.csv") == whole
    )

    db = tmp_path / "w.duckdb"
    report = ingest(landing, db, verbose=False)
    assert report.tables["events"].rows_loaded == 400 and report.tables["events"].malformed_lines == 1
    with duckdb.connect(str(db), read_only=True) as con:
        got = con.execute(
            "select event_id, customer_id, utm_campaign, _malformed_line, _row_number from raw.events order by _row_number"
        ).fetchall()
        assert con.execute("select encoding from raw._load_log").fetchall() == [("cp932",)]
    expected = whole.select(["event_id", "customer_id", "utm_campaign", "_malformed_line", "_row_number"]).to_pylist()
    assert got == [tuple(r.values()) for r in expected]
    assert got[36][2] == "夏の/37\r\n美容液" and got[-1][3] == "E-bad,C001,only three"
    assert not [p for p in (raw_zone(db) / "events").iterdir() if p.suffix != ".parquet"]  # no staged file left

    # an invalid byte far into the file: the same error, with its offset in the file
    broken = landing / "events" / "2025-01-03.csv"
    data = "\n".join(lines).encode("utf-8")
    cut = data.index(b"\n", 5000) + 1  # a line's start, past the first blocks
    broken.write_bytes(data[:cut] + b"\xff\xfe\x81" + data[cut:])
    with pytest.raises(files.UnreadableFile) as streamed:
        files.open_csv_rows(broken, ["event_id"])
    with pytest.raises(files.UnreadableFile) as whole_file:
        files.decode_text(broken.read_bytes())
    assert str(streamed.value) == str(whole_file.value) and f"offset {cut})" in str(streamed.value)


def test_files_loaded_together_share_one_zone_file_and_an_erasure_marks_only_the_files_that_held_the_person(
    tmp_path,
):
    """Decision 149: the files of one batch read the same way (Parquet of one schema, CSVs) and
    loaded at the same time are one raw zone file; the load log names it for each of them, the view
    reads it once, and an erasure rewrites it and marks only the landed files that held the person."""
    from orchestration.privacy.erase import erase

    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    for day in (1, 2, 3):
        pq.write_table(_events_day(day, 100 * day), landing / "events" / f"2025-01-0{day}.parquet")
    for day in (4, 5):
        (landing / "events" / f"2025-01-0{day}.csv").write_text(
            f"event_id,session_id,anonymous_id,event_type,occurred_at\ne{day}-0,s,a,page_view,2025-01-0{day} 10:00:00\n"
        )
    (landing / "customers").mkdir()
    header = ",".join(TABLE_COLUMNS["customers"])
    for name, people in (("a.csv", ["C1", "C2"]), ("b.csv", ["C3"])):
        (landing / "customers" / name).write_text(
            header
            + "\n"
            + "".join(
                f"{c},2025-01-01 10:00:00,web,{c.lower()}@example.com,{c} Name,true,true,,Tokyo,1990,\n" for c in people
            )
        )
    db = tmp_path / "w.duckdb"
    report = ingest(landing, db, tables=["events", "customers"], verbose=False)
    assert report.rows_loaded == 600 + 2 + 3
    with duckdb.connect(str(db), read_only=True) as con:
        logged = dict(
            con.execute("select file_path, raw_file from raw._load_log where table_name = 'events'").fetchall()
        )
        per_file = con.execute("select _source_file, count(*) from raw.events group by 1 order by 1").fetchall()
    parquet_file = {logged[f"2025-01-0{day}.parquet"] for day in (1, 2, 3)}
    csv_file = {logged[f"2025-01-0{day}.csv"] for day in (4, 5)}
    assert len(parquet_file) == len(csv_file) == 1 and parquet_file != csv_file
    assert _zone(db) == sorted(parquet_file | csv_file)  # two files in the zone for five landed files
    assert per_file == [
        ("2025-01-01.parquet", 100),
        ("2025-01-02.parquet", 200),
        ("2025-01-03.parquet", 300),
        ("2025-01-04.csv", 1),
        ("2025-01-05.csv", 1),
    ]  # each landed file's rows once

    erase(["C1"], db, roots=[], publish=tmp_path / "published", landing=landing)
    with duckdb.connect(str(db), read_only=True) as con:
        log = con.execute(
            "select file_path, raw_file, erased_at is not null from raw._load_log where table_name = 'customers' "
            "order by 1"
        ).fetchall()
        people = con.execute(
            "select customer_id, email from raw.customers order by _source_file, _row_number"
        ).fetchall()
    assert [(rel, erased) for rel, _, erased in log] == [("a.csv", True), ("b.csv", False)]
    assert log[0][1] == log[1][1] and [p.name for p in (raw_zone(db) / "customers").iterdir()] == [log[0][1]]
    assert people[1:] == [("C2", "c2@example.com"), ("C3", "c3@example.com")]
    assert people[0][0] != "C1" and people[0][1] is None


def test_the_small_zone_files_of_a_closed_month_are_merged_with_the_same_rows(tmp_path, monkeypatch):
    """Decision 154: a file a day makes a zone file a day; the small files loaded in a closed month
    are merged in load order into files of about MERGED_FILE_ROWS rows. raw.events keeps every row
    as it was (its lineage and load time included), the load log names the merged files, the old
    files go, the month in progress is left alone, a failed merge changes nothing, and repair reads
    the merged files."""
    from orchestration.ingest import load
    from orchestration.pipeline.repair import rebuild_raw, save_load_log

    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True)
    sizes = {1: 10, 2: 10, 3: 10, 4: 10, 5: 10, 6: 30, 7: 10, 8: 10}  # day -> events
    load_times = {}
    for day, n in sizes.items():
        pq.write_table(_events_day(day, n), folder / f"2025-01-0{day}.parquet")
        # loaded a day at a time: days 1-6 in January 2026, days 7 and 8 in February
        loaded = datetime(2026, 1, 10 + day, 6) if day <= 6 else datetime(2026, 2, day - 6, 6)
        load_times[("events", f"2025-01-0{day}.parquet")] = loaded
    db = tmp_path / "w.duckdb"
    monkeypatch.setattr(load, "MERGED_FILE_ROWS", 0)  # no file is small: nothing merged
    ingest(folder.parent, db, tables=["events"], verbose=False, load_times=load_times)
    assert len(_zone(db)) == 8

    def raw_rows():
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("select * from raw.events order by _loaded_at, _source_file, _row_number").fetchall()

    def logged():
        with duckdb.connect(str(db), read_only=True) as con:
            return dict(con.execute("select file_path, raw_file from raw._load_log").fetchall())

    before = raw_rows()
    assert len(before) == 100
    monkeypatch.setattr(load, "MERGED_FILE_ROWS", 25)

    # a merge that fails before its commit leaves the zone and the log as they were
    def view_fails(*args):
        raise RuntimeError("stopped")

    with monkeypatch.context() as failing:
        failing.setattr(load, "replace_view", view_fails)
        with duckdb.connect(str(db)) as con, pytest.raises(RuntimeError):
            load.merge_closed_months(con, db, "events", datetime(2026, 2, 15))
    assert len(_zone(db)) == 8 and raw_rows() == before

    # in February, January is closed: days 1+2 and 3+4 are merged (a third 10 would pass 25 rows),
    # day 5 has no small neighbour left in its month, day 6 is not small; February is in progress
    with duckdb.connect(str(db)) as con:
        assert load.merge_closed_months(con, db, "events", datetime(2026, 2, 15)) == (4, 2)
    files = logged()
    assert files["2025-01-01.parquet"] == files["2025-01-02.parquet"] != files["2025-01-03.parquet"]
    assert files["2025-01-03.parquet"] == files["2025-01-04.parquet"]
    assert len(set(files.values())) == 6 and _zone(db) == sorted(set(files.values()))
    assert raw_rows() == before

    # the next ingest (today, months later) merges February's two files
    report = ingest(folder.parent, db, tables=["events"], verbose=False)
    assert (report.tables["events"].zone_files_merged, report.tables["events"].zone_files_made) == (2, 1)
    files = logged()
    assert files["2025-01-07.parquet"] == files["2025-01-08.parquet"] and len(set(files.values())) == 5
    assert _zone(db) == sorted(set(files.values())) and raw_rows() == before
    merged = pq.read_table(raw_zone(db) / "events" / files["2025-01-01.parquet"])
    assert merged.column("_source_file").to_pylist() == ["2025-01-01.parquet"] * 10 + ["2025-01-02.parquet"] * 10
    assert merged.column("_row_number").to_pylist() == list(range(1, 11)) * 2  # load order, row order
    assert ingest(folder.parent, db, tables=["events"], verbose=False).tables["events"].zone_files_merged == 0

    # repair rebuilds raw from the merged files the load log's copy names
    save_load_log(db)
    os.truncate(db, db.stat().st_size // 3)
    shutil.rmtree(folder.parent)
    assert rebuild_raw(db, folder.parent).rows_loaded == 100
    assert raw_rows() == before


def test_a_shop_in_a_folder_whose_name_holds_a_quote_loads_gates_and_keeps_its_copies(tmp_path):
    """Every path the package writes into SQL is a quoted literal (orchestration/sql_text.py): a
    quote in a folder's name neither breaks a statement nor ends the literal early. The ingest
    (zone copy, a new warehouse, the raw views), the gate's query, the load log's copy and the
    contact log's copy and restore all run in such a folder."""
    from orchestration.activation.contact_log import LOG, SCHEMA, ensure_tables, restore, save_copy
    from orchestration.pipeline.repair import _read_load_log, save_load_log
    from orchestration.quality.gx import gate_landing_files

    shop = tmp_path / "o'hara's shop"
    (shop / "landing" / "orders").mkdir(parents=True)
    (shop / "landing" / "orders" / "2025-01-03.csv").write_text(
        ORDERS_HEADER + "q1,c1,2025-01-03 10:00:00,completed,5,0,0\nq2,c2,2025-01-03 11:00:00,completed,7,0,0\n"
    )
    db = shop / "w.duckdb"
    outcomes = []
    report = ingest(
        shop / "landing",
        db,
        tables=["orders"],
        verbose=False,
        on_batch=lambda t, f: outcomes.append(gate_landing_files(t, f, shop / "gx")),
    )
    assert not report.problems and report.tables["orders"].rows_loaded == 2
    assert [(o.rows, o.success) for o in outcomes] == [(2, True)]
    assert _count(db, "orders") == 2

    assert save_load_log(db).exists()
    rows, source = _read_load_log(db)
    assert [r[:2] for r in rows] == [("orders", "2025-01-03.csv")] and source.startswith("load log from")

    with duckdb.connect(str(db)) as con:
        ensure_tables(con)
    save_copy(db)
    fresh = shop / "rebuilt.duckdb"
    for table_copy in shop.glob("w.duckdb.contact_log*.parquet"):
        shutil.copy(table_copy, shop / table_copy.name.replace("w.duckdb", "rebuilt.duckdb"))
    assert restore(fresh) == 0  # an empty log restores no row, and reads its copies without an error
    with duckdb.connect(str(fresh), read_only=True) as con:
        assert con.execute(f"select count(*) from {SCHEMA}.{LOG}").fetchone()[0] == 0


def test_a_malformed_line_keeps_its_text_only_when_every_column_is_a_contract_column(tmp_path):
    """A column the contract does not name may hold anything (a phone number, an address): a line
    of such a file that cannot be split keeps the fields before that column, never its text."""
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "2025-01-01.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total,phone,shipping_address\n"
        "o1,c1,2025-01-01 10:00:00,completed,100,090-1111-2222,Tokyo 1-1\n"
        'o2,c2,2025-01-02 11:00:00,completed,200,"090-9999-0000","Osaka Kita 2-2",extra\n'
    )
    (folder / "2025-01-02.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total\n"
        "o3,c3,2025-01-03 10:00:00,completed,300\n"
        "o4,c4,2025-01-04 10:00:00,completed,400,extra\n"
    )
    report = ingest(tmp_path / "landing", tmp_path / "w.duckdb", tables=["orders"], verbose=False)
    assert report.tables["orders"].malformed_lines == 2
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select order_id, customer_id, order_total, _malformed_line from raw.orders "
            "where _malformed_line is not null order by _source_file"
        ).fetchall()
    (o2, o4) = rows
    # the extra columns: the fields before them, the line's shape, no text
    assert o2[:3] == ("o2", "c2", "200") and "090-9999-0000" not in o2[3] and "Osaka" not in o2[3]
    assert (
        o2[3]
        == "78 characters, 8 fields for 7 columns (text not kept: the file has columns that may hold personal data)"
    )
    # only contract columns: the text, to see what went wrong
    assert o4[3] == "o4,c4,2025-01-04 10:00:00,completed,400,extra"
