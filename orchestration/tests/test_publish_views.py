"""Publish takes every mart, tables and views alike (decision 85): fct_sessions is a view over
int_sessions in the warehouse and, with the same rows, Parquet months read through a view of the
same name in the published file."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.publish.publish import PARTITIONED, publish
from orchestration.tests.conftest import copy_warehouse


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
    copy_warehouse(warehouse.db, db)
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


def test_every_mart_is_published_with_its_rows(warehouse, renamed):
    """A reader of the published file sees every mart: a table, or for a large fact (PARTITIONED)
    a view over its Parquet months."""
    db, out, manifest = renamed
    source, published = _marts(db), _marts(out / "crm_marts.duckdb")
    assert published.keys() == source.keys() == manifest["row_counts"].keys()
    assert {n for n, (t, _) in published.items() if t != "BASE TABLE"} == set(PARTITIONED)
    assert {n: rows for n, (_, rows) in published.items()} == {n: rows for n, (_, rows) in source.items()}
    assert manifest["row_counts"]["fct_sessions"] == source["fct_sessions"][1] > 0
    months = sorted((out / "parquet" / "fct_sessions").glob("month=*/*.parquet"))
    assert len(months) > 3
    assert sum(pq.read_metadata(m).num_rows for m in months) == source["fct_sessions"][1]
    assert pq.read_metadata(out / "parquet" / "kpi_daily.parquet").num_rows == source["kpi_daily"][1] > 0
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
