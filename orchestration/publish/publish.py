"""Publish the marts for BI: a read-only DuckDB file and Parquet files, swapped in atomically,
rewriting only what changed.

Layout of the publish directory (``$CRM_PUBLISH_DIR``, default ``data/published``):

    crm_marts.duckdb          the marts (schema ``marts``) as of the last successful run: each a
                              table (a mart built as a view in the warehouse is copied as a table),
                              except the large facts (``PARTITIONED``), which are views over their
                              Parquet partitions, so BI tools see the same names
    parquet/ -> parquet.<id>  symlink to the current Parquet generation: one file per mart, and a
                              folder per large fact with one folder per month
                              (``fct_sessions/month=2025-06/part_0.parquet``)
    parquet/checksums.json    the content checksum of each mart (rows, a hash sum of its rows, its
                              columns and types; per month for a large fact)
    manifest.json             as_of_date, run id, published time, row counts, what was rewritten
    docs/index.html           the dbt docs site (``dbt docs generate --static``) of the build,
                              showing the SQL each node ran with

Proportional to what changed: a mart whose checksum equals the one published before is not
rewritten. The new DuckDB file starts as a copy of the published one (only small marts live in it)
and only changed marts are replaced in it; an unchanged Parquet file or month folder is a hard link
to the previous generation's, and only the months whose checksum changed are written. A first
publish, a previous publish without checksums or one made by another DuckDB version writes
everything.

The DuckDB file is written in an older storage format (``STORAGE_VERSION``, default
``v1.0.0``, override with ``$CRM_PUBLISH_STORAGE_VERSION``) so that the DuckDB 1.x bundled by BI
tools (Superset's duckdb-engine, the Metabase driver, Evidence) can open it as well as newer DuckDBs.

The new DuckDB file is written under a temporary name in the same directory and moved over the old
one with ``os.replace`` (an atomic rename). A BI tool holding the old file open keeps reading the
old file until it reconnects: it never blocks the build and never sees a half-built state. The
Parquet generation is switched by replacing the ``parquet`` symlink, also atomically; the previous
generation is kept for readers that are still in it (the views of the previous DuckDB file read it)
and removed on the next publish. The views name their generation's folder by its absolute path: a
copied publish folder is published again by the next run.

A publish that was killed or ran out of disk leaves its temporary files (``.crm_marts.duckdb.<id>.tmp``
and its ``.tmp.wal``, a half-written Parquet generation, a docs target folder); they are removed
when the next run starts and again before each publish (``remove_stale_files``), both under the
warehouse's write lock, so no publish is in progress then.
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

from orchestration.dbt import dbt_env, run_dbt_in
from orchestration.sql_text import duckdb_text

PUBLISHED_DB = "crm_marts.duckdb"
MANIFEST = "manifest.json"
DOCS_DIR = "docs"
# the oldest storage format DuckDB writes that every DuckDB >= 0.10 (so every 1.x) reads
STORAGE_VERSION = os.environ.get("CRM_PUBLISH_STORAGE_VERSION", "v1.0.0")
CHECKSUMS = "checksums.json"
# the large facts, published as Parquet partitioned by the month of this column, read through views
PARTITIONED = {
    "fct_sessions": "session_date",
    "customer_portfolio_monthly": "month_end_date",
    "fct_orders": "order_date",
}


def mart_parquet(parquet_dir: Path, mart: str) -> Path:
    """Where a mart's Parquet copy is: ``<mart>.parquet``, or for a large fact the folder of its
    months (``<mart>/month=YYYY-MM/``), which ``pandas.read_parquet`` and DuckDB read whole."""
    return Path(parquet_dir) / (mart if mart in PARTITIONED else f"{mart}.parquet")


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
    """Publish every mart of ``warehouse`` into a new read-only DuckDB file and Parquet generation,
    rewriting only the marts (and the months of a large fact) whose content changed, then swap
    them in atomically. Returns the manifest written.

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
    previous_db = publish_dir / PUBLISHED_DB
    previous_dir = (
        (publish_dir / os.readlink(publish_dir / "parquet")) if (publish_dir / "parquet").is_symlink() else None
    )
    before = _read_checksums(previous_dir) if previous_db.exists() else None
    if before is not None:  # start from the published file: unchanged marts are not rewritten
        shutil.copyfile(previous_db, tmp_db)
    t0 = time.perf_counter()
    con = duckdb.connect(config=duckdb_config())
    try:
        con.execute(f"attach {duckdb_text(tmp_db)} as published (storage_version '{STORAGE_VERSION}')")
        con.execute(f"attach {duckdb_text(warehouse)} as warehouse (read_only)")
        marts = mart_names(con, "warehouse")
        if not marts:
            raise RuntimeError(f"no marts in {warehouse}: run the dbt build before publishing")
        con.execute("create schema if not exists published.marts")
        in_copy = set(mart_names(con, "published"))
        kept: list[str] = []
        attached_previous = bool(set(hold_back) & set(marts)) and previous_db.exists() and before is None
        if attached_previous:
            con.execute(f"attach {duckdb_text(previous_db)} as previous (read_only)")
            kept = [m for m in mart_names(con, "previous") if m in hold_back]
        elif before is not None:
            kept = [m for m in in_copy if m in hold_back and m in before["marts"]]
        held = {
            m: {
                "reason": hold_back[m],
                "published": "previous version" if m in kept else "not published",
            }
            for m in marts
            if m in hold_back
        }
        for gone in sorted(in_copy - (set(marts) - (set(hold_back) - set(kept)))):
            _drop(con, gone)
        counts: dict[str, int] = {}
        checksums: dict[str, dict] = {}
        rewritten: dict[str, str] = {}
        for mart in marts:
            if mart in hold_back and mart not in kept:
                continue
            if mart in kept and before is not None:  # the published version stays as it is
                checksums[mart] = before["marts"][mart]
                counts[mart] = checksums[mart]["rows"]
                _link_previous(previous_dir, parquet_dir, mart)
                if mart in PARTITIONED and checksums[mart]["rows"]:  # its view reads this generation
                    _view_over_months(con, mart, parquet_dir / mart)
                continue
            source = "previous" if mart in kept else "warehouse"
            old = (before or {"marts": {}})["marts"].get(mart) if mart in in_copy else None
            try:
                checksums[mart] = _checksum(con, f"{source}.marts.{mart}", PARTITIONED.get(mart))
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
            counts[mart] = checksums[mart]["rows"]
            if mart in PARTITIONED:
                rewritten[mart] = _publish_partitioned(
                    con, source, mart, checksums[mart], old, previous_dir, parquet_dir
                )
            elif old is not None and old == checksums[mart] and _link_previous(previous_dir, parquet_dir, mart):
                rewritten[mart] = "unchanged"
            else:
                _drop(con, mart)
                con.execute(f"create table published.marts.{mart} as select * from {source}.marts.{mart}")
                con.execute(
                    f"copy published.marts.{mart} to {duckdb_text(mart_parquet(parquet_dir, mart))} "
                    "(format parquet, compression zstd)"
                )
                rewritten[mart] = "rewritten"
        con.execute("detach warehouse")
        if attached_previous:
            con.execute("detach previous")
        con.execute("checkpoint published")
        con.execute("detach published")
        (parquet_dir / CHECKSUMS).write_text(
            json.dumps({"duckdb": duckdb.__version__, "marts": checksums}, indent=1, sort_keys=True)
        )
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
        "rewritten": rewritten,
        "held_back": held,
        "exports_dir": str(publish_dir / "exports") if exports is not None else None,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    tmp_manifest = publish_dir / f".{MANIFEST}.{generation}.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp_manifest, publish_dir / MANIFEST)
    return manifest


def _read_checksums(previous_dir: Path | None) -> dict | None:
    """The checksums the previous generation was published with, or None (publish everything) when
    there are none or another DuckDB version computed them (its hash may differ)."""
    path = previous_dir / CHECKSUMS if previous_dir is not None else None
    if path is None or not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return None
    return saved if saved.get("duckdb") == duckdb.__version__ and isinstance(saved.get("marts"), dict) else None


def _checksum(con: duckdb.DuckDBPyConnection, relation: str, month_column: str | None) -> dict:
    """A mart's content checksum: its columns and types, its row count, and the sum of its rows'
    hashes (order-free, a repeated row counts twice); per month of ``month_column`` for a large fact."""
    columns = con.execute(f"describe select * from {relation}").fetchall()
    result: dict = {"columns": [[c[0], c[1]] for c in columns]}
    if month_column is None:
        rows, total = con.execute(
            f"select count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar from {relation} as t"
        ).fetchone()
        return {**result, "rows": rows, "sum": total}
    parts = con.execute(
        f"select {_month(month_column)} as month, count(*), coalesce(sum(hash(t)::hugeint), 0)::varchar "
        f"from {relation} as t group by 1 order by 1"
    ).fetchall()
    return {**result, "rows": sum(p[1] for p in parts), "months": {p[0]: f"{p[1]}:{p[2]}" for p in parts}}


def _month(column: str) -> str:
    return f"coalesce(strftime(t.{column}, '%Y-%m'), 'none')"


def _publish_partitioned(
    con: duckdb.DuckDBPyConnection,
    source: str,
    mart: str,
    checksum: dict,
    old: dict | None,
    previous_dir: Path | None,
    parquet_dir: Path,
) -> str:
    """Write the months of a large fact whose checksum changed, link the others from the previous
    generation, and make the published mart a view over its months. Returns what was written."""
    folder = parquet_dir / mart
    months = checksum["months"]
    same_columns = old is not None and old.get("columns") == checksum["columns"] and previous_dir is not None
    unchanged = [
        m
        for m, value in months.items()
        if same_columns and old.get("months", {}).get(m) == value and (previous_dir / mart / f"month={m}").is_dir()
    ]
    changed = sorted(set(months) - set(unchanged))
    if changed:
        listed = ", ".join(duckdb_text(m) for m in changed)
        con.execute(
            f"copy (select t.*, {_month(PARTITIONED[mart])} as month from {source}.marts.{mart} as t "
            f"where {_month(PARTITIONED[mart])} in ({listed})) to {duckdb_text(folder)} "
            "(format parquet, compression zstd, partition_by (month), filename_pattern 'part_{i}')"
        )
    for m in unchanged:
        target = folder / f"month={m}"
        target.mkdir(parents=True, exist_ok=True)
        for file in (previous_dir / mart / f"month={m}").iterdir():
            os.link(file, target / file.name)
    if months:
        _view_over_months(con, mart, folder)
    else:  # no rows, no file: an empty table with the mart's columns
        _drop(con, mart)
        con.execute(f"create table published.marts.{mart} as select * from {source}.marts.{mart}")
    return f"{len(changed)} of {len(months)} months"


def _view_over_months(con: duckdb.DuckDBPyConnection, mart: str, folder: Path) -> None:
    """The published mart as a view over its month folders (the columns and order of the mart)."""
    _drop(con, mart)
    files = duckdb_text(f"{folder}/*/*.parquet")
    con.execute(f"create view published.marts.{mart} as select * from read_parquet({files}, hive_partitioning = false)")


def _link_previous(previous_dir: Path | None, parquet_dir: Path, mart: str) -> bool:
    """Hard-link a mart's Parquet copy from the previous generation (a file, or a large fact's month
    folders); False when there is none to link."""
    if previous_dir is None:
        return False
    file = previous_dir / f"{mart}.parquet"
    if file.is_file():
        os.link(file, parquet_dir / file.name)
        return True
    folder = previous_dir / mart
    if not folder.is_dir():
        return False
    for path in folder.rglob("*.parquet"):
        target = parquet_dir / mart / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    return True


def _drop(con: duckdb.DuckDBPyConnection, mart: str) -> None:
    """Drop a mart of the published file, a table or a view."""
    kind = con.execute(
        "select table_type from information_schema.tables where table_catalog = 'published' "
        "and table_schema = 'marts' and table_name = ?",
        [mart],
    ).fetchone()
    if kind is not None:
        con.execute(f"drop {'view' if kind[0] == 'VIEW' else 'table'} published.marts.{mart}")


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


def built_manifest(manifests: list[Path]) -> dict | None:
    """One manifest in which every model, test and snapshot holds the SQL a build ran, from the
    manifests of the build's dbt commands (oldest first; each holds the compiled SQL of the nodes
    it ran), or None when a node was compiled by none of them or the commands parsed different
    projects."""
    loaded = [json.loads(path.read_text(encoding="utf-8")) for path in manifests]
    if not loaded or len({frozenset(m["nodes"]) for m in loaded}) != 1:
        return None
    merged = loaded[-1]
    for manifest in reversed(loaded[:-1]):  # where two compiled a node, the newer one's SQL is kept
        for unique_id, node in manifest["nodes"].items():
            if node.get("compiled") and not merged["nodes"][unique_id].get("compiled"):
                merged["nodes"][unique_id] = node
    kinds = ("model", "test", "snapshot")
    if any(n["resource_type"] in kinds and not n.get("compiled") for n in merged["nodes"].values()):
        return None
    return merged


def publish_docs(
    warehouse: Path,
    publish_dir: Path,
    as_of_date: str,
    parse: Path | None = None,
    built: list[Path] | None = None,
) -> Path:
    """``dbt docs generate --static`` against ``warehouse`` (after a successful build), then swap
    the single-file site into ``publish_dir/docs/index.html`` atomically. Returns its path.
    ``parse``: a dbt partial_parse.msgpack saved with the same vars and profile (the run's dbt build),
    so dbt re-parses only what changed. ``built``: the manifests of the build's dbt commands; when
    together they hold every node's compiled SQL, the site shows that SQL and dbt does not compile
    the project again (``--no-compile``: it then embeds the manifest found in its target folder),
    about a third of the docs' time (decision 151); else dbt compiles every node itself."""
    publish_dir = Path(publish_dir)
    target = publish_dir / f".docs-target-{uuid.uuid4().hex[:6]}"
    ran = built_manifest(built or [])
    if ran is not None:
        target.mkdir(parents=True, exist_ok=True)
        (target / "manifest.json").write_text(json.dumps(ran), encoding="utf-8")
    try:
        run_dbt_in(
            target,
            ["docs", "generate", "--static", "--quiet"] + (["--no-compile"] if ran is not None else []),
            {"as_of_date": as_of_date},
            {**dbt_env(), "CRM_DUCKDB_PATH": str(warehouse)},
            parse,
        )
        docs = publish_dir / DOCS_DIR
        docs.mkdir(parents=True, exist_ok=True)
        tmp = docs / f".index.html.{uuid.uuid4().hex[:6]}.tmp"
        shutil.copyfile(target / "static_index.html", tmp)
        os.replace(tmp, docs / "index.html")
        return docs / "index.html"
    finally:
        shutil.rmtree(target, ignore_errors=True)
