"""Incremental ingest: landing files -> the raw zone (Parquet files) read as DuckDB schema ``raw``.

- Each landed file is kept once in a Parquet file of the raw zone beside the warehouse file
  (``data/warehouse.duckdb`` -> ``data/warehouse.raw/<table>/``, decision 146; the files of one
  batch loaded at the same time and read the same way share one zone file, decision 149): every contract
  column as text (types are checked in staging, so a bad value becomes a quarantine row with its
  reason instead of a failed load), plus ``_source_file`` (path relative to the table folder),
  ``_row_number`` (1-based row in that file) and ``_loaded_at``. A zone file is written once and
  never rewritten, except by an erasure (which writes a new one). Its name (load time, a hash of the
  landing paths, the checksum or a hash of the checksums) never meets an earlier copy of a re-sent file.
- ``raw.<table>`` is a view over exactly the zone files the load log names (``raw_file``); the
  DuckDB file holds no raw rows. Opened for ingest, the views are written again with the zone's
  current path (a back-up is a copy of the whole folder, which may be opened elsewhere), a raw
  table of a warehouse from before the zone is moved into it, and a zone file the log does not name
  (a crash after writing it) is removed (``sync_raw_zone``).
- ``raw._load_log`` records every file: path, sha256 checksum, rows, status, time, zone file. A file
  loaded once is never loaded again, so running ingest twice changes nothing.
- ``_loaded_at`` is the load time of the ingest run (one value per run, later than every earlier
  run's, equal to the file's ``loaded_at`` in the load log): the load order that decides between two
  versions of a key before the file name does (a rebuild keeps it from the load log).
- Files are loaded in batches: a batch's files are written to the zone first, then the batch's
  log rows and the table's view are committed in one transaction: a crash leaves either the whole
  batch or none of it visible, so a rerun picks up exactly what is missing.
- Only ``*.csv`` / ``*.parquet`` files directly in a table's folder are read (suffix in any case);
  sub-folders (``archive/``) and hidden files (``.DS_Store``, macOS ``._*``) are ignored.
- CSV text is UTF-8 (with or without BOM) or, failing that, CP932 (Shift_JIS, what Japanese EC
  platforms and Excel write); the load log records the encoding. Quoted fields may hold line breaks.
  A CSV is decoded and parsed block by block (``CSV_BLOCK_BYTES``) and conformed into a staged
  Parquet file in the raw zone's folder, copied into the batch's zone file: what is held at a time
  is one block, whatever the file's size.
- A CSV line that cannot be split into the header's fields (a truncated last line, an extra
  field) does not lose the file: the other lines load, and the line is kept in ``_malformed_line``
  (quarantined downstream as ``malformed csv line``). Of a file with personal columns (e-mail,
  name, LINE id) or columns the contract does not name, only the line number, length and the
  fields that cannot hold such data are kept, never the text (``malformed_line``).
- A leading byte-order mark is stripped from every text field (a concatenated export carries one
  inside the file; it is never data).
- A file that cannot be read at all is reported with its path, reason and what to do (status
  ``failed``; retried on every run until it is fixed or removed), the other files and tables load.
- A file whose content changed after it was loaded (same path, other checksum) is reported as an
  error on every run; its new content is not loaded (re-send it under a new name that sorts later).
- Customers erased on request (orchestration/privacy/erase.py) stay erased: the rows of a re-sent
  file that name them get their tombstone id and no personal data (``apply_register_to_rows`` on
  the zone file, before it is committed), and a
  loaded file that held them may be edited to remove them without being reported as changed.
- An empty (0-byte) file is logged as loaded with 0 rows (status ``empty``, no zone file), not retried.
- A missing optional table folder becomes an empty view of the right shape.
- Parquet is read by DuckDB itself: one ``read_parquet`` per batch of files of one schema, copied
  into their zone file (``COPY ... TO``, streamed, not held in memory). Each column is written in
  SQL as the same text the Python path writes (``conform``, which CSV and the odd Parquet read by
  pyarrow use): names lower-cased and trimmed (``" Event_ID"`` -> ``event_id``), contract columns a
  file lacks are null, extra columns ignored; a naive timestamp as wall-clock
  ``YYYY-MM-DDTHH:MM:SS[.fraction in the column's unit]``, a zone-aware one as its instant in UTC
  with ``Z`` (``timezone('UTC', ...)``: the session TimeZone does not matter), booleans
  ``true``/``false``, integers, dates and decimals as DuckDB's plain text (equal to pyarrow's),
  floats through pyarrow's own cast (an Arrow UDF: same shortest digits and exponents).
  ``_row_number`` is ``file_row_number + 1``.
- A Parquet file whose column kinds or names have no SQL spelling here (zone-aware nanoseconds,
  binary, nested, names equal once normalised), or that DuckDB reads with other types than pyarrow
  (INT96 timestamps), is read by the Python path instead: the raw text never depends on the reader.
- A Parquet file DuckDB cannot read is read by the Python path; a file neither DuckDB nor pyarrow
  reads is reported as ``failed`` (no zone file).
- ``on_batch`` (the landing gate) is given each batch's raw zone files before the batch is
  committed, and reads the rows that split into fields (``_malformed_line is null``) from them: the
  gate validates in DuckDB, so it holds no batch in memory (decision 150). A gate that raises leaves
  no zone file and no log row of the batch. Batches hold up to ``BATCH_ROWS`` rows read in Python
  (odd Parquet) and up to ``NATIVE_BATCH_ROWS`` rows copied by DuckDB (Parquet, staged CSV).
- A row is identified by ``_source_file`` and ``_row_number`` (staging orders by them), not by its
  position.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.contract import (
    REQUIRED_COLUMNS,
    REQUIRED_TABLES,
    TABLE_COLUMNS,
)
from orchestration.ingest.files import (
    BOM,
    ReadResult,
    UnreadableFile,
    conform,
    file_day,
    file_is_due,
    list_files,
    normalise_name,
    open_csv_rows,
    read_file,
)
from orchestration.ingest.mapping import map_sources
from orchestration.privacy.register import CUSTOMER_TABLES, erased_hashes
from orchestration.progress import stage
from orchestration.settings import Settings, landing_dir, settings, warehouse_path
from orchestration.sql_text import duckdb_text

LOAD_LOG_DDL = """
create table if not exists raw._load_log (
    table_name varchar not null,
    file_path varchar not null,
    checksum varchar not null,
    row_count bigint,
    status varchar not null,   -- loaded | empty | failed
    message varchar,
    loaded_at timestamp not null default current_timestamp,
    encoding varchar,
    file_size bigint,
    file_mtime_ns bigint,
    malformed_lines bigint,
    erased_at timestamp,
    raw_file varchar
)
"""
# columns added after the first release: an existing warehouse gets them on its next ingest
LOAD_LOG_UPGRADE = [
    "alter table raw._load_log add column if not exists encoding varchar",
    "alter table raw._load_log add column if not exists file_size bigint",
    "alter table raw._load_log add column if not exists file_mtime_ns bigint",
    "alter table raw._load_log add column if not exists malformed_lines bigint",
    # set by an erasure (orchestration/privacy/erase.py) on the files that held the person
    "alter table raw._load_log add column if not exists erased_at timestamp",
    # the file of the raw zone holding the file's rows (decision 146)
    "alter table raw._load_log add column if not exists raw_file varchar",
]

WHAT_TO_DO = {
    "mapping": "fix the mapping (sources: in the settings, docs/mapping.md) or the export; `crm map --check "
    "<source>` shows it before anything is loaded. Nothing of the file was loaded; it is mapped again on every run",
    "failed": "fix the file or replace it (a new name that sorts after it); it is tried again on every run",
    "changed": "its new content was NOT loaded: restore the loaded version, and send the changes as a new "
    "file whose name sorts after it",
}


@dataclass
class FileProblem:
    """A landing file that was not loaded (``failed``: unreadable; ``changed``: altered after load;
    ``mapping``: a source export its mapping cannot map, orchestration/ingest/mapping.py)."""

    path: str
    kind: str
    reason: str

    @property
    def what_to_do(self) -> str:
        return WHAT_TO_DO[self.kind]

    def line(self) -> str:
        verb = {"failed": "could not be read", "mapping": "could not be mapped"}.get(
            self.kind, "changed after it was loaded"
        )
        return f"{self.path} {verb}: {self.reason}. What to do: {self.what_to_do}."


@dataclass
class TableReport:
    table: str
    files_new: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    malformed_lines: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    missing_folder: bool = False
    erased_rows: int = 0
    zone_files_merged: int = 0  # small raw zone files of closed months merged (decision 154)
    zone_files_made: int = 0  # into this many


@dataclass
class IngestReport:
    tables: dict[str, TableReport] = field(default_factory=dict)

    @property
    def rows_loaded(self) -> int:
        return sum(t.rows_loaded for t in self.tables.values())

    @property
    def problems(self) -> list[tuple[str, FileProblem]]:
        return [(t.table, p) for t in self.tables.values() for p in t.problems]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WarehouseTooNew(RuntimeError):
    """The warehouse file was written by a newer DuckDB than this project's (decision 76)."""


# The storage format of a warehouse file this project creates (decision 98). DuckDB 1.5 still
# creates files in the 0.10.2 format by default; from 1.3 on, strings are written with a combined
# dictionary and FSST compression that writes the 48M events of a 1M shop about a quarter faster.
# Only this project's own DuckDB opens the warehouse; BI tools read the published file, which
# publish.py writes in the old format (CRM_PUBLISH_STORAGE_VERSION). A file keeps the format it
# was created in, so an existing warehouse is opened as it is.
WAREHOUSE_STORAGE_VERSION = os.environ.get("CRM_WAREHOUSE_STORAGE_VERSION", "v1.5.0")


def connect_warehouse(database: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing (created in ``WAREHOUSE_STORAGE_VERSION`` when it is new); a
    file written by DuckDB 2.x (this project used 2.0 before it pinned 1.5, decision 76) is
    reported with what to do instead of DuckDB's storage error."""
    if not database.exists():  # ingest() has made its folder
        with duckdb.connect() as con:
            # attach creates the file in that format; later connections need no option (same config
            # as every other connection to it, which DuckDB requires within one process)
            con.execute(
                f"attach {duckdb_text(database)} as new_warehouse (storage_version '{WAREHOUSE_STORAGE_VERSION}')"
            )
            con.execute("detach new_warehouse")
    try:
        return duckdb.connect(str(database))
    except duckdb.IOException as exc:
        if "version number" not in str(exc):
            raise
        raise WarehouseTooNew(
            f"{database} was written by a newer DuckDB than this project's {duckdb.__version__} "
            "(releases before the DuckDB pin used 2.0). It is rebuilt from the landing files: move it aside "
            f"(`mv {database} {database}.duckdb2`) and run again; if loaded landing files were removed "
            "since, export it first with DuckDB 2 (`EXPORT DATABASE`) and import the raw schema with this one."
        ) from None


def ensure_load_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema raw and the load log if missing, with every column of this release."""
    con.execute("create schema if not exists raw")
    con.execute(LOAD_LOG_DDL)
    for statement in LOAD_LOG_UPGRADE:
        con.execute(statement)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, database: Path) -> None:
    """Create schema raw and the load log if missing, then make the views of every contract table
    and the raw zone agree (``sync_raw_zone``)."""
    ensure_load_log(con)
    sync_raw_zone(con, database)


def load_time(con: duckdb.DuckDBPyConnection) -> datetime:
    """The load time of a new ingest run: now, and always after every earlier run's (the load log's
    ``loaded_at`` is the load order of the files; a clock set back never reorders them)."""
    return con.execute(
        "select greatest(cast(current_timestamp as timestamp), "
        "coalesce((select max(loaded_at) from raw._load_log), timestamp '0001-01-01') + interval 1 millisecond)"
    ).fetchone()[0]


# The raw zone (decision 146): beside the DuckDB file, ``<warehouse stem>.raw/<table>/``, Parquet
# files of landed rows (one per batch of files loaded together, decision 149), written once (erasure
# writes a new one and removes the old; a closed month's small files are merged, decision 154).
RAW_ZONE_SUFFIX = ".raw"
ZONE_COMPRESSION = "zstd"


def raw_zone(database: Path) -> Path:
    """The raw zone of a warehouse file: ``data/warehouse.duckdb`` -> ``data/warehouse.raw/``."""
    database = Path(database)
    return database.with_name(database.stem + RAW_ZONE_SUFFIX)


def zone_schema(columns: list[str]) -> pa.Schema:
    """The columns of a raw zone file (and of the ``raw.<table>`` view over them): a landed file's
    rows (``_batch_schema``) and their load time."""
    return _batch_schema(columns).append(pa.field("_loaded_at", pa.timestamp("us")))


def zone_files(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The raw zone files of ``table`` the load log names (the rows of ``raw.<table>``), in load order
    (one file may hold the rows of several landed files)."""
    return [
        r[0]
        for r in con.execute(
            "select raw_file from raw._load_log where table_name = ? and status = 'loaded' "
            "and raw_file is not null group by raw_file order by min(loaded_at), min(file_path)",
            [table],
        ).fetchall()
    ]


def view_sql(database: Path, table: str, files: list[str]) -> str:
    """``raw.<table>``: the contract's text columns and lineage over ``files`` of the raw zone (by
    absolute path, written again whenever the warehouse is opened for ingest, so a copied folder
    reads its own files), or no rows of that shape when there are none."""
    schema = zone_schema(TABLE_COLUMNS[table])
    duck_types = {pa.string(): "varchar", pa.int64(): "bigint", pa.timestamp("us"): "timestamp"}
    if not files:
        select = ", ".join(f"cast(null as {duck_types[f.type]}) as {f.name}" for f in schema)
        return f"select {select} where false"
    folder = raw_zone(database).resolve() / table
    paths = ", ".join(duckdb_text(folder / name) for name in files)
    return f"select {', '.join(schema.names)} from read_parquet([{paths}], union_by_name = true)"


def replace_view(con: duckdb.DuckDBPyConnection, database: Path, table: str) -> None:
    """(Re)create ``raw.<table>`` over the files the load log names; in the caller's transaction."""
    con.execute(f"create or replace view raw.{table} as {view_sql(database, table, zone_files(con, table))}")


def set_insertion_order(con: duckdb.DuckDBPyConnection, preserve: bool) -> bool:
    """Set DuckDB's ``preserve_insertion_order`` (a setting of the whole database instance, so put
    back afterwards for other connections to the file) and return what it was."""
    before = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute(f"set preserve_insertion_order = {str(bool(preserve)).lower()}")
    return bool(before)


@contextmanager
def in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction around the block: committed when it ends, rolled back when it raises.
    The raw zone's load log rows and views change together in one (its files are written before)."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _migrate_table(con: duckdb.DuckDBPyConnection, database: Path, table: str) -> None:
    """A raw table of a warehouse from before the raw zone: each logged file's rows become its raw
    zone file, then the table gives way to the view (one transaction; files first)."""
    zone = raw_zone(database) / table
    zone.mkdir(parents=True, exist_ok=True)
    names = ", ".join(zone_schema(TABLE_COLUMNS[table]).names)
    logged = con.execute(
        "select file_path, checksum, loaded_at from raw._load_log where table_name = ? and status = 'loaded' "
        "and raw_file is null",
        [table],
    ).fetchall()
    named = []
    for rel, checksum, loaded_at in logged:
        name = _zone_name([LoadedFile(rel, checksum, None, None, 0, 0, 0)], loaded_at)
        con.execute(
            f"copy (select {names} from raw.{table} where _source_file = ? order by _row_number) "
            f"to {duckdb_text(zone / name)} (format parquet, compression {ZONE_COMPRESSION})",
            [rel],
        )
        named.append((name, rel))
    with in_transaction(con):
        for name, rel in named:
            con.execute(
                "update raw._load_log set raw_file = ? where table_name = ? and file_path = ? and status = 'loaded'",
                [name, table, rel],
            )
        con.execute(f"drop table raw.{table}")
        replace_view(con, database, table)


class RawZoneMissing(RuntimeError):
    """The load log names raw zone files that are not beside the warehouse file."""


def sync_raw_zone(con: duckdb.DuckDBPyConnection, database: Path) -> list[Path]:
    """Make ``raw`` and the raw zone agree when the warehouse is opened for ingest: a raw table from
    before the zone is moved into it, every view is written with the zone's current path (the
    warehouse folder may have been copied elsewhere), and a zone file the load log does not name (a
    crash between writing it and committing its log row) is removed. Returns the removed files.
    Raises ``RawZoneMissing`` (nothing changed) when a file the load log names is not in the zone."""
    removed = []
    missing = [
        f"{table}/{name}"
        for table, name in con.execute(
            "select table_name, raw_file from raw._load_log where status = 'loaded' and raw_file is not null"
        ).fetchall()
        if not (raw_zone(database) / table / name).is_file()
    ]
    if missing:
        raise RawZoneMissing(
            f"the raw zone {raw_zone(database)} lacks {len(missing)} files its load log names (e.g. {missing[0]}): "
            f"the warehouse file was copied or restored without its raw zone. Copy the folder "
            f"{raw_zone(database).name} from where {database.name} came from beside it (a back-up is the whole "
            "warehouse folder), or move the warehouse file aside and run again to load the landing files anew."
        )
    kinds = dict(
        con.execute(
            "select table_name, table_type from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    )
    for table in TABLE_COLUMNS:
        if kinds.get(table) == "BASE TABLE":
            _migrate_table(con, database, table)
        else:
            replace_view(con, database, table)
        named = set(zone_files(con, table))
        folder = raw_zone(database) / table
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and path.name not in named:
                path.unlink()
                removed.append(path)
    return removed


BATCH_ROWS = 2_000_000  # rows per batch read in Python (odd Parquet): held in memory
# Parquet that DuckDB copies into the zone and staged CSV are not held in memory: bigger batches,
# fewer commits of the load log and the view, fewer zone files and gate validations
NATIVE_BATCH_ROWS = 8_000_000
# a merged zone file holds at most about this many rows (decision 154)
MERGED_FILE_ROWS = NATIVE_BATCH_ROWS


def merge_closed_months(con: duckdb.DuckDBPyConnection, database: Path, table: str, now: datetime) -> tuple[int, int]:
    """Merge the small raw zone files of each closed month (decision 154): a shop that sends a file a
    day has one zone file per day and table, and every read of ``raw.<table>`` opens each of them.
    The zone files loaded in a calendar month before ``now``'s that hold fewer than
    ``MERGED_FILE_ROWS`` rows are copied, in load order, into as few files as hold about that many
    rows each; each row keeps its ``_source_file``, ``_row_number`` and ``_loaded_at``, so the rows
    of ``raw.<table>`` stay the same. As everywhere in the zone: the new files first, then the load
    log and the view in one transaction, then the old files removed (a crash in between leaves files
    the load log does not name, which the next ingest removes). Returns (files merged, files made)."""
    files = con.execute(
        "select raw_file, date_trunc('month', min(loaded_at)) as load_month, sum(coalesce(row_count, 0)) as rows "
        "from raw._load_log where table_name = ? and status = 'loaded' and raw_file is not null "
        "group by raw_file having date_trunc('month', min(loaded_at)) < date_trunc('month', cast(? as timestamp)) "
        "and sum(coalesce(row_count, 0)) < ? order by min(loaded_at), min(file_path)",
        [table, now, MERGED_FILE_ROWS],
    ).fetchall()
    bins: list[list[str]] = []  # consecutive small files of one month, about MERGED_FILE_ROWS rows a bin
    month = bin_rows = None
    for raw_file, load_month, rows in files:
        if load_month != month or bin_rows + rows > MERGED_FILE_ROWS:
            bins.append([])
            month, bin_rows = load_month, 0
        bins[-1].append(raw_file)
        bin_rows += rows
    bins = [b for b in bins if len(b) > 1]
    if not bins:
        return 0, 0
    folder = raw_zone(database) / table
    names = ", ".join(zone_schema(TABLE_COLUMNS[table]).names)
    merged: list[tuple[str, list[str]]] = []
    # the rows in load order, file after file (the order the view reads them): zone maps on
    # _loaded_at keep skipping the merged file's row groups that an incremental read does not need
    preserve_order = set_insertion_order(con, True)
    try:
        for old in bins:
            landed = con.execute(
                "select file_path, checksum, loaded_at from raw._load_log where table_name = ? "
                "and status = 'loaded' and list_contains(?, raw_file) order by loaded_at, file_path",
                [table, old],
            ).fetchall()
            # named as a batch of these landed files loaded at the first one's load time
            new = _zone_name(
                [LoadedFile(rel, checksum, None, None, 0, 0, 0) for rel, checksum, _ in landed], landed[0][2]
            )
            merged.append((new, old))
            con.execute(
                f"copy (select {names} from read_parquet([{', '.join(duckdb_text(folder / f) for f in old)}], "
                f"union_by_name = true)) to {duckdb_text(folder / new)} (format parquet, compression {ZONE_COMPRESSION})"
            )
        with in_transaction(con):
            for new, old in merged:
                con.execute(
                    "update raw._load_log set raw_file = ? where table_name = ? and list_contains(?, raw_file)",
                    [new, table, old],
                )
            replace_view(con, database, table)
    except BaseException:
        for new, _old in merged:
            (folder / new).unlink(missing_ok=True)
        raise
    finally:
        set_insertion_order(con, preserve_order)
    for _new, old in merged:
        for name in old:
            (folder / name).unlink(missing_ok=True)
    return sum(len(old) for _new, old in merged), len(merged)


# Parquet is read by DuckDB itself (read_parquet over each file, copied to its zone file) and every column
# is written as the same text the Python path (``read_file`` + ``conform``) writes; a column kind
# not listed here, or a file DuckDB reads differently from pyarrow, goes through the Python path.
_INTEGER_TYPES = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
}
# pc.strftime's %S carries the fraction in the column's unit; DuckDB spells it %g / %f / %n
_FRACTION = {"s": "", "ms": ".%g", "us": ".%f", "ns": ".%n"}
# pyarrow's float -> text (shortest digits, exponent above 1e10) has no DuckDB spelling: Arrow UDFs
_FLOAT_UDFS = {"DOUBLE": "_ingest_double_text", "FLOAT": "_ingest_float_text"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_sql(name: str, kind: pa.DataType) -> tuple[str, str] | None:
    """(DuckDB type read_parquet must report for a column pyarrow reads as ``kind``, SQL writing it
    as ``_to_text`` does), or None when only the Python path writes it."""
    col = _quote(name)
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        # as _to_text: no leading BOM (tested first: ltrim on every value doubled the read time)
        bom = f"chr({ord(BOM)})"
        return (
            "VARCHAR",
            f"case when starts_with({col}, {bom}) then ltrim({col}, {bom}) else {col} end",
        )
    if pa.types.is_timestamp(kind):
        fmt = "%Y-%m-%dT%H:%M:%S" + _FRACTION[kind.unit]
        if kind.tz is None:  # naive wall-clock text, read in the business time zone by staging
            return ("TIMESTAMP_NS" if kind.unit == "ns" else "TIMESTAMP"), f"strftime({col}, '{fmt}')"
        if kind.unit == "ns":  # DuckDB holds zone-aware time in microseconds
            return None
        # the instant in UTC with 'Z', whatever the session's TimeZone
        return "TIMESTAMP WITH TIME ZONE", f"strftime(timezone('UTC', {col}), '{fmt}Z')"
    if pa.types.is_boolean(kind):
        return "BOOLEAN", f"case when {col} then 'true' when not {col} then 'false' end"
    if kind in _INTEGER_TYPES:
        return _INTEGER_TYPES[kind], f"cast({col} as varchar)"
    if pa.types.is_date32(kind):
        return "DATE", f"cast({col} as varchar)"
    if pa.types.is_decimal128(kind) and 0 <= kind.scale <= kind.precision <= 38:
        return f"DECIMAL({kind.precision},{kind.scale})", f"cast({col} as varchar)"
    if pa.types.is_float64(kind):
        return "DOUBLE", f"{_FLOAT_UDFS['DOUBLE']}({col})"
    if pa.types.is_float32(kind):
        return "FLOAT", f"{_FLOAT_UDFS['FLOAT']}({col})"
    if pa.types.is_null(kind):
        return "", "cast(null as varchar)"
    return None


@dataclass
class ParquetPlan:
    """How DuckDB reads one Parquet file: files with the same ``key`` (the same schema) are read by
    one read_parquet call."""

    key: tuple
    types: dict[str, str]  # original column name -> DuckDB type read_parquet must report
    select: list[str]  # SQL per contract column, as text


def _plan_parquet(path: Path, columns: list[str]) -> tuple[ParquetPlan | None, int]:
    """(the native read of a Parquet file, its row count); the plan is None when a column kind or a
    column name needs the Python path. Raises UnreadableFile when the footer cannot be read."""
    try:
        with pq.ParquetFile(path) as parquet:
            schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFile(f"not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    normalised = [normalise_name(name) for name in schema.names]
    if len(set(normalised)) < len(normalised) or {"filename", "file_row_number"} & set(normalised):
        return None, rows
    by_name = dict(zip(normalised, schema, strict=True))
    types, select = {}, []
    for column in columns:
        if column not in by_name:
            select.append("cast(null as varchar)")
            continue
        found = by_name[column]
        sql = _text_sql(found.name, found.type)
        if sql is None:
            return None, rows
        types[found.name], expression = sql
        select.append(expression)
    key = tuple((f.name, str(f.type)) for f in schema)
    return ParquetPlan(key, types, select), rows


@dataclass
class LoadedFile:
    rel: str
    checksum: str
    data: pa.Table | None  # conformed rows read in Python (empty file, odd Parquet)
    encoding: str | None
    size: int
    mtime_ns: int
    malformed: int
    path: Path | None = None
    plan: ParquetPlan | None = None  # Parquet read by DuckDB (data is None)
    rows: int = 0
    loaded_at: datetime | None = None  # its load time (the run's, or the one a rebuild keeps)
    raw_file: str | None = None  # its file in the raw zone, once written
    staged: Path | None = None  # a CSV conformed block by block into this Parquet file (data is None)

    def __post_init__(self) -> None:
        if self.data is not None:
            self.rows = self.data.num_rows


def _register_float_udfs(con: duckdb.DuckDBPyConnection) -> None:
    """pyarrow's own float -> text (what the Python path writes), callable from SQL."""
    from duckdb.sqltypes import DOUBLE, FLOAT, VARCHAR

    def as_text(values):
        return values.cast(pa.string())

    for duck_type, name in _FLOAT_UDFS.items():
        try:
            con.remove_function(name)
        except duckdb.InvalidInputException:
            pass
        con.create_function(
            name,
            as_text,
            [DOUBLE if duck_type == "DOUBLE" else FLOAT],
            VARCHAR,
            type="arrow",
            null_handling="special",
            side_effects=False,
        )


def _native_select(files: list[LoadedFile], folder_prefix: str) -> tuple[str, list[str]]:
    """SQL reading Parquet files of one plan as raw rows, and its parameter (the paths)."""
    select = ", ".join(files[0].plan.select)
    return (
        f"select {select}, cast(null as varchar), substr(filename, {len(folder_prefix) + 1}), "
        "file_row_number + 1 from read_parquet(?, filename = true, file_row_number = true)"
    ), [[str(f.path) for f in files]]


def _check_native_types(con: duckdb.DuckDBPyConnection, path: Path, plan: ParquetPlan) -> bool:
    """True when DuckDB reads the plan's columns with the types its text SQL was written for (else
    files of that schema are read in Python)."""
    try:
        described = dict(
            con.execute(
                "select column_name, column_type from (describe select * from read_parquet(?))",
                [str(path)],
            ).fetchall()
        )
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return False
    return all(
        name in described and (not expected or described[name] == expected) for name, expected in plan.types.items()
    )


def _read_in_python(f: LoadedFile, table: str, columns: list[str]) -> None:
    """Turn a Parquet file DuckDB does not read as planned into rows read by the Python path."""
    read = read_file(f.path, REQUIRED_COLUMNS[table])
    f.data, f.plan = conform(read, columns, f.rel), None
    f.rows = f.data.num_rows


def _zone_name(files: list[LoadedFile], loaded_at: datetime) -> str:
    """The raw zone's name for the file holding ``files``' rows: their load time, a hash of their
    landing paths and their checksum (a hash of their checksums for several files), so that a file
    re-sent under the same name (or the same content under two names) never meets an earlier copy."""
    where = hashlib.sha256("\n".join(f.rel for f in files).encode("utf-8")).hexdigest()[:8]
    what = (
        files[0].checksum
        if len(files) == 1
        else hashlib.sha256("\n".join(f.checksum for f in files).encode("utf-8")).hexdigest()
    )
    return f"{loaded_at:%Y%m%dT%H%M%S%f}-{where}-{what[:16]}.parquet"


def _write_python_rows(data: list[pa.Table], columns: list[str], loaded_at: datetime, target: Path) -> None:
    schema = zone_schema(columns)
    rows = pa.concat_tables([part.select(schema.names[:-1]) for part in data])
    rows = rows.append_column("_loaded_at", pa.array([loaded_at] * rows.num_rows, pa.timestamp("us")))
    pq.write_table(rows.cast(schema), target, compression=ZONE_COMPRESSION)


def _copy_to_zone(con: duckdb.DuckDBPyConnection, select: str, loaded_at: datetime, target: Path) -> None:
    con.execute(
        f"copy (select *, timestamp {duckdb_text(loaded_at.isoformat(sep=' '))} as _loaded_at from ({select})) "
        f"to {duckdb_text(target)} (format parquet, compression {ZONE_COMPRESSION})"
    )


def _native_copy(files: list[LoadedFile], columns: list[str], folder_prefix: str) -> str:
    """The SELECT reading Parquet files of one plan as raw rows (their paths inlined, for COPY)."""
    sql, params = _native_select(files, folder_prefix)
    paths = "[" + ", ".join(duckdb_text(p) for p in params[0]) + "]"
    names = ", ".join([*columns, "_malformed_line", "_source_file", "_row_number"])
    return f"select * from ({sql.replace('read_parquet(?', f'read_parquet({paths}')}) as t({names})"


def _write_zone_files(
    con: duckdb.DuckDBPyConnection,
    files: list[LoadedFile],
    table: str,
    columns: list[str],
    folder_prefix: str,
    loaded_at: datetime,
    zone: Path,
) -> list[tuple[LoadedFile, str]]:
    """Write the raw rows of landed files read the same way (Parquet of one plan read by DuckDB, CSVs
    from their staged rows, or rows read in Python) and loaded at the same time as one file of the
    raw zone, and set each file's ``raw_file``. Parquet that DuckDB cannot read as a group is written
    file by file: read as the Python path would, or reported. Returns (file, why it cannot be read)."""
    target = zone / _zone_name(files, loaded_at)
    if files[0].staged is not None:
        _copy_to_zone(
            con, f"select * from read_parquet([{', '.join(duckdb_text(f.staged) for f in files)}])", loaded_at, target
        )
        for f in files:
            f.staged.unlink()
    elif files[0].plan is not None:
        try:
            _copy_to_zone(con, _native_copy(files, columns, folder_prefix), loaded_at, target)
        except duckdb.InterruptException:
            raise
        except duckdb.Error as duck_error:
            target.unlink(missing_ok=True)
            if len(files) > 1:  # which file: each on its own
                return [
                    failed
                    for f in files
                    for failed in _write_zone_files(con, [f], table, columns, folder_prefix, loaded_at, zone)
                ]
            f = files[0]
            try:  # read as the Python path would, or report why it cannot be read
                _read_in_python(f, table, columns)
            except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal
                return [
                    (
                        f,
                        _reason(exc)
                        if isinstance(exc, UnreadableFile)
                        else _reason(
                            UnreadableFile(f"not a readable Parquet file ({str(duck_error).splitlines()[0][:200]})")
                        ),
                    )
                ]
            _write_python_rows([f.data], columns, loaded_at, target)
    else:
        _write_python_rows([f.data for f in files], columns, loaded_at, target)
    for f in files:
        f.raw_file = target.name
    return []


def _commit_batch(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    batch: list[LoadedFile],
    rep: TableReport,
    on_batch: Callable[[str, list[Path]], None] | None = None,
    folder: Path | None = None,
    loaded_at: datetime | None = None,
    database: Path | None = None,
) -> None:
    """Write a batch's files into the raw zone, then commit their load-log rows and the table's view
    in one transaction (all or nothing: a file the log does not name is removed by the next ingest).

    The batch's files read the same way and loaded at the same time become one Parquet file of the
    raw zone (decision 149; Parquet landing files of one schema read by DuckDB, CSVs from their
    staged files, the rest as read in Python); a file none reads is reported and left out. The
    erasure register is applied to the written files, then the gate is given them."""
    if not batch:
        return
    folder_prefix = f"{folder}{os.sep}"
    zone = raw_zone(database) / table
    zone.mkdir(parents=True, exist_ok=True)
    run_at = loaded_at or datetime.now()
    failed: list[tuple[LoadedFile, str]] = []
    groups: dict[tuple, list[LoadedFile]] = {}  # files written as one raw zone file
    for f in batch:
        f.loaded_at = f.loaded_at or run_at
        if f.size:  # an empty landing file has no rows to keep
            how = "staged" if f.staged is not None else f.plan.key if f.plan is not None else "python"
            groups.setdefault((how, f.loaded_at), []).append(f)
    try:
        for (_how, group_loaded_at), files in groups.items():
            failed += _write_zone_files(con, files, table, columns, folder_prefix, group_loaded_at, zone)
        unreadable = {id(f) for f, _ in failed}
        written = [f for f in batch if id(f) not in unreadable]
        kept = [zone / name for name in dict.fromkeys(f.raw_file for f in written if f.raw_file)]
        if database is not None:  # erased customers in a re-sent file stay erased
            rep.erased_rows += sum(_apply_register_to_file(path, database, table) for path in kept)
        if written and on_batch is not None:  # the gate reads the rows that split into fields
            on_batch(table, kept)
        if written:
            log = pa.table(
                {  # one insert for the batch's log rows (executemany costs ~1 ms a row)
                    "table_name": pa.array([table] * len(written), pa.string()),
                    "file_path": pa.array([f.rel for f in written], pa.string()),
                    "checksum": pa.array([f.checksum for f in written], pa.string()),
                    "row_count": pa.array([f.rows for f in written], pa.int64()),
                    "status": pa.array(["loaded" if f.size else "empty" for f in written], pa.string()),
                    "message": pa.array([None if f.size else "empty file (0 bytes)" for f in written], pa.string()),
                    "encoding": pa.array([f.encoding for f in written], pa.string()),
                    "file_size": pa.array([f.size for f in written], pa.int64()),
                    "file_mtime_ns": pa.array([f.mtime_ns for f in written], pa.int64()),
                    "malformed_lines": pa.array([f.malformed for f in written], pa.int64()),
                    "loaded_at": pa.array([f.loaded_at for f in written], pa.timestamp("us")),
                    "raw_file": pa.array([f.raw_file for f in written], pa.string()),
                }
            )
            with in_transaction(con):
                con.register("incoming_log", log)
                con.execute(
                    f"insert into raw._load_log ({', '.join(log.column_names)}) "
                    f"select {', '.join(log.column_names)} from incoming_log"
                )
                con.unregister("incoming_log")
                replace_view(con, database, table)
    except BaseException:
        for f in batch:  # not committed: no file of the zone outlives its batch
            if f.raw_file:
                (zone / f.raw_file).unlink(missing_ok=True)
        for f in batch:
            if f.staged is not None:
                f.staged.unlink(missing_ok=True)
        raise
    rep.files_new += len(written)
    rep.rows_loaded += sum(f.rows for f in written)
    rep.malformed_lines += sum(f.malformed for f in written)
    for f, reason in failed:
        _record_failed(con, rep, table, f.path, f.rel, f.checksum, f.size, reason, run_at)


def _apply_register_to_file(path: Path, database: Path, table: str) -> int:
    """The erasure register on one raw zone file just written (rewritten when a row changed)."""
    from orchestration.privacy.register import apply_register_to_rows

    if table not in CUSTOMER_TABLES or not erased_hashes(database):
        return 0
    rows = pq.read_table(path)
    erased, changed = apply_register_to_rows(rows, database, table)
    if changed:
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(erased, tmp, compression=ZONE_COMPRESSION)
        os.replace(tmp, path)
    return changed


def _batch_schema(columns: list[str]) -> pa.Schema:
    """A landed file's raw rows without their load time: contract columns as text and lineage."""
    return pa.schema(
        [(c, pa.string()) for c in [*columns, "_malformed_line", "_source_file"]] + [("_row_number", pa.int64())]
    )


def _reason(exc: BaseException) -> str:
    return (str(exc) if isinstance(exc, UnreadableFile) else f"{type(exc).__name__}: {exc}").splitlines()[0][:500]


def _stage_csv(path: Path, table: str, columns: list[str], rel: str, staged: Path) -> tuple[int, int, str]:
    """A CSV landing file conformed block by block into the Parquet file ``staged`` (the raw rows
    without their load time): what is held at a time is one block of the file, whatever its size.
    Returns rows written (malformed lines included, after the good rows), malformed lines, encoding."""
    rows = open_csv_rows(path, REQUIRED_COLUMNS[table])
    names = [normalise_name(name) for name in rows.names]
    schema = _batch_schema(columns)
    good = 0
    try:
        with pq.ParquetWriter(staged, schema, compression=ZONE_COMPRESSION) as writer:
            for batch in rows.batches:
                part = pa.Table.from_batches([batch]).rename_columns(names)
                writer.write_table(conform(part, columns, rel, first_row=good + 1).cast(schema))
                good += batch.num_rows
            if rows.malformed:  # known once every block is read
                header_only = pa.table({name: pa.array([], pa.string()) for name in names})
                bad = ReadResult(header_only, rows.malformed, rows.encoding)
                writer.write_table(conform(bad, columns, rel, first_row=good + 1).cast(schema))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return good + len(rows.malformed), len(rows.malformed), rows.encoding


def _load_file(
    path: Path,
    stat: os.stat_result,
    table: str,
    columns: list[str],
    rel: str,
    checksum: str,
    con: duckdb.DuckDBPyConnection | None = None,
    native: dict[tuple, bool] | None = None,
    stage_dir: Path | None = None,
) -> LoadedFile:
    """A new landing file: Parquet planned for DuckDB's reader (given ``con``: ``native`` remembers
    per schema whether DuckDB reads it with the planned types), a CSV conformed block by block
    into a staged file in ``stage_dir`` (the raw zone's folder: a file left by a crash is removed
    by the next ingest), anything else read in Python."""
    if stat.st_size == 0:  # an empty export: nothing to load, logged so that it is not retried
        empty = pa.table({c: pa.array([], pa.string()) for c in columns})
        return LoadedFile(rel, checksum, conform(empty, columns, rel), None, 0, stat.st_mtime_ns, 0)
    if con is not None and path.suffix.lower() == ".parquet":
        plan, rows = _plan_parquet(path, columns)
        if plan is not None and native is not None and plan.key not in native:
            native[plan.key] = _check_native_types(con, path, plan)
        if plan is not None and (native is None or native[plan.key]):
            return LoadedFile(
                rel,
                checksum,
                None,
                None,
                stat.st_size,
                stat.st_mtime_ns,
                0,
                path=path,
                plan=plan,
                rows=rows,
            )
    if stage_dir is not None and path.suffix.lower() == ".csv":
        stage_dir.mkdir(parents=True, exist_ok=True)
        staged = stage_dir / f".{checksum[:16]}-{os.getpid()}.staged"
        rows, malformed, encoding = _stage_csv(path, table, columns, rel, staged)
        return LoadedFile(
            rel,
            checksum,
            None,
            encoding,
            stat.st_size,
            stat.st_mtime_ns,
            malformed,
            path=path,
            rows=rows,
            staged=staged,
        )
    read = read_file(path, REQUIRED_COLUMNS[table])
    return LoadedFile(
        rel,
        checksum,
        conform(read, columns, rel),
        read.encoding,
        stat.st_size,
        stat.st_mtime_ns,
        len(read.malformed),
    )


def _record_failed(
    con: duckdb.DuckDBPyConnection,
    rep: TableReport,
    table: str,
    path: Path,
    rel: str,
    checksum: str,
    size: int,
    reason: str,
    loaded_at: datetime,
) -> None:
    rep.problems.append(FileProblem(str(path), "failed", reason))
    con.execute(
        "insert into raw._load_log (table_name, file_path, checksum, row_count, status, message, "
        "file_size, loaded_at) values (?, ?, ?, null, 'failed', ?, ?, ?)",
        [table, rel, checksum, reason, size, loaded_at],
    )


def ingest(
    landing: Path | None = None,
    database: Path | None = None,
    tables: list[str] | None = None,
    verbose: bool = True,
    up_to: date | None = None,
    on_batch: Callable[[str, list[Path]], None] | None = None,
    map_exports: bool = True,
    load_times: dict[tuple[str, str], datetime] | None = None,
) -> IngestReport:
    """Load every landing file not loaded before. ``up_to`` loads only files named for that day or
    earlier (what a daily partition does). ``on_batch(table, files)`` is given every batch's raw
    zone files before the batch is committed (the landing quality gate). ``map_exports``: first
    map the shop's new exports (the settings' ``sources``) into landing files (not when a rebuild
    reloads logged files).
    ``load_times``: {(table, file path): load time} a rebuild gives the files it reloads."""
    landing = Path(landing or landing_dir())
    database = Path(database or warehouse_path())
    database.parent.mkdir(parents=True, exist_ok=True)
    report = IngestReport()
    t0 = time.perf_counter()
    # the shop's own exports (settings ``sources:``) become landing files first
    unmapped: dict[str, list[FileProblem]] = {}
    shop = settings()
    for source in map_sources(landing, shop.sources, shop.business_timezone) if map_exports else []:
        for problem in source.problems:
            unmapped.setdefault(problem.tables[0], []).append(FileProblem(problem.path, problem.kind, problem.reason))
        if verbose:
            stage(
                "map",
                f"source {source.source}: {sum(not f.errors for f in source.files)} new files mapped, "
                f"{source.already_mapped} mapped before, {len(source.problems)} NOT mapped",
                t0,
            )
    if not landing.is_dir():
        raise FileNotFoundError(
            f"landing directory {landing} does not exist: generate sample data with "
            f"`crm-generate --out {landing}` or set CRM_LANDING_DIR to your shop's files"
        )
    con = connect_warehouse(database)
    # Rows are told apart by (_source_file, _row_number), which staging orders by, never by their
    # position: DuckDB may append a batch's files in parallel without keeping their order (~20% less
    # time for events). A global setting: put back as it was for other connections to the file.
    preserve_order = set_insertion_order(con, False)
    try:
        ensure_raw_tables(con, database)
        _register_float_udfs(con)
        run_at = load_time(con)

        for table in tables or list(TABLE_COLUMNS):
            columns = TABLE_COLUMNS[table]
            rep = report.tables.setdefault(table, TableReport(table))
            rep.problems.extend(unmapped.get(table, []))
            folder = landing / table
            if not folder.is_dir():
                rep.missing_folder = True
                if table in REQUIRED_TABLES and verbose:
                    print(f"[ingest] WARNING: required folder {folder} is missing: every mart will be empty")
            known = {
                path: (checksum, size, mtime, erased)
                for path, checksum, size, mtime, erased in con.execute(
                    "select file_path, checksum, file_size, file_mtime_ns, erased_at is not null "
                    "from raw._load_log where table_name = ? and status in ('loaded', 'empty')",
                    [table],
                ).fetchall()
            }
            pending: list[LoadedFile] = []
            pending_rows = native_rows = 0  # rows of the batch held in memory / streamed by DuckDB
            native: dict[tuple, bool] = {}  # Parquet schema -> DuckDB reads it as planned

            for path in list_files(folder):
                rel = path.relative_to(folder).as_posix()
                if not file_is_due(path, up_to):
                    continue
                stat = path.stat()
                size = stat.st_size
                if rel in known:
                    loaded_checksum, loaded_size, loaded_mtime, erased = known[rel]
                    # a file loaded once never changes: check it by size and modification time,
                    # and by checksum when either differs
                    same_stat = loaded_size == size and loaded_mtime == stat.st_mtime_ns
                    checksum = loaded_checksum if same_stat else _sha256(path)
                    if checksum != loaded_checksum and erased:
                        # a file that held an erased customer, edited by the shop to remove them:
                        # expected, not loaded again (its other rows are in raw already)
                        con.execute(
                            "update raw._load_log set checksum = ?, file_size = ?, file_mtime_ns = ? "
                            "where table_name = ? and file_path = ? and status in ('loaded', 'empty')",
                            [checksum, size, stat.st_mtime_ns, table, rel],
                        )
                        rep.files_skipped += 1
                    elif checksum != loaded_checksum:
                        rep.problems.append(
                            FileProblem(
                                str(path),
                                "changed",
                                f"its checksum differs from the one loaded (sha256 {loaded_checksum[:12]}...)",
                            )
                        )
                    else:
                        rep.files_skipped += 1
                    continue
                checksum = _sha256(path)
                try:
                    pending.append(
                        _load_file(path, stat, table, columns, rel, checksum, con, native, raw_zone(database) / table)
                    )
                    pending[-1].loaded_at = (load_times or {}).get((table, rel))
                except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not fatal
                    _record_failed(con, rep, table, path, rel, checksum, size, _reason(exc), run_at)
                    continue
                if pending[-1].plan is not None or pending[-1].staged is not None:
                    native_rows += pending[-1].rows  # streamed, not held in memory
                else:
                    pending_rows += pending[-1].rows
                if pending_rows >= BATCH_ROWS or native_rows >= NATIVE_BATCH_ROWS:
                    _commit_batch(con, table, columns, pending, rep, on_batch, folder, run_at, database)
                    pending, pending_rows, native_rows = [], 0, 0
            _commit_batch(con, table, columns, pending, rep, on_batch, folder, run_at, database)
            rep.zone_files_merged, rep.zone_files_made = merge_closed_months(con, database, table, run_at)
            if verbose:
                line = (
                    f"{table:<16} {rep.files_new:>5} new files, {rep.rows_loaded:>10,} rows loaded, "
                    f"{rep.files_skipped:>5} already loaded"
                )
                if rep.malformed_lines:
                    line += f", {rep.malformed_lines} malformed lines (quarantined)"
                if rep.missing_folder:
                    line += " (no folder: empty table)"
                if rep.erased_rows:
                    line += f", {rep.erased_rows} rows of erased customers made anonymous"
                if rep.zone_files_merged:
                    line += (
                        f", {rep.zone_files_merged} raw zone files of closed months merged into {rep.zone_files_made}"
                    )
                if rep.problems:
                    line += f", {len(rep.problems)} files NOT loaded (listed in the summary)"
                stage("ingest", line, t0)
                for problem in rep.problems:
                    print(f"[ingest] ERROR {problem.line()}", flush=True)
    finally:
        try:
            set_insertion_order(con, preserve_order)
        finally:
            con.close()
    return report


def first_partition_day(s: Settings | None = None) -> date:
    """The first day of the shop's history: ``history_start``, else the earliest day an order file
    is named for (``orders/2025-06-01.csv``), else ``earliest_valid_date``, never before that var.
    Daily partitions start here, so an older shop's history is never rejected."""
    s = s or settings()
    if s.history_start is not None:
        return s.history_start
    floor = date.fromisoformat(str(s.var("earliest_valid_date")))
    days = [d for p in list_files(s.landing_dir / "orders") if (d := file_day(p)) is not None]
    return max(floor, min(days)) if days else floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm-ingest",
        description="Load new landing files (CSV or Parquet) into the DuckDB schema raw. "
        "Files already loaded are skipped; unreadable files are reported and skipped.",
    )
    parser.add_argument(
        "--landing", type=Path, default=None, help="landing folder (default: the settings' landing_dir)"
    )
    parser.add_argument("--database", type=Path, default=None, help="DuckDB file (default: the settings' warehouse)")
    parser.add_argument("--up-to", type=date.fromisoformat, help="load only files named for this day or earlier")
    args = parser.parse_args(argv)
    report = ingest(args.landing, args.database, up_to=args.up_to)
    print(f"[ingest] {report.rows_loaded:,} rows loaded, {len(report.problems)} files not loaded")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
