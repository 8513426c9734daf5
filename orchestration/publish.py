"""Publish the marts for BI: a read-only DuckDB file and one Parquet file per mart, swapped in
atomically.

Layout of the publish directory (``$CRM_PUBLISH_DIR``, default ``data/published``):

    crm_marts.duckdb          the marts (schema ``marts``) as of the last successful run
    parquet/ -> parquet.<id>  symlink to the current Parquet generation, one file per mart
    manifest.json             as_of_date, run id, published time, row counts

The new DuckDB file is written under a temporary name in the same directory and moved over the old
one with ``os.replace`` (an atomic rename). A BI tool holding the old file open keeps reading the
old file until it reconnects: it never blocks the build and never sees a half-built state. The
Parquet generation is switched by replacing the ``parquet`` symlink, also atomically; the previous
generation is kept for readers that are still in it and removed on the next publish.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

PUBLISHED_DB = "crm_marts.duckdb"
MANIFEST = "manifest.json"


def mart_names(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'marts' "
        "and table_type = 'BASE TABLE' order by 1",
        [catalog],
    ).fetchall()
    return [r[0] for r in rows]


def previous_manifest(publish_dir: Path) -> dict | None:
    path = Path(publish_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def publish(warehouse: Path, publish_dir: Path, as_of_date: str, run_id: str = "") -> dict:
    """Copy every mart of ``warehouse`` into a new read-only DuckDB file and Parquet files, then
    swap them in atomically. Returns the manifest written."""
    publish_dir = Path(publish_dir)
    publish_dir.mkdir(parents=True, exist_ok=True)
    generation = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp_db = publish_dir / f".{PUBLISHED_DB}.{generation}.tmp"
    parquet_dir = publish_dir / f"parquet.{generation}"
    parquet_dir.mkdir()
    t0 = time.perf_counter()
    con = duckdb.connect(str(tmp_db))
    try:
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        marts = mart_names(con, "warehouse")
        if not marts:
            raise RuntimeError(f"no marts in {warehouse}: run the dbt build before publishing")
        con.execute("create schema marts")
        counts = {}
        for mart in marts:
            con.execute(f"create table marts.{mart} as select * from warehouse.marts.{mart}")
            con.execute(f"copy marts.{mart} to '{parquet_dir / (mart + '.parquet')}' (format parquet, compression zstd)")
            counts[mart] = con.execute(f"select count(*) from marts.{mart}").fetchone()[0]
        con.execute("detach warehouse")
        con.execute("checkpoint")
    except BaseException:
        con.close()
        tmp_db.unlink(missing_ok=True)
        shutil.rmtree(parquet_dir, ignore_errors=True)
        raise
    con.close()

    # swap: the DuckDB file by rename, the Parquet generation by replacing the symlink
    os.replace(tmp_db, publish_dir / PUBLISHED_DB)
    link_tmp = publish_dir / f".parquet.{generation}.link"
    link_tmp.symlink_to(parquet_dir.name)
    current = publish_dir / "parquet"
    if current.is_dir() and not current.is_symlink():
        # a plain folder (e.g. copied without its symlink): move it aside, the next publish removes it
        current.rename(publish_dir / f"parquet.moved-{generation}")
    old_target = os.readlink(current) if current.is_symlink() else None
    os.replace(link_tmp, publish_dir / "parquet")
    for stale in publish_dir.glob("parquet.*"):
        if stale.name not in (parquet_dir.name, old_target):
            shutil.rmtree(stale, ignore_errors=True)

    manifest = {
        "as_of_date": as_of_date,
        "run_id": run_id,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": str(publish_dir / PUBLISHED_DB),
        "parquet_dir": str(publish_dir / "parquet"),
        "row_counts": counts,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    tmp_manifest = publish_dir / f".{MANIFEST}.{generation}.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp_manifest, publish_dir / MANIFEST)
    return manifest
