"""Publish rewrites only what changed (orchestration/publish/publish.py): an unchanged mart keeps
its published copy (the same file, hard-linked into the new generation), a large fact is written
per month and only its changed months are written again, and a reader of the published file sees
every mart, the large facts through views over their months."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.publish.publish import publish


def _warehouse(path):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema intermediate; create schema marts")
        con.execute(
            "create table marts.kpi_daily as select date '2025-06-01' + range::int as day, range as n from range(3)"
        )
        con.execute("create table marts.dim_customers as select 'c' || range as customer_id from range(4)")
        # three months of sessions: April 2, May 3, June 4
        con.execute(
            """
            create table intermediate.int_sessions as
            select 's' || i as session_id, d as session_date, i as events
            from (values (1, date '2025-04-03'), (2, date '2025-04-20'), (3, date '2025-05-01'),
                         (4, date '2025-05-02'), (5, date '2025-05-31'), (6, date '2025-06-01'),
                         (7, date '2025-06-02'), (8, date '2025-06-29'), (9, date '2025-06-30')) as v(i, d)
            """
        )
        con.execute("create view marts.fct_sessions as select * from intermediate.int_sessions")


def _inode(path):
    return path.stat().st_ino


def _read(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


# the second folder's quote must not end a path's literal in the SQL (orchestration/sql_text.py)
@pytest.mark.parametrize("folder", ["shop", "o'hara's shop"])
def test_an_unchanged_mart_is_not_rewritten_and_only_changed_months_are(tmp_path, folder):
    db, out = tmp_path / folder / "shop.duckdb", tmp_path / folder / "published"
    db.parent.mkdir()
    _warehouse(db)
    first = publish(db, out, "2025-06-30")
    assert first["rewritten"] == {
        "dim_customers": "rewritten",
        "fct_sessions": "3 of 3 months",
        "kpi_daily": "rewritten",
    }
    months = sorted(p.name for p in (out / "parquet" / "fct_sessions").iterdir())
    assert months == ["month=2025-04", "month=2025-05", "month=2025-06"]
    april = out / "parquet" / "fct_sessions" / "month=2025-04" / "part_0.parquet"
    inodes = {
        "kpi": _inode(out / "parquet" / "kpi_daily.parquet"),
        "april": _inode(april),
        "june": _inode(out / "parquet" / "fct_sessions" / "month=2025-06" / "part_0.parquet"),
    }

    # nothing changed: nothing is written again, the new generation links the same files
    second = publish(db, out, "2025-06-30")
    assert second["rewritten"] == {
        "dim_customers": "unchanged",
        "fct_sessions": "0 of 3 months",
        "kpi_daily": "unchanged",
    }
    assert _inode(out / "parquet" / "kpi_daily.parquet") == inodes["kpi"]
    assert _inode(out / "parquet" / "fct_sessions" / "month=2025-04" / "part_0.parquet") == inodes["april"]

    # a reader of the published file before the next publish keeps reading what it opened
    reader = duckdb.connect(str(out / "crm_marts.duckdb"), read_only=True)
    with duckdb.connect(str(db)) as con:  # a late session in June, a new customer
        con.execute("insert into intermediate.int_sessions values ('s10', date '2025-06-15', 10)")
        con.execute("insert into marts.dim_customers values ('c9')")
    third = publish(db, out, "2025-06-30")
    assert third["rewritten"] == {
        "dim_customers": "rewritten",
        "fct_sessions": "1 of 3 months",
        "kpi_daily": "unchanged",
    }
    assert third["row_counts"] == {"dim_customers": 5, "fct_sessions": 10, "kpi_daily": 3}
    assert _inode(out / "parquet" / "kpi_daily.parquet") == inodes["kpi"]
    assert _inode(out / "parquet" / "fct_sessions" / "month=2025-04" / "part_0.parquet") == inodes["april"]
    assert _inode(out / "parquet" / "fct_sessions" / "month=2025-06" / "part_0.parquet") != inodes["june"]
    assert reader.execute("select count(*) from marts.fct_sessions").fetchone()[0] == 9
    reader.close()

    # the published file: every mart under its name, the sessions a view with the mart's columns and rows
    published = out / "crm_marts.duckdb"
    kinds = dict(_read(published, "select table_name, table_type from information_schema.tables order by 1"))
    assert kinds == {"dim_customers": "BASE TABLE", "fct_sessions": "VIEW", "kpi_daily": "BASE TABLE"}
    assert _read(published, "select * from marts.fct_sessions order by events") == _read(
        db, "select * from marts.fct_sessions order by events"
    )
    assert _read(published, "select count(*) from marts.dim_customers") == [(5,)]


def test_a_mart_gone_from_the_build_is_gone_from_the_published_file(tmp_path):
    db, out = tmp_path / "shop.duckdb", tmp_path / "published"
    _warehouse(db)
    publish(db, out, "2025-06-30")
    with duckdb.connect(str(db)) as con:
        con.execute("drop table marts.kpi_daily")
    manifest = publish(db, out, "2025-06-30")
    assert set(manifest["row_counts"]) == {"dim_customers", "fct_sessions"}
    names = _read(out / "crm_marts.duckdb", "select table_name from information_schema.tables order by 1")
    assert names == [("dim_customers",), ("fct_sessions",)]
    assert not (out / "parquet" / "kpi_daily.parquet").exists()


def test_a_held_back_mart_keeps_its_published_version(tmp_path):
    """A mart held back (a failed fit's) is published as it was, a large fact's view included,
    and reads from the new generation once the previous one is gone."""
    db, out = tmp_path / "shop.duckdb", tmp_path / "published"
    _warehouse(db)
    publish(db, out, "2025-06-30")
    with duckdb.connect(str(db)) as con:
        con.execute("update marts.kpi_daily set n = n + 100")
        con.execute("insert into intermediate.int_sessions values ('s10', date '2025-06-15', 10)")
    why = {"kpi_daily": "its fit failed", "fct_sessions": "its fit failed"}
    held = publish(db, out, "2025-06-30", hold_back=why)
    assert held["held_back"] == {m: {"reason": r, "published": "previous version"} for m, r in why.items()}
    assert held["row_counts"] == {"dim_customers": 4, "fct_sessions": 9, "kpi_daily": 3}
    publish(db, out, "2025-06-30", hold_back=why)  # the first generation is removed now
    published = out / "crm_marts.duckdb"
    assert _read(published, "select sum(n) from marts.kpi_daily") == [(3,)]
    assert _read(published, "select count(*) from marts.fct_sessions") == [(9,)]
    released = publish(db, out, "2025-06-30")
    assert (
        released["rewritten"]["kpi_daily"] == "rewritten" and released["rewritten"]["fct_sessions"] == "1 of 3 months"
    )
    assert _read(published, "select sum(n), (select count(*) from marts.fct_sessions) from marts.kpi_daily") == [
        (303, 10)
    ]
