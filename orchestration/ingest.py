"""Incremental ingest: landing files -> DuckDB schema ``raw``.

- One raw table per contract table, every contract column as text (types are checked in
  staging, so a bad value becomes a quarantine row with its reason instead of a failed load),
  plus ``_source_file`` (path relative to the table folder), ``_row_number`` (1-based row in that
  file) and ``_loaded_at``.
- ``raw._load_log`` records every file: path, sha256 checksum, rows, status, time. A file loaded
  once is never loaded again, so running ingest twice changes nothing.
- Files are loaded in batches, each batch in one transaction together with its log rows: a crash
  leaves either the whole batch or none of it, so a rerun picks up exactly what is missing.
- A file that cannot be read is reported with its path and skipped (status ``failed``; retried on
  the next run), the other files and tables still load.
- A missing optional table folder becomes an empty table of the right shape.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.contract import (
    FILE_SUFFIXES,
    REQUIRED_TABLES,
    TABLE_COLUMNS,
    landing_dir,
    warehouse_path,
)

LOAD_LOG_DDL = """
create table if not exists raw._load_log (
    table_name varchar not null,
    file_path varchar not null,
    checksum varchar not null,
    row_count bigint,
    status varchar not null,   -- loaded | failed
    message varchar,
    loaded_at timestamp not null default current_timestamp
)
"""


@dataclass
class TableReport:
    table: str
    files_new: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    missing_folder: bool = False


@dataclass
class IngestReport:
    tables: dict[str, TableReport] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.tables.values())

    @property
    def failed(self) -> list[tuple[str, str, str]]:
        return [(t.table, p, m) for t in self.tables.values() for p, m in t.failed]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_file(path: Path) -> pa.Table:
    """Read a landing file with every column as text; column names lower-cased and trimmed."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's UTF-8 BOM
            header = next(csv.reader(fh), None)
        if not header:
            raise ValueError("the CSV file has no header row")
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
    return table.rename_columns([name.lstrip("\ufeff").strip().lower() for name in table.column_names])


def _to_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    if pa.types.is_timestamp(kind):
        # ISO text; a zone-aware timestamp keeps its instant (written in UTC with 'Z'), a naive one
        # stays naive and is read in the business time zone by staging.
        fmt = "%Y-%m-%dT%H:%M:%S" if kind.tz is None else "%Y-%m-%dT%H:%M:%SZ"  # %S has the fraction
        if kind.tz is not None:
            column = column.cast(pa.timestamp(kind.unit, "UTC"))
        return pc.strftime(column, format=fmt)
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    return column.cast(pa.string())


def _conform(table: pa.Table, columns: list[str], rel_path: str) -> pa.Table:
    n = table.num_rows
    arrays = {}
    for name in columns:
        if name in table.column_names:
            arrays[name] = _to_text(table.column(name))
        else:
            arrays[name] = pa.nulls(n, pa.string())
    arrays["_source_file"] = pa.array([rel_path] * n, pa.string())
    arrays["_row_number"] = pa.array(range(1, n + 1), pa.int64())
    return pa.table(arrays)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema raw, the load log and every contract table (empty, typed) if missing."""
    con.execute("create schema if not exists raw")
    con.execute(LOAD_LOG_DDL)
    for table, columns in TABLE_COLUMNS.items():
        cols = ", ".join(f"{c} varchar" for c in columns)
        con.execute(
            f"create table if not exists raw.{table} ({cols}, _source_file varchar not null, "
            "_row_number bigint not null, _loaded_at timestamp not null default current_timestamp)"
        )


def list_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)


_DATED = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")


def file_is_due(path: Path, up_to: date | None) -> bool:
    """A file named by a day (2025-06-01...) or month (2025-06...) is due once that day / month has
    begun by ``up_to``; a file with any other name is always due."""
    if up_to is None:
        return True
    match = _DATED.match(path.name)
    if not match:
        return True
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        return date(year, month, day) <= up_to
    except ValueError:
        return True


BATCH_ROWS = 2_000_000


def _commit_batch(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    batch: list[tuple[str, str, pa.Table]],
    rep: TableReport,
    on_batch: Callable[[str, pa.Table], None] | None = None,
) -> None:
    """Insert a batch of files and their load-log rows in one transaction (all or nothing)."""
    if not batch:
        return
    incoming = pa.concat_tables([data for _, _, data in batch])
    if on_batch is not None:
        on_batch(table, incoming)
    con.execute("begin transaction")
    try:
        con.register("incoming", incoming)
        con.execute(
            f"insert into raw.{table} ({', '.join(columns)}, _source_file, _row_number) "
            f"select {', '.join(columns)}, _source_file, _row_number from incoming"
        )
        con.unregister("incoming")
        con.executemany(
            "insert into raw._load_log (table_name, file_path, checksum, row_count, status) "
            "values (?, ?, ?, ?, 'loaded')",
            [[table, rel, checksum, data.num_rows] for rel, checksum, data in batch],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    rep.files_new += len(batch)
    rep.rows_loaded += incoming.num_rows


def ingest(
    landing: Path | None = None,
    database: Path | None = None,
    tables: list[str] | None = None,
    verbose: bool = True,
    up_to: date | None = None,
    on_batch: Callable[[str, pa.Table], None] | None = None,
) -> IngestReport:
    """Load every landing file not loaded before. ``up_to`` loads only files named for that day or
    earlier (what a daily partition does). ``on_batch(table, rows)`` sees every batch before it is
    committed (the landing quality gate)."""
    landing = Path(landing or landing_dir())
    database = Path(database or warehouse_path())
    database.parent.mkdir(parents=True, exist_ok=True)
    report = IngestReport()
    t0 = time.perf_counter()
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing directory {landing} does not exist: generate sample data with "
            f"`crm-generate --out {landing}` or set CRM_LANDING_DIR to your shop's files"
        )
    con = duckdb.connect(str(database))
    try:
        ensure_raw_tables(con)
        for table in tables or list(TABLE_COLUMNS):
            columns = TABLE_COLUMNS[table]
            rep = report.tables.setdefault(table, TableReport(table))
            folder = landing / table
            if not folder.is_dir():
                rep.missing_folder = True
                if table in REQUIRED_TABLES and verbose:
                    print(f"[ingest] WARNING: required folder {folder} is missing: every mart will be empty")
            known = dict(
                con.execute(
                    "select file_path, checksum from raw._load_log where table_name = ? and status = 'loaded'",
                    [table],
                ).fetchall()
            )
            pending: list[tuple[str, str, pa.Table]] = []
            for path in list_files(folder):
                rel = path.relative_to(folder).as_posix()
                if not file_is_due(path, up_to):
                    continue
                if rel in known:
                    rep.files_skipped += 1
                    continue
                checksum = _sha256(path)
                try:
                    data = _conform(_read_file(path), columns, rel)
                except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal
                    message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                    rep.failed.append((str(path), message))
                    con.execute(
                        "insert into raw._load_log (table_name, file_path, checksum, row_count, status, message) "
                        "values (?, ?, ?, null, 'failed', ?)",
                        [table, rel, checksum, message],
                    )
                    continue
                pending.append((rel, checksum, data))
                if sum(d.num_rows for _, _, d in pending) >= BATCH_ROWS:
                    _commit_batch(con, table, columns, pending, rep, on_batch)
                    pending = []
            _commit_batch(con, table, columns, pending, rep, on_batch)
            if verbose:
                line = (
                    f"[ingest {time.perf_counter() - t0:6.1f}s] {table:<16} {rep.files_new:>5} new files, "
                    f"{rep.rows_loaded:>10,} rows loaded, {rep.files_skipped:>5} already loaded"
                )
                if rep.missing_folder:
                    line += " (no folder: empty table)"
                print(line, flush=True)
                for bad_path, message in rep.failed:
                    print(
                        f"[ingest] could not read {bad_path}: {message}. Skipped; fix or replace the "
                        "file (a new name that sorts after it) and it is picked up on the next run.",
                        flush=True,
                    )
    finally:
        con.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm-ingest",
        description="Load new landing files (CSV or Parquet) into the DuckDB schema raw. "
        "Files already loaded are skipped; unreadable files are reported and skipped.",
    )
    parser.add_argument("--landing", type=Path, default=None, help="landing directory (default $CRM_LANDING_DIR or data/landing)")
    parser.add_argument("--database", type=Path, default=None, help="DuckDB file (default $CRM_DUCKDB_PATH or data/warehouse.duckdb)")
    args = parser.parse_args(argv)
    report = ingest(args.landing, args.database)
    print(f"[ingest] {report.rows_loaded:,} rows loaded, {len(report.failed)} files could not be read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
