"""The raw data contract (../shared/raw-contract.md) in one place: tables, columns, keys, paths.

Every Python piece (generator, ingest, checks) reads the contract from here; the SQL side of the
contract (validation rules, dedupe order) lives in ``models/staging/shop/base/``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

TABLE_COLUMNS: dict[str, list[str]] = {
    "orders": [
        "order_id", "customer_id", "ordered_at", "status", "order_total", "discount_total",
        "shipping_fee", "order_channel", "is_subscription", "subscription_id", "updated_at",
    ],
    "order_items": ["order_id", "line_number", "product_id", "quantity", "unit_price"],
    "customers": [
        "customer_id", "registered_at", "acquisition_source", "email", "full_name", "prefecture",
        "birth_year", "updated_at",
    ],
    "products": ["product_id", "product_name", "category", "unit_cost", "launched_at", "updated_at"],
    "events": [
        "event_id", "session_id", "anonymous_id", "customer_id", "event_type", "occurred_at",
        "product_id", "order_id", "utm_source", "utm_medium", "utm_campaign", "device",
    ],
    "marketing_spend": ["spend_date", "utm_source", "utm_medium", "utm_campaign", "spend"],
    "subscriptions": [
        "subscription_id", "customer_id", "product_id", "started_at", "interval_days", "status",
        "cancelled_at", "cancel_reason", "offer_code", "updated_at",
    ],
}
REQUIRED_TABLES = ("orders",)
PERSONAL_DATA_COLUMNS = ("email", "full_name")
FILE_SUFFIXES = (".parquet", ".csv")
# Columns added by ingest to every raw table (lineage for quarantine and dedupe).
META_COLUMNS = ("_source_file", "_row_number", "_loaded_at")


def landing_dir() -> Path:
    return Path(os.environ.get("CRM_LANDING_DIR", PROJECT_DIR / "data" / "landing"))


def warehouse_path() -> Path:
    return Path(os.environ.get("CRM_DUCKDB_PATH", PROJECT_DIR / "data" / "warehouse.duckdb"))


def publish_dir() -> Path:
    return Path(os.environ.get("CRM_PUBLISH_DIR", PROJECT_DIR / "data" / "published"))


# The contract's row rules, as the landing quality gate (GX) checks them before a batch is loaded.
# The authority that quarantines rows is the SQL in models/staging/shop/base/; this is the same
# contract read for a report on each incoming batch.
ROW_RULES: dict[str, dict] = {
    "orders": {
        "required": ["order_id", "ordered_at", "status", "order_total"],
        "timestamps": ["ordered_at", "updated_at"],
        "non_negative": ["order_total", "discount_total", "shipping_fee"],
        "positive": [],
        "allowed": {"status": ["completed", "cancelled", "returned", "pending"]},
    },
    "order_items": {
        "required": ["order_id", "line_number", "product_id", "quantity", "unit_price"],
        "timestamps": [],
        "non_negative": ["unit_price"],
        "positive": ["quantity"],
        "integers": ["line_number", "quantity"],
        "allowed": {},
    },
    "customers": {
        "required": ["customer_id", "registered_at"],
        "timestamps": ["registered_at", "updated_at"],
        "non_negative": [],
        "positive": [],
        "integers": ["birth_year"],
        "allowed": {},
    },
    "products": {
        "required": ["product_id", "product_name", "category"],
        "timestamps": ["launched_at", "updated_at"],
        "non_negative": ["unit_cost"],
        "positive": [],
        "allowed": {},
    },
    "events": {
        "required": ["event_id", "session_id", "anonymous_id", "event_type", "occurred_at"],
        "timestamps": ["occurred_at"],
        "non_negative": [],
        "positive": [],
        "allowed": {"event_type": ["page_view", "product_view", "add_to_cart", "checkout_start", "purchase"]},
    },
    "marketing_spend": {
        "required": ["spend_date", "utm_source", "utm_medium", "spend"],
        "timestamps": ["spend_date"],
        "non_negative": ["spend"],
        "positive": [],
        "allowed": {},
    },
    "subscriptions": {
        "required": ["subscription_id", "customer_id", "product_id", "started_at", "status"],
        "timestamps": ["started_at", "cancelled_at", "updated_at"],
        "non_negative": [],
        "positive": ["interval_days"],
        "integers": ["interval_days"],
        "allowed": {"status": ["active", "paused", "cancelled"]},
    },
}
