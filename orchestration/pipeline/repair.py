"""A damaged warehouse: found before a run starts, rebuilt by `crm repair`.

A warehouse file cut short (the disk filled, the machine stopped while DuckDB wrote it) or otherwise
unreadable fails every step that opens it. ``warehouse_problem`` opens it read-only and reads its
catalog (a fraction of a second), so `crm run` stops before the job with ``damaged_message``, and a
run launched from the Dagster UI or the schedule fails its first step with the same message instead
of being retried for minutes.

What the warehouse holds that is not in the landing files or the raw zone is the load log (``raw._load_log``: which
file was loaded when, with which checksum) and the load time of every raw row (``_loaded_at``, which
decides which of two versions of a record supersedes the other). After each ingest the load log is
copied beside the warehouse (``<warehouse>.load_log.parquet``, ``save_load_log``), so a rebuild
keeps both:

- ``rebuild_raw``: the damaged file is moved aside (``<warehouse>.damaged-<time>``). The raw rows
  are not in the DuckDB file but in the raw zone beside it (decision 146): when the zone holds the
  file of every loaded file of the load log's copy, a new warehouse gets that load log and views
  over those files, and no landing file is read. Otherwise a new warehouse loads exactly the files
  of the load log, and each file's rows and log row get their original load time back; a file whose
  content changed since it was loaded is reported (its current content is loaded). The models are
  then rebuilt by the daily job (`crm repair` runs it).
- the contact log (what was sent: orchestration/activation/contact_log.py) is not in the landing
  files either: it is copied beside the warehouse too, and ``rebuild_raw`` puts it back.
- ``restore_published``: the damaged file is moved aside and the last published marts
  (``crm_marts.duckdb``) become the warehouse, so `crm summary` and the checks have marts at once;
  it has no raw layer, so the next run loads every landing file again (with that run's load time).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.sql_text import duckdb_text

LOAD_LOG_COPY_SUFFIX = ".load_log.parquet"
# DuckDB's words for a file it cannot read as a database (not a lock held by another process, not
# a file written by a newer DuckDB: those have their own messages)
DAMAGE_MARKERS = (
    "could not read enough bytes",
    "not a valid duckdb database",
    "corrupt",
    "checksum",
    "failed to load metadata",
    "serialization error",
    "internal error",
)


class WarehouseDamagedError(RuntimeError):
    """The warehouse file cannot be read; the message says what to do."""


def load_log_copy(database: str | Path) -> Path:
    return Path(f"{database}{LOAD_LOG_COPY_SUFFIX}")


def is_damage(error: BaseException) -> bool:
    text = str(error).lower()
    return (
        isinstance(error, duckdb.Error)
        and "could not set lock" not in text
        and any(marker in text for marker in DAMAGE_MARKERS)
    )


def damaged_message(database: str | Path, error: BaseException | str) -> str:
    reason = " ".join(str(error).split())[:300]
    has_log = load_log_copy(database).exists()
    return (
        f"The warehouse {database} is damaged and cannot be read ({reason}). This happens when the "
        "disk fills up or the machine stops while the warehouse is written. Nothing was run; BI keeps "
        "the last published marts. To rebuild it: `crm repair` (reads the raw zone, or reloads the landing files "
        + (
            "listed in the load log kept beside the warehouse, in the order and with the load times they were loaded"
            if has_log
            else "up to the last published day (no copy of the load log was found: every file gets today's load time)"
        )
        + ", then runs the daily job; the damaged file is kept aside), or `crm repair --from-published` "
        "(the last published marts become the warehouse at once; the next run reloads the landing files)."
    )


def warehouse_problem(database: str | Path) -> str | None:
    """The message saying ``database`` is damaged and what to do; None when it is missing (a first
    run creates it), opens and its catalog reads, or fails for another reason (a lock held by a
    process outside the pipeline, a newer DuckDB's file), which the step that opens it reports.
    Call it under the warehouse's lock."""
    path = Path(database)
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("select count(*) from duckdb_tables()").fetchone()
    except duckdb.Error as exc:
        return damaged_message(path, exc) if is_damage(exc) else None
    return None


def save_load_log(database: str | Path) -> Path | None:
    """Copy ``raw._load_log`` beside the warehouse (written to a temporary name, then renamed).
    Call it under the write lock after an ingest. None when the warehouse has no load log yet."""
    target = load_log_copy(database)
    tmp = target.with_name(f".{target.name}.tmp")
    with duckdb.connect(str(database), read_only=True) as con:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = '_load_log'"
        ).fetchone()[0]
        if not exists:
            return None
        con.execute(
            f"copy (select * from raw._load_log order by loaded_at, table_name, file_path) "
            f"to {duckdb_text(tmp)} (format parquet)"
        )
    os.replace(tmp, target)
    return target


def move_aside(database: Path) -> Path | None:
    """Rename the damaged file (and its write-ahead log) to ``<name>.damaged-<time>``."""
    if not database.exists():
        return None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = database.with_name(f"{database.name}.damaged-{stamp}")
    database.rename(aside)
    wal = Path(f"{database}.wal")
    if wal.exists():
        wal.rename(Path(f"{aside}.wal"))
    return aside


@dataclass
class RepairReport:
    damaged_copy: Path | None
    files_loaded: int = 0
    rows_loaded: int = 0
    load_log: str = ""
    changed_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    contact_log_rows: int = 0

    def lines(self) -> list[str]:
        out = [
            f"damaged file kept as {self.damaged_copy}" if self.damaged_copy else "no damaged file",
            f"{self.files_loaded} landing files loaded ({self.rows_loaded:,} rows); {self.load_log}",
            f"{self.contact_log_rows:,} contact log rows kept (what was sent)",
        ]
        out += [f"CHANGED since it was loaded (its current content is loaded): {p}" for p in self.changed_files]
        out += [
            f"MISSING (in the load log, not in the landing folder; its rows are not restored): {p}"
            for p in self.missing_files
        ]
        return out


def _read_load_log(database: Path) -> tuple[list[tuple], str]:
    """The load log's rows (table_name, file_path, checksum, loaded_at) of loaded files, oldest
    first: from the copy beside the warehouse, else from the damaged file itself if its load log
    still reads; ([], why) when neither."""
    sql = (
        "select table_name, file_path, checksum, loaded_at from {src} "
        "where status in ('loaded', 'empty') order by loaded_at, table_name, file_path"
    )
    copy = load_log_copy(database)
    if copy.exists():
        with duckdb.connect() as con:
            return con.execute(sql.format(src=f"read_parquet({duckdb_text(copy)})")).fetchall(), f"load log from {copy}"
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute(sql.format(src="raw._load_log")).fetchall(), "load log read from the damaged file"
    except duckdb.Error:
        return (
            [],
            "no load log found: every landing file up to the run's day is loaded with today's load time",
        )


def _zone_log(database: Path) -> Path | None:
    """The load log copy when it names a raw zone file for every loaded file and all of them are
    there (the raw rows need no landing file), else None."""
    from orchestration.ingest.load import raw_zone

    copy = load_log_copy(database)
    if not copy.exists():
        return None
    with duckdb.connect() as con:
        source = "read_parquet(?)"
        columns = {r[0] for r in con.execute(f"describe select * from {source}", [str(copy)]).fetchall()}
        if "raw_file" not in columns:
            return None
        files = con.execute(
            f"select table_name, raw_file from {source} where status = 'loaded'", [str(copy)]
        ).fetchall()
    zone = raw_zone(database)
    return copy if all(name and (zone / table / name).is_file() for table, name in files) else None


def _rebuild_from_zone(database: Path, copy: Path, report: RepairReport) -> None:
    """A new warehouse whose load log is the copy's and whose raw views read the raw zone."""
    from orchestration.ingest.load import connect_warehouse, ensure_load_log, sync_raw_zone

    con = connect_warehouse(database)
    try:
        ensure_load_log(con)
        con.execute("insert into raw._load_log by name select * from read_parquet(?)", [str(copy)])
        sync_raw_zone(con, database)  # the views, over the files the log names
        report.files_loaded, report.rows_loaded = con.execute(
            "select count(*), coalesce(sum(row_count), 0) from raw._load_log where status in ('loaded', 'empty')"
        ).fetchone()
    finally:
        con.close()


def rebuild_raw(database: Path, landing: Path) -> RepairReport:
    """Move the damaged warehouse aside and rebuild its raw layer: from the raw zone and the load
    log's copy when the zone holds every logged file (no landing file is read), else by loading, into
    a new warehouse, the landing files the load log lists, each with its original load time (rows
    and log). Without a load log nothing is loaded here (the daily job that follows loads every file
    up to its day)."""
    from orchestration.ingest.load import ingest

    database, landing = Path(database), Path(landing)
    from orchestration.activation.contact_log import restore as restore_contact_log

    zone_log = _zone_log(database)
    if zone_log is not None:
        report = RepairReport(move_aside(database), load_log=f"raw zone and load log from {zone_log}")
        _rebuild_from_zone(database, zone_log, report)
        report.contact_log_rows = restore_contact_log(database, report.damaged_copy)
        return report
    logged, source = _read_load_log(database)
    report = RepairReport(move_aside(database), load_log=source)
    if not logged:
        report.contact_log_rows = restore_contact_log(database, report.damaged_copy)
        return report
    stage = Path(tempfile.mkdtemp(prefix=".repair-landing-", dir=database.parent))
    try:
        for table, rel, _checksum, _loaded_at in logged:
            src = landing / table / rel
            if not src.exists():
                report.missing_files.append(str(src))
                continue
            link = stage / table / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(src.resolve())
        # the logged files only, each with the load time it was first loaded at
        times = {(table, rel): loaded_at for table, rel, _checksum, loaded_at in logged}
        result = ingest(stage, database, verbose=False, map_exports=False, load_times=times)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    report.files_loaded = sum(t.files_new for t in result.tables.values())
    report.rows_loaded = result.rows_loaded
    import pandas as pd

    original = pd.DataFrame(logged, columns=["table_name", "file_path", "checksum", "loaded_at"])
    with duckdb.connect(str(database)) as con:
        con.register("original_log", original)
        report.changed_files = [
            f"{landing / t / p}"
            for t, p in con.execute(
                "select log.table_name, log.file_path from raw._load_log as log join original_log as o "
                "using (table_name, file_path) where log.checksum <> o.checksum order by 1, 2"
            ).fetchall()
        ]
    save_load_log(database)
    # what was sent is not in the landing files: the log comes back from its copy
    report.contact_log_rows = restore_contact_log(database, report.damaged_copy)
    return report


def restore_published(database: Path, published: Path) -> Path | None:
    """Move the damaged warehouse aside and copy the last published marts in its place. Returns
    where the damaged file went."""
    if not Path(published).exists():
        raise FileNotFoundError(
            f"no published copy at {published}: run `crm repair` (without --from-published) to "
            "rebuild the warehouse from the landing files"
        )
    aside = move_aside(Path(database))
    tmp = Path(database).with_name(f".{Path(database).name}.restoring")
    shutil.copyfile(published, tmp)
    os.replace(tmp, database)
    return aside
