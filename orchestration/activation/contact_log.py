"""The contact log: what each day's exports held and what became of each delivery (domain.md
"One-to-One activation"; docs/decisions/0130-contact-log.md).

Two tables of schema ``activation``, declared once in the dbt var ``contact_log_tables`` and created
empty by the dbt on-run-start hook (macros/contact_log.sql) or here:

- ``contact_log``: one row per customer x audience x entry date with a consented channel when the
  list was made (contacted and held out), appended by ``log_day`` when the exports are made and
  never rewritten by dbt; ``delivery_status`` is then set by the delivery
  (orchestration/activation/delivery.py);
- ``contact_log_days``: one row per logged day, so a rerun of a logged day adds nothing, even a
  day without entries.

A warehouse whose log is empty fills the lookback window before the day from the data once
(``intermediate.int_reconstructed_entries``), marked ``is_reconstructed``. dbt reads the log as the
source ``activation`` and exposes the mart ``contact_log``, which ``audience_lift`` reads.

What the landing files cannot give back, a rebuild must keep: after each change the log is copied
beside the warehouse (``<warehouse>.contact_log.parquet``, ``...contact_log_days.parquet``), and
``restore`` puts it into a rebuilt warehouse (``crm repair``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from orchestration.settings import dbt_var
from orchestration.sql_text import duckdb_text

SCHEMA = "activation"
LOG = "contact_log"
DAYS = "contact_log_days"
# {table: {column: type}}: the one declaration (dbt var `contact_log_tables`)
TABLES: dict[str, dict[str, str]] = dbt_var("contact_log_tables")
STATUSES = ("sent", "skipped_no_consent", "failed", "not_delivered")
NOT_DELIVERED = "not_delivered"
# the marts that read the log, rebuilt after a day is logged
MARTS = ("contact_log", "audience_lift")


@dataclass
class Logged:
    """What ``log_day`` did for one day."""

    as_of_date: str
    already_logged: bool = False
    entries: int = 0
    days_reconstructed: int = 0
    entries_reconstructed: int = 0

    def line(self) -> str:
        if self.already_logged:
            return f"contact log: {self.as_of_date} was logged before; nothing added"
        text = f"contact log: {self.entries} entries of {self.as_of_date} logged"
        if self.days_reconstructed:
            text += (
                f"; {self.entries_reconstructed} entries of {self.days_reconstructed} earlier days "
                "reconstructed from the data (a warehouse without a log)"
            )
        return text


def create_sql() -> list[str]:
    """The DDL that makes the log's tables exist (empty), as the dbt hook does."""
    out = [f"create schema if not exists {SCHEMA}"]
    for table, columns in TABLES.items():
        declared = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        out.append(f"create table if not exists {SCHEMA}.{table} ({declared})")
    return out


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for sql in create_sql():
        con.execute(sql)


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _fit_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """as_of_date of the full CLV fit that scored today's audiences (None without one)."""
    if not _exists(con, "model_fits", "clv_fits"):
        return None
    row = con.execute(
        "select max(as_of_date) from model_fits.clv_fits where fit = 'full' and status = 'fitted'"
    ).fetchone()
    return row[0] if row else None


def log_day(database: str | Path, as_of: str) -> Logged:
    """Append the entries of ``as_of`` (marts.customer_audiences, built for that day) to the log,
    unless the day was logged before; on a warehouse without a log, first the lookback window's
    earlier days from the data (reconstructed). One transaction; the copy beside the warehouse
    follows."""
    day = date.fromisoformat(str(as_of))
    result = Logged(day.isoformat())
    columns = list(TABLES[LOG])
    with duckdb.connect(str(database)) as con:
        ensure_tables(con)
        built = con.execute("select distinct as_of_date from marts.customer_audiences").fetchall()
        if built and {r[0] for r in built} != {day}:
            raise ValueError(
                f"marts.customer_audiences was built for {built[0][0]}, not {day}: build the day "
                f"(crm run --date {day}) before its exports"
            )
        con.execute("begin")
        if con.execute(f"select count(*) from {SCHEMA}.{DAYS} where entry_date = ?", [day]).fetchone()[0]:
            con.execute("rollback")
            result.already_logged = True
            return result
        fit = _fit_as_of(con)
        if not con.execute(f"select count(*) from {SCHEMA}.{DAYS}").fetchone()[0]:
            first = day - timedelta(days=int(dbt_var("activation_lookback_days")) - 1)
            con.execute(
                f"""
                insert into {SCHEMA}.{LOG} ({", ".join(columns)})
                select customer_id, audience, entry_date, channel, null, null, is_holdout, null, null,
                       null, true, ?, null, current_timestamp
                from intermediate.int_reconstructed_entries
                where entry_date >= ? and entry_date < ?
                """,
                [NOT_DELIVERED, first, day],
            )
            con.execute(
                f"""
                insert into {SCHEMA}.{DAYS}
                select d.entry_date, true, count(l.customer_id), current_timestamp
                from (select cast(unnest(generate_series(cast(? as date), cast(? as date), interval 1 day))
                             as date) as entry_date) as d
                left join {SCHEMA}.{LOG} as l on l.entry_date = d.entry_date and l.is_reconstructed
                group by d.entry_date
                """,
                [first, day - timedelta(days=1)],
            )
            result.days_reconstructed, result.entries_reconstructed = con.execute(
                f"select count(*), coalesce(sum(count_entries), 0) from {SCHEMA}.{DAYS} where is_reconstructed"
            ).fetchone()
        con.execute(
            f"""
            insert into {SCHEMA}.{LOG} ({", ".join(columns)})
            select customer_id, audience, as_of_date, channel, send_date, send_hour, is_holdout,
                   offer_1_product_id, offer_2_product_id, ?, false, ?, null, current_timestamp
            from marts.customer_audiences
            where is_entry and channel is not null
            """,
            [fit, NOT_DELIVERED],
        )
        result.entries = con.execute(
            f"select count(*) from {SCHEMA}.{LOG} where entry_date = ? and not is_reconstructed", [day]
        ).fetchone()[0]
        con.execute(f"insert into {SCHEMA}.{DAYS} values (?, false, ?, current_timestamp)", [day, result.entries])
        con.execute("commit")
    save_copy(database)
    return result


def copy_path(database: str | Path, table: str) -> Path:
    return Path(f"{database}.{table}.parquet")


def save_copy(database: str | Path) -> None:
    """Copy the log's tables beside the warehouse (temporary name, then rename)."""
    with duckdb.connect(str(database), read_only=True) as con:
        if not _exists(con, SCHEMA, DAYS):
            return
        for table in TABLES:
            target = copy_path(database, table)
            tmp = target.with_name(f".{target.name}.tmp")
            con.execute(f"copy (select * from {SCHEMA}.{table} order by all) to {duckdb_text(tmp)} (format parquet)")
            os.replace(tmp, target)


def restore(database: str | Path, damaged: str | Path | None = None) -> int:
    """Put the log into a rebuilt warehouse: from the copy beside it, else from ``damaged`` (the
    old file) if it still reads. Returns the log rows restored."""
    copies = {t: copy_path(database, t) for t in TABLES}
    with duckdb.connect(str(database)) as con:
        ensure_tables(con)
        if con.execute(f"select count(*) from {SCHEMA}.{DAYS}").fetchone()[0]:
            return 0  # a log is there already
        if all(p.exists() for p in copies.values()):
            for table, path in copies.items():
                con.execute(f"insert into {SCHEMA}.{table} select * from read_parquet({duckdb_text(path)})")
        elif damaged is not None and Path(damaged).exists():
            try:
                con.execute(f"attach {duckdb_text(damaged)} as damaged (read_only)")
                for table in TABLES:
                    con.execute(f"insert into {SCHEMA}.{table} select * from damaged.{SCHEMA}.{table}")
                con.execute("detach damaged")
            except duckdb.Error:
                return 0
        restored = con.execute(f"select count(*) from {SCHEMA}.{LOG}").fetchone()[0]
    save_copy(database)
    return restored


def erase_customers(con: duckdb.DuckDBPyConnection, ids: list[str]) -> int:
    """Remove the customers' log rows (an erasure: docs/privacy.md); returns the rows removed."""
    if not ids or not _exists(con, SCHEMA, LOG):
        return 0
    placeholders = ", ".join("?" for _ in ids)
    removed = con.execute(f"select count(*) from {SCHEMA}.{LOG} where customer_id in ({placeholders})", ids).fetchone()[
        0
    ]
    con.execute(f"delete from {SCHEMA}.{LOG} where customer_id in ({placeholders})", ids)
    return removed


def rebuild_marts(database: str | Path, as_of: str, target: Path | None = None, parse: Path | None = None) -> None:
    """Build the marts that read the log (``MARTS``) after a day was logged or delivered.

    dbt writes its files and log into ``target`` (the daily job gives its run's folder), else into a
    scratch folder removed afterwards: never into the project's ``target/``, whose manifest Dagster
    loads. ``parse``: a dbt partial_parse.msgpack saved with the same vars (the run's dbt build), so
    dbt re-parses only what changed (decision 103)."""
    from orchestration.dbt import dbt_env, run_dbt_in

    scratch = target is None
    folder = Path(tempfile.mkdtemp(prefix="contact-log-marts-")) if scratch else Path(target)
    try:
        run_dbt_in(
            folder,
            ["run", "--select", *MARTS, "--quiet", "--log-format-file", "json"],
            {"as_of_date": str(as_of)},
            dbt_env(database),
            parse,
        )
    finally:
        if scratch:
            shutil.rmtree(folder, ignore_errors=True)


def copy_to_spark(database: str | Path, root: Path | None = None) -> dict[str, int]:
    """Replace the local Spark warehouse's log tables' rows with the DuckDB warehouse's (a log
    moved to Spark by hand). The tables must exist (the dbt on-run-start hook creates them)."""
    from orchestration.ingest.spark import replace_tables_from_duckdb

    return replace_tables_from_duckdb(database, SCHEMA, tuple(TABLES), root)
