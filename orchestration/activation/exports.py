"""The day's audience exports for a shop's LINE / e-mail tool (domain.md "One-to-One activation").

For each channel (`line`, `email`), one CSV (UTF-8 with BOM, so Excel opens it) and one Parquet
file with that day's entries of `marts.customer_audiences` that are not held out and have that
consented channel, every audience in one file (the audience is a column). A channel without an
entry today has no file: exports.json says 0 (docs/decisions/0133-export-files.md). Columns:
EXPORT_COLUMNS, never personal data: offers carry the product's name, the reason is a plain
sentence for the customer-facing team. The upload-ready files with the contact key are made by
the delivery step (delivery.py), outside the published folder. The same warehouse gives
byte-identical files (sorted rows, no timestamps in them), so a rerun of a day changes nothing.

The Dagster asset `audience_exports` writes them to a staging folder and checks them with
``audit_exports`` (a blocking ERROR check); `published_marts` then moves them into the published
generation together with the marts (`<publish dir>/exports/<audience>.csv|.parquet`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.privacy.consent import unknown_consent_is_consent

EXPORT_COLUMNS = [
    "customer_id",
    "audience",
    "channel",
    "send_date",
    "send_hour",
    "offer_1_product_id",
    "offer_1_product_name",
    "offer_2_product_id",
    "offer_2_product_name",
    "reason",
]
CHANNELS = ("line", "email")
SUMMARY = "exports.json"


def holdout_bucket(customer_id: str, audience: str) -> int:
    """The stable bucket 0..9999 of macros/customer_rules.sql::stable_bucket: a customer is held out
    of an audience when it is below var activation_holdout_share x 10000."""
    return int(hashlib.md5(f"{customer_id}|{audience}".encode()).hexdigest()[:7], 16) % 10000


ROWS_SQL = """
select
    a.customer_id, a.audience, a.channel, a.send_date, a.send_hour,
    a.offer_1_product_id, a.offer_1_product_name, a.offer_2_product_id, a.offer_2_product_name, a.reason
from marts.customer_audiences as a
where a.is_entry and not a.is_holdout and a.channel is not null
order by a.channel, a.audience, a.customer_id
"""


def write_exports(database: Path, out_dir: Path, as_of_date: str) -> dict:
    """Write one CSV and one Parquet file per channel with entries today into ``out_dir``;
    return {channel: rows} (every channel, 0 without a file; also written as exports.json)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(ROWS_SQL).df()
    rows["send_date"] = pd.to_datetime(rows["send_date"]).dt.date
    rows["send_hour"] = rows["send_hour"].astype("Int64")
    counts = {}
    for channel in CHANNELS:
        part = rows[rows["channel"] == channel].reset_index(drop=True)
        counts[channel] = len(part)
        if part.empty:
            continue
        part.to_csv(out_dir / f"{channel}.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), out_dir / f"{channel}.parquet", compression="zstd")
    (out_dir / SUMMARY).write_text(json.dumps({"as_of_date": as_of_date, "rows": counts}, indent=2) + "\n")
    return counts


def audit_exports(database: Path, out_dir: Path) -> list[str]:
    """What makes the exports in ``out_dir`` unfit to send, one line each; empty when they are fit:
    a column outside EXPORT_COLUMNS (personal data has no place there), a customer who is a guest
    or unknown, a channel without consent or not the file's, a held-out customer, a row that is not
    today's entry."""
    problems: list[str] = []
    unknown_is_consent = "true" if unknown_consent_is_consent() else "false"  # SQL literal
    files = sorted(Path(out_dir).glob("*.parquet"))
    with duckdb.connect(str(database), read_only=True) as con:
        for path in files:
            frame = pd.read_parquet(path)
            extra = [c for c in frame.columns if c not in EXPORT_COLUMNS]
            if extra:
                problems.append(f"{path.name}: columns not allowed in an export: {', '.join(extra)}")
                continue
            if frame.empty:
                continue
            con.register("export_rows", frame)
            checked = con.execute(f"""
                select
                    e.customer_id, e.channel,
                    c.customer_id is null as is_unknown,
                    case e.channel
                        when 'line' then coalesce(c.line_opt_in, {unknown_is_consent})
                        when 'email' then coalesce(c.email_opt_in, {unknown_is_consent})
                        else false
                    end as consented,
                    coalesce(a.is_holdout, false) as is_holdout,
                    coalesce(a.is_entry and a.audience = e.audience, false) as is_entry
                from export_rows as e
                left join staging.stg_shop__customers as c on e.customer_id = c.customer_id
                left join marts.customer_audiences as a on e.customer_id = a.customer_id
            """).df()
            con.unregister("export_rows")
            for label, mask in (
                ("is a guest or not a known customer", checked.is_unknown),
                ("has no consent for its channel", ~checked.consented.eq(True)),
                ("is held out", checked.is_holdout.astype(bool)),
                ("is not one of today's entries of this audience", ~checked.is_entry.astype(bool)),
                ("is not of this file's channel", checked.channel.ne(path.stem)),
            ):
                bad = checked[mask.astype(bool)]
                if len(bad):
                    sample = ", ".join(f"{r.customer_id} ({r.channel})" for r in bad.head(3).itertuples())
                    problems.append(f"{path.name}: {len(bad)} rows whose customer {label}, e.g. {sample}")
    return problems
