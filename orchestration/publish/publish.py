"""Publish the marts for BI: a read-only DuckDB file and one Parquet file per mart, swapped in
atomically.

Layout of the publish directory (``$CRM_PUBLISH_DIR``, default ``data/published``):

    crm_marts.duckdb          the marts (schema ``marts``) as of the last successful run, each a
                              table (a mart built as a view in the warehouse is copied as a table)
    parquet/ -> parquet.<id>  symlink to the current Parquet generation, one file per mart
    manifest.json             as_of_date, run id, published time, row counts
    docs/index.html           the dbt docs site (``dbt docs generate --static``) of the build

The DuckDB file is written in an older storage format (``STORAGE_VERSION``, default
``v1.0.0``, override with ``$CRM_PUBLISH_STORAGE_VERSION``) so that the DuckDB 1.x bundled by BI
tools (Superset's duckdb-engine, the Metabase driver, Evidence) can open it as well as newer DuckDBs.

The new DuckDB file is written under a temporary name in the same directory and moved over the old
one with ``os.replace`` (an atomic rename). A BI tool holding the old file open keeps reading the
old file until it reconnects: it never blocks the build and never sees a half-built state. The
Parquet generation is switched by replacing the ``parquet`` symlink, also atomically; the previous
generation is kept for readers that are still in it and removed on the next publish.

A publish that was killed or ran out of disk leaves its temporary files (``.crm_marts.duckdb.<id>.tmp``
and its ``.tmp.wal``, a half-written Parquet generation, a docs target folder); they are removed
when the next run starts and again before each publish (``remove_stale_files``), both under the
warehouse's write lock, so no publish is in progress then.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.dbt import dbt_command, dbt_env, use_saved_parse

PUBLISHED_DB = "crm_marts.duckdb"
MANIFEST = "manifest.json"
DOCS_DIR = "docs"
# the oldest storage format DuckDB writes that every DuckDB >= 0.10 (so every 1.x) reads
STORAGE_VERSION = os.environ.get("CRM_PUBLISH_STORAGE_VERSION", "v1.0.0")


def mart_names(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """Every mart of ``catalog``: the tables and the views of schema ``marts`` (a mart built as a
    view, e.g. fct_sessions, is published as a table; decision 85)."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = 'marts' "
        "and table_type in ('BASE TABLE', 'VIEW') order by 1",
        [catalog],
    ).fetchall()
    return [r[0] for r in rows]


def remove_stale_files(publish_dir: Path) -> list[Path]:
    """Remove what an interrupted publish left in ``publish_dir``: temporary DuckDB files and their
    write-ahead logs, temporary manifests, symlinks and docs pages, dbt docs target folders, and
    Parquet / exports generations no symlink points at. Call it only while no publish runs (under
    the warehouse's write lock). Returns what was removed."""
    publish_dir = Path(publish_dir)
    if not publish_dir.is_dir():
        return []
    current = {os.readlink(publish_dir / name) for name in ("parquet", "exports") if (publish_dir / name).is_symlink()}
    stale = [
        p
        for pattern in (".*.tmp", ".*.tmp.wal", ".*.link", ".docs-target-*", f"{DOCS_DIR}/.*.tmp")
        for p in publish_dir.glob(pattern)
    ]
    stale += [
        p
        for name in ("parquet", "exports")
        for p in publish_dir.glob(f"{name}.*")
        if p.is_dir() and not p.is_symlink() and p.name not in current
    ]
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale


def duckdb_config() -> dict[str, str]:
    """Settings of a DuckDB connection the job opens itself: spill to CRM_DUCKDB_TEMP_DIR when it
    is set (what dbt's profile uses), not beside the file or in the working folder."""
    temp = os.environ.get("CRM_DUCKDB_TEMP_DIR")
    if not temp:
        return {}
    Path(temp).mkdir(parents=True, exist_ok=True)
    return {"temp_directory": temp}


def previous_manifest(publish_dir: Path) -> dict | None:
    path = Path(publish_dir) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def publish(
    warehouse: Path,
    publish_dir: Path,
    as_of_date: str,
    run_id: str = "",
    hold_back: dict[str, str] | None = None,
    exports_dir: Path | None = None,
) -> dict:
    """Copy every mart of ``warehouse`` into a new read-only DuckDB file and Parquet files, then
    swap them in atomically. Returns the manifest written.

    ``hold_back`` (mart -> why) names marts not to take from this build: their previously published
    version is published again (the manifest says so), or, when there is none, they are left out.
    ``exports_dir``: files (the audience exports) published as ``exports/`` in the same swap."""
    hold_back = hold_back or {}
    publish_dir = Path(publish_dir)
    publish_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_files(publish_dir)
    generation = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp_db = publish_dir / f".{PUBLISHED_DB}.{generation}.tmp"
    parquet_dir = publish_dir / f"parquet.{generation}"
    parquet_dir.mkdir()
    t0 = time.perf_counter()
    con = duckdb.connect(config=duckdb_config())
    try:
        con.execute(f"attach '{tmp_db}' as published (storage_version '{STORAGE_VERSION}')")
        con.execute(f"attach '{warehouse}' as warehouse (read_only)")
        marts = mart_names(con, "warehouse")
        if not marts:
            raise RuntimeError(f"no marts in {warehouse}: run the dbt build before publishing")
        previous_db = publish_dir / PUBLISHED_DB
        kept: list[str] = []
        attached_previous = bool(set(hold_back) & set(marts)) and previous_db.exists()
        if attached_previous:
            con.execute(f"attach '{previous_db}' as previous (read_only)")
            kept = [m for m in mart_names(con, "previous") if m in hold_back]
        held = {
            m: {
                "reason": hold_back[m],
                "published": "previous version" if m in kept else "not published",
            }
            for m in marts
            if m in hold_back
        }
        con.execute("create schema published.marts")
        counts = {}
        for mart in marts:
            if mart in hold_back and mart not in kept:
                continue
            source = "previous" if mart in kept else "warehouse"
            try:
                con.execute(f"create table published.marts.{mart} as select * from {source}.marts.{mart}")
            except duckdb.BinderException as exc:
                # a view that names its inputs with the warehouse file's catalog does not resolve
                # when the file is attached under the alias `warehouse`
                if "Catalog" not in str(exc):
                    raise
                raise RuntimeError(
                    f"marts.{mart} of {warehouse} does not resolve with the warehouse attached as "
                    f"`{source}`: a view mart must name its inputs without the catalog, "
                    f"{{{{ ref(...).include(database=false) }}}} ({exc})"
                ) from exc
            con.execute(
                f"copy published.marts.{mart} to '{parquet_dir / (mart + '.parquet')}' "
                "(format parquet, compression zstd)"
            )
            counts[mart] = con.execute(f"select count(*) from published.marts.{mart}").fetchone()[0]
        con.execute("detach warehouse")
        if attached_previous:
            con.execute("detach previous")
        con.execute("checkpoint published")
        con.execute("detach published")
    except BaseException:
        con.close()
        tmp_db.unlink(missing_ok=True)
        shutil.rmtree(parquet_dir, ignore_errors=True)
        raise
    con.close()

    exports = None
    if exports_dir is not None:  # the day's audience exports, swapped in with the marts
        exports = Path(shutil.copytree(exports_dir, publish_dir / f"exports.{generation}"))

    # swap: the DuckDB file by rename, the Parquet (and exports) generation by replacing symlinks
    os.replace(tmp_db, publish_dir / PUBLISHED_DB)
    _swap_link(publish_dir, "parquet", parquet_dir.name, generation)
    if exports is not None:
        _swap_link(publish_dir, "exports", exports.name, generation)

    manifest = {
        "as_of_date": as_of_date,
        "run_id": run_id,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": str(publish_dir / PUBLISHED_DB),
        "parquet_dir": str(publish_dir / "parquet"),
        "storage_version": STORAGE_VERSION,
        "row_counts": counts,
        "held_back": held,
        "exports_dir": str(publish_dir / "exports") if exports is not None else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    tmp_manifest = publish_dir / f".{MANIFEST}.{generation}.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp_manifest, publish_dir / MANIFEST)
    return manifest


def _swap_link(publish_dir: Path, name: str, target_name: str, generation: str) -> None:
    """Point the symlink ``publish_dir/name`` at ``target_name`` atomically; remove generations
    older than the one it pointed to (readers may still be in that one)."""
    link_tmp = publish_dir / f".{name}.{generation}.link"
    link_tmp.symlink_to(target_name)
    current = publish_dir / name
    if current.is_dir() and not current.is_symlink():
        # a plain folder (e.g. copied without its symlink): move it aside, the next publish removes it
        current.rename(publish_dir / f"{name}.moved-{generation}")
    old_target = os.readlink(current) if current.is_symlink() else None
    os.replace(link_tmp, current)
    for stale in publish_dir.glob(f"{name}.*"):
        if stale.name not in (target_name, old_target):
            shutil.rmtree(stale, ignore_errors=True)


def publish_docs(
    warehouse: Path,
    publish_dir: Path,
    as_of_date: str,
    project_dir: Path,
    parse: Path | None = None,
) -> Path:
    """``dbt docs generate --static`` against ``warehouse`` (after a successful build), then swap
    the single-file site into ``publish_dir/docs/index.html`` atomically. Returns its path.
    ``parse``: a dbt partial_parse.msgpack saved with the same vars and profile (the run's dbt build),
    so dbt re-parses only what changed."""
    publish_dir = Path(publish_dir)
    target = publish_dir / f".docs-target-{uuid.uuid4().hex[:6]}"
    use_saved_parse(parse, target)
    env = {**os.environ, **dbt_env(), "CRM_DUCKDB_PATH": str(warehouse)}
    cmd = dbt_command(
        ["docs", "generate", "--static", "--quiet", "--target-path", str(target)],
        {"as_of_date": as_of_date},
    )
    try:
        proc = subprocess.run(cmd, cwd=project_dir, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt docs generate failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
        docs = publish_dir / DOCS_DIR
        docs.mkdir(parents=True, exist_ok=True)
        tmp = docs / f".index.html.{uuid.uuid4().hex[:6]}.tmp"
        shutil.copyfile(target / "static_index.html", tmp)
        os.replace(tmp, docs / "index.html")
        return docs / "index.html"
    finally:
        shutil.rmtree(target, ignore_errors=True)
