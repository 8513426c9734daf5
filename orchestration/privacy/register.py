"""The erasure register: which customers were erased, as keyed hashes, and how ingest applies it.

``crm erase`` (orchestration/privacy/erase.py) writes it; ingest (orchestration/ingest/load.py)
applies it to every new file, so a re-sent old file brings nobody back (``apply_register``). The
secret of the keyed hash (``privacy/erasure.key`` beside the warehouse) never leaves that folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.contract import CONTRACT

TOMBSTONE_PREFIX = "erased-"
TOMBSTONE_DIGITS = 16
PRIVACY_DIR = "privacy"
KEY_FILE = "erasure.key"
REGISTER_FILE = "erasures.txt"
# the contract's tables that hold a customer id, and those that hold personal data
CUSTOMER_TABLES = tuple(t for t, spec in CONTRACT.items() if any(c["name"] == "customer_id" for c in spec["columns"]))
PERSONAL_COLUMNS = {t: [c["name"] for c in spec["columns"] if c["type"] == "personal"] for t, spec in CONTRACT.items()}
CONSENT_COLUMNS = ("email_opt_in", "line_opt_in")


def privacy_dir(database: Path) -> Path:
    return Path(database).parent / PRIVACY_DIR


def erasure_key(database: Path, create: bool = False) -> str | None:
    """The secret of the keyed hash beside the warehouse (made on the first erasure)."""
    path = privacy_dir(database) / KEY_FILE
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def keyed_hash(key: str, customer_id: str) -> str:
    """sha256 of the key and the id (hex); the SQL in ``apply_register`` computes the same."""
    return hashlib.sha256((key + customer_id).encode("utf-8")).hexdigest()


def tombstone(key: str, customer_id: str) -> str:
    return TOMBSTONE_PREFIX + keyed_hash(key, customer_id)[:TOMBSTONE_DIGITS]


def erased_hashes(database: Path) -> set[str]:
    """The keyed hashes of every erased customer (the register beside the warehouse)."""
    path = privacy_dir(database) / REGISTER_FILE
    if not path.exists():
        return set()
    return {line.split()[0] for line in path.read_text().splitlines() if line.strip()}


def record_erasures(database: Path, hashes: Iterable[str]) -> None:
    path = privacy_dir(database) / REGISTER_FILE
    known = erased_hashes(database)
    day = datetime.now(UTC).date().isoformat()
    with path.open("a") as fh:
        for value in sorted(set(hashes) - known):
            fh.write(f"{value} {day}\n")


def apply_register(con: duckdb.DuckDBPyConnection, database: Path, table: str, loaded_at) -> int:
    """Ingest's part of an erasure: the rows of ``raw.<table>`` loaded at ``loaded_at`` (this run)
    whose customer was erased get the tombstone, no personal data and no consent; a malformed line
    that names them keeps only its description. Returns how many rows were changed."""
    if table not in CUSTOMER_TABLES:
        return 0
    hashes = erased_hashes(database)
    key = erasure_key(database)
    if not hashes or key is None:
        return 0
    con.register("_erased_hashes", pa.table({"h": pa.array(sorted(hashes), pa.string())}))
    try:
        # the id as staging reads it (without surrounding spaces)
        match = "sha256(? || trim(customer_id)) in (select h from _erased_hashes)"
        ghost = f"'{TOMBSTONE_PREFIX}' || substr(sha256(? || trim(customer_id)), 1, {TOMBSTONE_DIGITS})"
        sets = [f"customer_id = {ghost}"]
        sets += [f"{c} = null" for c in PERSONAL_COLUMNS[table]]
        sets += [f"{c} = 'false'" for c in CONSENT_COLUMNS if c in _columns(table)]
        changed = con.execute(
            f"update raw.{table} set {', '.join(sets)} where _loaded_at = ? and {match}",
            [key, loaded_at, key],
        ).fetchone()[0]
        # a malformed line's text may hold the id of an erased customer in any field
        lines = con.execute(
            f"select _source_file, _row_number, _malformed_line from raw.{table} "
            "where _loaded_at = ? and _malformed_line is not null",
            [loaded_at],
        ).fetchall()
        for source_file, row_number, text in lines:
            fields = next(csv.reader(io.StringIO(text)), [])
            if any(keyed_hash(key, f.strip()) in hashes for f in fields):
                con.execute(
                    f"update raw.{table} set _malformed_line = ? where _source_file = ? and _row_number = ?",
                    [_erased_line(text), source_file, row_number],
                )
                changed += 1
    finally:
        con.unregister("_erased_hashes")
    return changed


def apply_register_to_rows(rows: pa.Table, database: Path, table: str) -> tuple[pa.Table, int]:
    """``apply_register`` for rows outside the DuckDB file (a raw zone file just written, which the
    raw views and Spark's raw tables read): the same rule, on the rows in an in-memory DuckDB, so an
    erased customer's rows in a landing file come back with their tombstone. ``rows`` are raw rows
    of one load (one ``_loaded_at``); same columns back."""
    if table not in CUSTOMER_TABLES or rows.num_rows == 0 or not erased_hashes(database):
        return rows, 0
    loaded_at = rows.column("_loaded_at")[0].as_py()
    with duckdb.connect() as con:
        con.execute("create schema raw")
        con.register("_rows", rows)
        con.execute(f"create table raw.{table} as select * from _rows")
        con.unregister("_rows")
        changed = apply_register(con, database, table, loaded_at)
        erased = con.execute(f"select * from raw.{table}").to_arrow_table()
    return erased.cast(rows.schema), changed


def _erased_line(text: str) -> str:
    return f"{len(text)} characters (text removed: it named an erased customer)"


def _columns(table: str) -> list[str]:
    return [c["name"] for c in CONTRACT[table]["columns"]]
