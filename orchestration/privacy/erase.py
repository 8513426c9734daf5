"""Erasure on request (APPI / GDPR): ``crm erase CUSTOMER_ID [...]`` / ``crm erase --file ids.txt``.

For each customer:
- the personal columns (type ``personal`` in the raw contract: e-mail, name, LINE user id) of their
  rows in ``raw`` are emptied and their consents set to false. The raw rows are the raw zone's
  Parquet files (decision 146): each file holding an erased customer or value is written as a new
  file, the load log and the view switch to it in one transaction, then the old file is removed;
- their id is replaced by a tombstone, ``erased-`` and the first 16 hex digits of a keyed hash
  (sha256 of a random secret and the id). The secret (``privacy/erasure.key`` beside the warehouse,
  readable by its owner only) never leaves that folder, so sequential ids cannot be hashed back.
  Orders, events and subscriptions stay, with the tombstone: every total is unchanged;
- every copy is rewritten: each table of every schema of the warehouse and of every other DuckDB
  file under the folders (the published file, its earlier copies), every Parquet, CSV, JSON and
  text file (the published Parquet generations, the audience exports staged and published, GX
  validation results and Data Docs, run logs) and SQLite file (a Dagster instance kept there). An
  exact value (the id, e-mail, name or LINE id) is replaced, and so is the same text inside a
  longer one (a log line, a malformed CSV line). A DuckDB file is then copied into a new file and
  moved over the old one: DuckDB keeps old values in free blocks and its WAL until then;
- the erasure is recorded in ``privacy/erasures.txt`` (the keyed hash and the day, no personal
  data). Ingest applies the register to every new file (``apply_register``): a re-sent old file
  brings nobody back. The files that held the customer are marked in the load log (``erased_at``):
  the shop may edit them to remove the person, which is then not reported as a changed file.

Landing files are the shop's: remove the person from them (or delete the files) as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.activation.contact_log import erase_customers as erase_from_contact_log
from orchestration.activation.contact_log import save_copy as save_contact_log_copy
from orchestration.contract import TABLE_COLUMNS
from orchestration.privacy.register import (
    CONSENT_COLUMNS,
    CUSTOMER_TABLES,
    KEY_FILE,
    PERSONAL_COLUMNS,
    PRIVACY_DIR,
    REGISTER_FILE,
    erasure_key,
    keyed_hash,
    privacy_dir,
    record_erasures,
    tombstone,
)
from orchestration.settings import landing_dir, publish_dir
from orchestration.sql_text import duckdb_text

TEXT_SUFFIXES = {".csv", ".json", ".jsonl", ".log", ".txt", ".html", ".htm", ".md", ".yml", ".yaml"}
ERASED_TEXT = "[erased]"
ANYWHERE_MIN_LENGTH = 8
# characters that may be part of an id: a value is replaced only where it stands alone
_ID_CHAR = r"[0-9A-Za-z_\-]"


@dataclass
class Erasure:
    """What one erasure changed, and what it could not clean (files it cannot read)."""

    customers: int = 0
    tombstones: dict[str, str] = field(default_factory=dict)  # id -> tombstone (never printed)
    values_changed: int = 0
    files_rewritten: list[str] = field(default_factory=list)
    not_cleaned: list[str] = field(default_factory=list)


class Replacer:
    """Every spelling of the erased values in text: ids become their tombstone, personal values
    ``[erased]``; a value counts only where it stands alone (not inside a longer id)."""

    def __init__(self, tombstones: dict[str, str], personal: Iterable[str]):
        self.tombstones = tombstones
        self.personal = sorted({p for p in personal if p and p.strip()}, key=len, reverse=True)
        spellings: dict[str, str] = {}
        for value, new in [*tombstones.items(), *((p, ERASED_TEXT) for p in self.personal)]:
            spellings[value] = new
            escaped = json.dumps(value)[1:-1]  # as JSON writes it (\u escapes)
            spellings.setdefault(escaped, json.dumps(new)[1:-1])
        self.spellings = spellings
        alternatives = "|".join(re.escape(v) for v in sorted(spellings, key=len, reverse=True))
        self.pattern = re.compile(f"(?<!{_ID_CHAR})(?:{alternatives})(?!{_ID_CHAR})") if spellings else None
        # long personal values also inside a longer text (an e-mail glued to other characters);
        # a short one only where it stands alone, so that other people's text stays as it is
        long = [v for v in self.personal if len(v) >= ANYWHERE_MIN_LENGTH or "@" in v]
        self.raw_pattern = re.compile("|".join(re.escape(v) for v in long)) if long else None

    def text(self, value: str) -> str:
        if self.pattern is None or value is None:
            return value
        value = self.pattern.sub(lambda m: self.spellings[m.group(0)], value)
        if self.raw_pattern is not None:
            value = self.raw_pattern.sub(ERASED_TEXT, value)
        return value

    def needles(self) -> list[bytes]:
        return sorted({v.encode("utf-8") for v in self.spellings}, key=len, reverse=True)


# ---- DuckDB ---------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _raw_tables(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> dict[str, set[str]]:
    """{raw table (or view) holding customer ids: its columns}; ``kind``: only tables of that type"""
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "join information_schema.tables using (table_catalog, table_schema, table_name) "
        "where table_schema = 'raw' and (? is null or table_type = ?)",
        [kind, kind],
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        if table in CUSTOMER_TABLES:
            out.setdefault(table, set()).add(column)
    return out


def personal_values(database: Path, ids: list[str]) -> set[str]:
    """The personal values (e-mail, name, LINE id) the warehouse's raw rows hold for the customers:
    what to look for in every other copy."""
    placeholders = ", ".join("?" for _ in ids)
    found: set[str] = set()
    with duckdb.connect(str(database), read_only=True) as con:
        for table, columns in _raw_tables(con).items():
            for column in PERSONAL_COLUMNS[table]:
                if column in columns:
                    found |= {
                        r[0]
                        for r in con.execute(
                            f"select distinct {column} from raw.{table} where trim(customer_id) in ({placeholders}) "
                            f"and {column} is not null",
                            ids,
                        ).fetchall()
                    }
    return found


def _erase_raw(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    """Empty the personal columns and consents of the customers' rows in raw tables kept in the
    DuckDB file (not the views over the raw zone: ``_erase_raw_zone``) and mark the files that held
    them in the load log (the ids are replaced with every other text)."""
    tables = _raw_tables(con, "BASE TABLE")
    has_log = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = '_load_log'"
    ).fetchone()[0]
    placeholders = ", ".join("?" for _ in ids)
    for table, columns in tables.items():
        files = [
            r[0]
            for r in con.execute(
                f"select distinct _source_file from raw.{table} where trim(customer_id) in ({placeholders})",
                ids,
            ).fetchall()
        ]
        if files and has_log:
            con.execute("alter table raw._load_log add column if not exists erased_at timestamp")
            con.execute(
                f"update raw._load_log set erased_at = current_timestamp where table_name = ? "
                f"and file_path in ({', '.join('?' for _ in files)})",
                [table, *files],
            )
        sets = [f"{c} = null" for c in PERSONAL_COLUMNS[table] if c in columns]
        sets += [f"{c} = 'false'" for c in CONSENT_COLUMNS if c in columns]
        if sets:
            con.execute(
                f"update raw.{table} set {', '.join(sets)} where trim(customer_id) in ({placeholders})",
                ids,
            )


def _erase_raw_zone(con: duckdb.DuckDBPyConnection, database: Path, ids: list[str], replacer: Replacer) -> int:
    """The raw zone's files (decision 146) that hold an erased customer or value: each is written
    again as a new file (their rows without personal data and consent, every erased value replaced
    as in any other text), then the load log names the new files and the view reads them, in one
    transaction, and only then are the old files removed. Returns the number of files rewritten."""
    from orchestration.ingest.load import ZONE_COMPRESSION, in_transaction, raw_zone, replace_view, zone_schema

    log_columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = '_load_log'"
        ).fetchall()
    }
    views = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw' and table_type = 'VIEW'"
        ).fetchall()
    }
    if "raw_file" not in log_columns:
        return 0

    needles = sorted(replacer.spellings)
    id_list = ", ".join(duckdb_text(i) for i in ids)
    _register_erase_text(con, replacer)
    rewritten: list[tuple[str, str, str, list[str]]] = []  # table, old file, new file, landed files with the customer
    try:
        for table in sorted(views & set(TABLE_COLUMNS)):
            schema = zone_schema(TABLE_COLUMNS[table])
            text = [f.name for f in schema if f.type == pa.string()]
            who = f"trim(customer_id) in ({id_list})" if table in CUSTOMER_TABLES else "false"

            def holds(col: str) -> str:
                return " or ".join(f"contains({col}, {duckdb_text(n)})" for n in needles) or "false"

            found = {
                rel: bool(person)
                for rel, person in con.execute(
                    f"select _source_file, bool_or({who}) from raw.{table} "
                    f"where {who} or {' or '.join(f'({holds(_quote(c))})' for c in text)} group by 1"
                ).fetchall()
            }
            if not found:
                continue
            select = []
            for column in schema.names:
                col = _quote(column)
                if column in PERSONAL_COLUMNS[table]:
                    select.append(f"case when {who} then null else _erase_text({col}) end as {col}")
                elif column in CONSENT_COLUMNS:
                    select.append(f"case when {who} then 'false' else {col} end as {col}")
                elif column in text:
                    select.append(f"case when {holds(col)} then _erase_text({col}) else {col} end as {col}")
                else:
                    select.append(col)
            folder = raw_zone(database) / table
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
            holding: dict[str, list[str]] = {}  # zone file -> its landed files that held the customer
            for rel, raw_file in con.execute(
                "select file_path, raw_file from raw._load_log where table_name = ? and status = 'loaded' "
                "and raw_file is not null order by loaded_at, file_path",
                [table],
            ).fetchall():
                if rel in found:  # one zone file may hold several landed files (decision 149)
                    holding.setdefault(raw_file, []).extend([rel] if found[rel] else [])
            for raw_file, person in holding.items():
                new = f"{stamp}-{raw_file.split('-', 1)[-1]}"
                con.execute(
                    f"copy (select {', '.join(select)} from read_parquet({duckdb_text(folder / raw_file)})) "
                    f"to {duckdb_text(folder / new)} (format parquet, compression {ZONE_COMPRESSION})"
                )
                rewritten.append((table, raw_file, new, person))
    finally:
        con.remove_function("_erase_text")
    if not rewritten:
        return 0
    try:
        with in_transaction(con):
            for table, old, new, person in rewritten:
                con.execute(
                    "update raw._load_log set raw_file = ?, erased_at = case "
                    "when list_contains(cast(? as varchar[]), file_path) then current_timestamp else erased_at end "
                    "where table_name = ? and raw_file = ?",
                    [new, person, table, old],
                )
            for table in sorted({t for t, *_ in rewritten}):
                replace_view(con, database, table)
    except BaseException:
        for table, _old, new, _person in rewritten:
            (raw_zone(database) / table / new).unlink(missing_ok=True)
        raise
    for table, old, _new, _person in rewritten:
        (raw_zone(database) / table / old).unlink(missing_ok=True)
    return len(rewritten)


def _register_erase_text(con: duckdb.DuckDBPyConnection, replacer: Replacer) -> None:
    """``_erase_text(text)`` in SQL: the text with every erased value replaced (removed by the caller)."""
    con.create_function(
        "_erase_text",
        replacer.text,
        [duckdb.sqltypes.VARCHAR],
        duckdb.sqltypes.VARCHAR,
        null_handling="special",
        side_effects=False,
    )


def _scrub_duckdb(con: duckdb.DuckDBPyConnection, replacer: Replacer, catalog: str) -> int:
    """Replace the erased values in every text column of every table of ``catalog``."""
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where table_catalog = ? and t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR'",
        [catalog],
    ).fetchall()
    _register_erase_text(con, replacer)
    needles = sorted(replacer.spellings)
    changed = 0
    try:
        for schema, table, column in columns:
            target = f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"
            col = _quote(column)
            condition = " or ".join(f"contains({col}, ?)" for _ in needles)
            changed += con.execute(
                f"update {target} set {col} = _erase_text({col}) where {condition}", needles
            ).fetchone()[0]
    finally:
        con.remove_function("_erase_text")
    # a table that keeps consents (staging, until the next build) has none for an erased customer
    consents = con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where table_catalog = ? and t.table_type = 'BASE TABLE' and c.column_name in ('email_opt_in', 'line_opt_in') "
        "and c.data_type in ('BOOLEAN', 'VARCHAR') and exists (select 1 from information_schema.columns k "
        "where k.table_catalog = c.table_catalog and k.table_schema = c.table_schema "
        "and k.table_name = c.table_name and k.column_name = 'customer_id')",
        [catalog],
    ).fetchall()
    ghosts = sorted(replacer.tombstones.values())
    for schema, table, column, kind in consents:
        target = f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"
        value = "false" if kind == "BOOLEAN" else "'false'"
        con.execute(
            f"update {target} set {_quote(column)} = {value} where customer_id in ({', '.join('?' for _ in ghosts)})",
            ghosts,
        )
    return changed


def _storage_version(con: duckdb.DuckDBPyConnection, catalog: str, default: str) -> str:
    try:
        row = con.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = ?",
            [catalog],
        ).fetchone()
    except duckdb.Error:
        row = None
    # DuckDB names the format of a file by the first release that writes it (``v1.5.0+``)
    return row[0].rstrip("+") if row and row[0] else default


def _rewrite_duckdb(path: Path, catalog: str, storage_version: str) -> None:
    """Copy a DuckDB file into a new one and move it over the old: no old value stays in its free
    blocks or WAL. The file is attached under its own catalog name: views name it."""
    tmp = path.with_name(f".{path.name}.erase.tmp")
    tmp.unlink(missing_ok=True)
    copy = "_erase_copy" if catalog != "_erase_copy" else "_erase_copy2"
    with duckdb.connect() as con:
        con.execute(f"attach {duckdb_text(path)} as {_quote(catalog)} (read_only)")
        con.execute(f"attach {duckdb_text(tmp)} as {copy} (storage_version '{storage_version}')")
        con.execute(f"copy from database {_quote(catalog)} to {copy}")
        con.execute(f"detach {_quote(catalog)}")
        con.execute(f"detach {copy}")
    os.replace(tmp, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def erase_duckdb_file(path: Path, replacer: Replacer, default_version: str, ids: list[str] | None = None) -> int:
    """Clean one DuckDB file (with ``ids``: it is the warehouse, whose raw rows are erased first)."""
    with duckdb.connect(str(path)) as con:
        catalog = con.execute("select current_database()").fetchone()[0]
        version = _storage_version(con, catalog, default_version)
        if ids:
            _erase_raw_zone(con, path, ids, replacer)
            _erase_raw(con, ids)
            erase_from_contact_log(con, ids)
        changed = _scrub_duckdb(con, replacer, catalog)
        con.execute("checkpoint")
    _rewrite_duckdb(path, catalog, version)
    return changed


# ---- other files ----------------------------------------------------------------------------------


def _scrub_parquet(path: Path, replacer: Replacer) -> bool:
    table = pq.read_table(path)
    metadata = pq.read_metadata(path)
    compression = (
        metadata.row_group(0).column(0).compression.lower()
        if metadata.num_row_groups and metadata.num_columns
        else "zstd"
    )
    changed = False
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = column.to_pylist()
            new = [replacer.text(v) for v in values]
            if new != values:
                changed = True
                column = pa.chunked_array([pa.array(new, column.type)])
        columns.append(column)
    if changed:
        tmp = path.with_name(f".{path.name}.erase.tmp")
        pq.write_table(
            pa.Table.from_arrays(columns, schema=table.schema),
            tmp,
            compression=None if compression == "uncompressed" else compression,
        )
        os.replace(tmp, path)
    return changed


def _scrub_text(path: Path, replacer: Replacer) -> bool:
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw[3 if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp932")
    new = replacer.text(text)
    if new == text:
        return False
    tmp = path.with_name(f".{path.name}.erase.tmp")
    tmp.write_bytes((b"\xef\xbb\xbf" if bom else b"") + new.encode("utf-8"))
    os.replace(tmp, path)
    return True


def _scrub_sqlite(path: Path, replacer: Replacer) -> bool:
    changed = 0
    with sqlite3.connect(path) as con:
        con.create_function(
            "erase_text",
            1,
            lambda v: replacer.text(v) if isinstance(v, str) else v,
            deterministic=True,
        )
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for column in con.execute(f"pragma table_info({_quote(table)})").fetchall():
                name, kind = column[1], (column[2] or "").upper()
                if any(k in kind for k in ("CHAR", "TEXT", "CLOB")) or not kind:
                    col = _quote(name)
                    condition = " or ".join(f"instr({col}, ?) > 0" for _ in replacer.spellings)
                    changed += con.execute(
                        f"update {_quote(table)} set {col} = erase_text({col}) where {condition}",
                        list(replacer.spellings),
                    ).rowcount
    if changed:
        with sqlite3.connect(path) as con:
            con.execute("vacuum")
    return bool(changed)


def _is_duckdb(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[8:12] == b"DUCK"


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == b"SQLite format 3\x00"


def _files(roots: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            real = path.resolve()
            if path.is_symlink() or not path.is_file() or real in seen:
                continue
            if PRIVACY_DIR in path.parts and path.name in (KEY_FILE, REGISTER_FILE):
                continue
            seen.add(real)
            out.append(path)
    return out


def _holds(path: Path, needles: list[bytes], anywhere: re.Pattern | None = None) -> bool:
    """Whether a file's bytes hold an erased value (standing alone; a personal value anywhere)."""
    data = path.read_bytes()
    if anywhere is not None and anywhere.search(data.decode("utf-8", "ignore")):
        return True
    return any(re.search(rb"(?<![0-9A-Za-z_\-])" + re.escape(n) + rb"(?![0-9A-Za-z_\-])", data) for n in needles)


def erase(
    customer_ids: Iterable[str],
    database: Path | None = None,
    roots: Iterable[Path] | None = None,
    publish: Path | None = None,
    landing: Path | None = None,
) -> Erasure:
    """Erase the customers (see the module's description) from the warehouse ``database`` and
    every file under ``roots`` (default: the warehouse's folder, the publish folder, GX results, the
    run logs, the Dagster instance and the delivery's upload files; files under the landing folder
    are left to the shop)."""
    ids = sorted({c.strip() for c in customer_ids if c and c.strip()})
    if not ids:
        raise ValueError("no customer id given: name them (crm erase C0001 C0002) or --file ids.txt")
    from orchestration.pipeline.resources import WarehouseResource, warehouse_resource

    # on Spark: the DuckDB file beside the raw zone Spark's raw tables read (decision 147)
    database = Path(database or warehouse_resource().database)
    if not database.exists():
        raise FileNotFoundError(f"no warehouse at {database}: set CRM_DUCKDB_PATH or --database")
    publish = Path(publish or publish_dir())
    roots = [Path(r) for r in (default_roots(database, publish) if roots is None else roots)]

    # the warehouse's one-writer lock: an erasure waits for a running job (and stops the next one)
    with WarehouseResource(database=str(database)).write_lock():
        return _erase(ids, database, roots, publish, landing)


def default_roots(database: Path, publish: Path) -> list[Path]:
    """The folders an erasure rewrites: the warehouse's, the publish folder, GX results, the run
    logs and the Dagster instance wherever the settings put them, the delivery's upload files (they
    hold contact keys until they expire) and, on Spark, Spark's warehouse folder."""
    from orchestration.settings import gx_dir, settings

    shop = settings()
    roots = [database.parent, publish, gx_dir(), database.parent / "logs", shop.logs_dir, shop.dagster_home]
    if shop.delivery.files is not None:
        roots.append(shop.delivery.files.dir)
    if shop.target == "spark":  # Spark's tables are Parquet files in its warehouse folder
        roots.append(shop.spark.warehouse_dir)
    return [Path(r) for r in roots]


def _erase(ids: list[str], database: Path, roots: list[Path], publish: Path, landing: Path | None) -> Erasure:
    from orchestration.ingest.load import WAREHOUSE_STORAGE_VERSION, raw_zone
    from orchestration.pipeline.repair import load_log_copy, save_load_log
    from orchestration.publish.publish import STORAGE_VERSION as PUBLISH_STORAGE_VERSION

    key = erasure_key(database, create=True)
    tombstones = {c: tombstone(key, c) for c in ids}
    report = Erasure(customers=len(ids), tombstones=tombstones)

    # the warehouse's raw rows give the personal values to look for everywhere; the warehouse is
    # cleaned last, so that an interrupted erasure finds them again when it is run once more
    replacer = Replacer(tombstones, personal_values(database, ids))

    publish_real, landing_real = publish.resolve(), Path(landing or landing_dir()).resolve()
    zone_real = raw_zone(database).resolve()
    for path in _files(roots):
        # the landing files are the shop's: it removes the person from them (see docs/privacy.md);
        # the raw zone is rewritten with the warehouse, last
        if (
            path.resolve() == database.resolve()
            or landing_real in path.resolve().parents
            or zone_real in path.resolve().parents
        ):
            continue
        try:
            if _is_duckdb(path):
                under_publish = publish_real in path.resolve().parents
                changed = erase_duckdb_file(
                    path,
                    replacer,
                    PUBLISH_STORAGE_VERSION if under_publish else WAREHOUSE_STORAGE_VERSION,
                )
                report.values_changed += changed
                report.files_rewritten.append(str(path))
                continue
            # Parquet and SQLite compress or page their values: read, never grepped
            if path.suffix.lower() == ".parquet":
                done = _scrub_parquet(path, replacer)
            elif _is_sqlite(path):
                done = _scrub_sqlite(path, replacer)
            elif not _holds(path, replacer.needles(), replacer.raw_pattern):
                continue
            elif path.suffix.lower() in TEXT_SUFFIXES:
                done = _scrub_text(path, replacer)
            else:
                done = False
            if done:
                report.files_rewritten.append(str(path))
            if _holds(path, replacer.needles(), replacer.raw_pattern):
                report.not_cleaned.append(
                    f"{path}: holds an erased value in a form erase cannot rewrite; remove the file"
                )
        except (OSError, duckdb.Error, pa.ArrowException, sqlite3.Error, UnicodeDecodeError) as exc:
            report.not_cleaned.append(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    report.values_changed += erase_duckdb_file(database, replacer, WAREHOUSE_STORAGE_VERSION, ids)
    report.files_rewritten.append(str(database))
    save_contact_log_copy(database)  # the copy beside the warehouse, without the removed rows
    if load_log_copy(database).exists():  # the copy names the raw zone's new files
        save_load_log(database)
    record_erasures(database, (keyed_hash(key, c) for c in ids))
    return report


def read_ids(path: Path) -> list[str]:
    """Customer ids of a file, one a line (blank lines and lines starting with # are skipped)."""
    return [
        line.strip()
        for line in Path(path).read_text(encoding="utf-8-sig").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("customer_ids", nargs="*", help="customer ids to erase")
    parser.add_argument("--file", type=Path, default=None, help="a file of customer ids, one a line")
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        help="DuckDB warehouse (default: the settings' warehouse; on Spark the file beside its raw zone)",
    )


def main(args: argparse.Namespace) -> int:
    from orchestration.pipeline.resources import WarehouseLockedError, warehouse_resource

    ids = list(args.customer_ids) + (read_ids(args.file) if args.file else [])
    database = Path(args.database or warehouse_resource().database)
    try:
        report = erase(ids, database)
    except (ValueError, FileNotFoundError) as exc:
        print(f"[erase] {exc}", file=sys.stderr)
        return 2
    except (duckdb.IOException, WarehouseLockedError) as exc:  # open in a run or the UI
        print(
            f"[erase] the warehouse cannot be opened for writing ({str(exc).splitlines()[0][:200]}): "
            "wait for the running job to end, stop other programs that hold it open, and run again",
            file=sys.stderr,
        )
        return 2
    print(
        f"[erase] {report.customers} customers erased: personal data removed, ids replaced by tombstones "
        f"in {len(report.files_rewritten)} files ({report.values_changed} values); recorded in "
        f"{privacy_dir(database) / REGISTER_FILE}. Remove them from the "
        "landing files too (the shop's copies)."
    )
    for line in report.not_cleaned:
        print(f"[erase] ERROR {line}", file=sys.stderr)
    return 1 if report.not_cleaned else 0
