"""Publish takes every mart, tables and views alike (decision 85): fct_sessions is a view over
int_sessions in the warehouse and a table, with the same rows, in the published file and Parquet."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.publish.publish import publish


def _marts(db) -> dict[str, tuple[str, int]]:
    """Every relation of schema marts: name -> (table type, rows)."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.execute(
            "select table_name, table_type from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
        return {n: (t, con.execute(f"select count(*) from marts.{n}").fetchone()[0]) for n, t in names}


@pytest.fixture(scope="module")
def renamed(warehouse, tmp_path_factory):
    """The warehouse under another file name (so another catalog name than the alias `warehouse`
    publish attaches it as), published."""
    root = tmp_path_factory.mktemp("published_views")
    db = root / "shop_copy.duckdb"
    shutil.copy(warehouse.db, db)
    return db, root / "published", publish(db, root / "published", warehouse.as_of)


def test_fct_sessions_is_a_view_in_the_warehouse(warehouse):
    marts = _marts(warehouse.db)
    assert marts["fct_sessions"][0] == "VIEW"
    # the only view: the time spine and the other marts are tables
    assert [n for n, (t, _) in marts.items() if t != "BASE TABLE"] == ["fct_sessions"]
    with duckdb.connect(str(warehouse.db), read_only=True) as con:
        assert (
            marts["fct_sessions"][1] == con.execute("select count(*) from intermediate.int_sessions").fetchone()[0] > 0
        )


def test_every_mart_is_published_as_a_table_with_its_rows(warehouse, renamed):
    db, out, manifest = renamed
    source, published = _marts(db), _marts(out / "crm_marts.duckdb")
    assert published.keys() == source.keys() == manifest["row_counts"].keys()
    assert {t for t, _ in published.values()} == {"BASE TABLE"}
    assert {n: rows for n, (_, rows) in published.items()} == {n: rows for n, (_, rows) in source.items()}
    assert manifest["row_counts"]["fct_sessions"] == source["fct_sessions"][1] > 0
    assert pq.read_metadata(out / "parquet" / "fct_sessions.parquet").num_rows == source["fct_sessions"][1]
    with duckdb.connect(str(db), read_only=True) as con:
        expected = con.execute("select * from marts.fct_sessions order by session_id").df()
    with duckdb.connect(str(out / "crm_marts.duckdb"), read_only=True) as con:
        got = con.execute("select * from marts.fct_sessions order by session_id").df()
    assert list(got.columns) == list(expected.columns) and got.equals(expected)


def test_a_view_that_names_its_catalog_stops_publish_and_says_why(tmp_path):
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema intermediate; create schema marts")
        con.execute("create table intermediate.t as select 1 as x")
        con.execute('create view marts.v as select * from "shop"."intermediate"."t"')
    with pytest.raises(RuntimeError, match="marts.v .*without the catalog"):
        publish(db, tmp_path / "published", "2025-06-30")
    assert not (tmp_path / "published" / "crm_marts.duckdb").exists()
