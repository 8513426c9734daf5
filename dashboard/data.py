"""Read-only access to the published marts for the dashboard.

Every query opens the published DuckDB file read-only (``$CRM_PUBLISH_DIR/crm_marts.duckdb``,
default ``data/published``): publishing swaps the file atomically, so a new connection sees the
newest marts and the dashboard never blocks a build. Figures come from the marts' own columns
(or the semantic layer's definitions, models/marts/semantic/); nothing re-derives a metric.

TRAP: f2_conversion and second_purchase_timing carry roll-up rows where cohort_month,
acquisition_channel or first_category is the literal 'all'. Summing counts over all rows counts a
customer several times; every query below filters each of those columns to 'all' or to real
values (``<> 'all'``), never both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

# Why a mart that exists can be empty, shown instead of an empty chart.
EMPTY_REASONS = {
    "abandoned_carts": "no known customer left a cart in a session without a purchase",
    "customer_predictions": "no customer has a purchase on or before as_of_date",
    "clv_model_validation": "the calibration fit had too little data (see clv_model.status_reason)",
    "customer_audiences": "no customer qualifies for an audience on as_of_date",
    "audience_lift": "no audience entry is old enough for a 7-day window yet",
    "subscription_retention": "the shop has no 定期 subscriptions",
}

# Which models build a mart that is not published yet.
COMING_FROM = {
    "customer_predictions": "the prediction marts",
    "clv_model": "the prediction marts",
    "clv_model_validation": "the prediction marts",
    "customer_audiences": "the activation marts",
    "audience_lift": "the activation marts",
    "subscription_retention": "the 定期 subscription marts",
}


def publish_dir() -> Path:
    """The shop's publish folder (setting `publish_dir`, docs/settings.md)."""
    from orchestration.settings import publish_dir as shop_publish_dir

    return shop_publish_dir()


def database() -> Path:
    return publish_dir() / "crm_marts.duckdb"


@dataclass
class Mart:
    """A mart's rows, or why there are none (``problem``)."""

    name: str
    df: pd.DataFrame
    problem: str | None = None


def _connect() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(database()), read_only=True)


def published_marts() -> set[str]:
    if not database().exists():
        return set()
    con = _connect()
    try:
        return {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()


def query(sql: str, params: list | None = None) -> pd.DataFrame:
    con = _connect()
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def mart(name: str, sql: str | None = None, params: list | None = None) -> Mart:
    """Rows of ``marts.<name>`` (or of ``sql`` over it); never raises for a missing or empty mart."""
    if not database().exists():
        return Mart(
            name,
            pd.DataFrame(),
            f"not built yet: no published file at {database()} (run `orchestration.cli run`)",
        )
    if name not in published_marts():
        origin = COMING_FROM.get(name, "its model")
        return Mart(
            name,
            pd.DataFrame(),
            f"not built yet: marts.{name} is not in the published file; it comes with {origin}",
        )
    df = query(sql or f"select * from marts.{name}", params)
    if df.empty:
        reason = EMPTY_REASONS.get(name, "the published build has no rows for it")
        return Mart(name, df, f"empty because {reason} (marts.{name})")
    return Mart(name, df)


def manifest_as_of() -> str | None:
    import json

    path = publish_dir() / "manifest.json"
    return json.loads(path.read_text()).get("as_of_date") if path.exists() else None
