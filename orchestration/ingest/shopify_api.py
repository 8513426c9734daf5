"""The Shopify Admin API (REST) pulled with dlt into landing files in the contract's shape.

A small dlt source of ours (docs/mapping.md, "Shopify Admin API"): ``orders.json`` and
``customers.json`` of the REST Admin API, incremental by ``updated_at`` (the first request of a run
asks for ``updated_at_min`` = the latest ``updated_at`` seen so far; dlt keeps that cursor and drops
the rows at the boundary it has already loaded), paged by the ``Link`` header's ``rel="next"`` URL
(``page_info``: the filters go only in the first request, as the API requires), a ``429 Too Many
Requests`` waited out for its ``Retry-After`` seconds (dlt's HTTP client). The access token is read
at run time from the environment variable the settings name (``shopify_api.token_env``), never
written in a file.

Each order becomes rows of ``orders``, ``order_items`` and ``products``, each customer a row of
``customers``, with the same rules as the admin export's preset (orchestration/ingest/presets/
shopify.yml: its status and channel value maps are read from there). dlt's filesystem destination
writes them as new CSV files into the landing folder, ``<table>/shopify_api__<load id>.<file>.csv``
(its own bookkeeping goes to ``_dlt_*`` folders beside them, which ingest does not read), so the
landing gate, quarantine and reconciliation treat them as any landing file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import dlt
import yaml
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from orchestration.contract import TABLE_COLUMNS
from orchestration.ingest.mapping import PRESETS_DIR

PIPELINE_NAME = "shopify_api"
PAGE_SIZE = 250  # the most the REST Admin API returns per page
# an email_marketing_consent.state of the Customer resource -> email_opt_in
CONSENT = {"subscribed": "true", "not_subscribed": "false", "unsubscribed": "false"}


class ShopifyTokenMissing(RuntimeError):
    """The environment variable named by ``shopify_api.token_env`` is not set."""


@cache
def _export_rules() -> tuple[dict, dict]:
    """(financial status -> contract status, source name -> order channel) of the export preset."""
    columns = yaml.safe_load((PRESETS_DIR / "shopify.yml").read_text(encoding="utf-8"))["files"]["orders"]["tables"]
    orders = columns["orders"]["columns"]
    return orders["status"]["else"]["values"], orders["order_channel"]["values"]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def order_rows(order: dict) -> dict[str, list[dict]]:
    """One Order resource of the REST Admin API as contract rows (orders, order_items, products)."""
    statuses, channels = _export_rules()
    status = "cancelled" if order.get("cancelled_at") else statuses.get(order.get("financial_status") or "", "")
    source = _text(order.get("source_name"))
    shipping = ((order.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    customer = order.get("customer") or {}
    lines = order.get("line_items") or []
    return {
        "orders": [
            {
                "order_id": _text(order.get("name")),
                "customer_id": _text(customer.get("id")),
                "ordered_at": _text(order.get("created_at")),
                # an unknown financial status stays as given: the contract quarantines it by name
                "status": status or _text(order.get("financial_status")),
                "order_total": _text(order.get("total_price")),
                "discount_total": _text(order.get("total_discounts")),
                "shipping_fee": _text(shipping),
                "order_channel": channels.get(source, source),
                "updated_at": _text(order.get("updated_at")),
            }
        ],
        "order_items": [
            {
                "order_id": _text(order.get("name")),
                "line_number": str(number),
                "product_id": _text(line.get("sku") or line.get("title")),
                "quantity": _text(line.get("quantity")),
                "unit_price": _text(line.get("price")),
            }
            for number, line in enumerate(lines, 1)
        ],
        "products": [
            {
                "product_id": _text(line.get("sku") or line.get("title")),
                "product_name": _text(line.get("title")),
                "category": _text(line.get("vendor")) or "uncategorised",
                "updated_at": _text(order.get("updated_at")),
            }
            for line in lines
        ],
    }


def customer_row(customer: dict) -> dict:
    """One Customer resource of the REST Admin API as a contract row of customers."""
    consent = (customer.get("email_marketing_consent") or {}).get("state")
    name = " ".join(p for p in (customer.get("last_name"), customer.get("first_name")) if p)
    return {
        "customer_id": _text(customer.get("id")),
        "registered_at": _text(customer.get("created_at")),
        "email": _text(customer.get("email")),
        "full_name": name,
        "email_opt_in": CONSENT.get(consent or "", ""),
        "prefecture": _text((customer.get("default_address") or {}).get("province_code")),
        "updated_at": _text(customer.get("updated_at")),
    }


def _text_columns(table: str) -> dict:
    # every contract column as text, as a landing CSV holds it (staging types them)
    return {c: {"data_type": "text", "nullable": True} for c in TABLE_COLUMNS[table]}


def _token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise ShopifyTokenMissing(
            f"shopify_api.token_env: the environment variable {token_env} is not set; set it to the Admin API "
            "access token of the shop's custom app (read_orders, read_customers)"
        )
    return token


@dlt.source(name="shopify_api")
def shopify_source(url: str, token_env: str, start: str) -> Any:
    """Orders and customers changed since the last run, as contract rows."""

    def client() -> RESTClient:
        return RESTClient(
            base_url=url.rstrip("/") + "/",
            headers={"X-Shopify-Access-Token": _token(token_env)},
            paginator=HeaderLinkPaginator(),
        )

    def pages(path: str, key: str, cursor: Any) -> Iterator[list[dict]]:
        params = {"limit": PAGE_SIZE, "updated_at_min": cursor.last_value}
        if key == "orders":
            params["status"] = "any"  # open, closed and cancelled orders
        yield from client().paginate(path, params=params, data_selector=key)

    # dlt keeps the cursor of an incremental given as the argument's default
    cursor = {"cursor_path": "updated_at", "initial_value": start}

    @dlt.resource(selected=False)
    def shopify_orders(updated_at=dlt.sources.incremental(**cursor)) -> Iterator[list[dict]]:  # noqa: B008
        yield from pages("orders.json", "orders", updated_at)

    @dlt.resource(selected=False)
    def shopify_customers(updated_at=dlt.sources.incremental(**cursor)) -> Iterator[list[dict]]:  # noqa: B008
        yield from pages("customers.json", "customers", updated_at)

    def order_table(table: str):
        @dlt.transformer(data_from=shopify_orders, name=table, columns=_text_columns(table))
        def rows(orders: list[dict]) -> Iterator[list[dict]]:
            yield [row for order in orders for row in order_rows(order)[table]]

        return rows

    @dlt.transformer(data_from=shopify_customers, name="customers", columns=_text_columns("customers"))
    def customers(items: list[dict]) -> Iterator[list[dict]]:
        yield [customer_row(c) for c in items]

    return order_table("orders"), order_table("order_items"), order_table("products"), customers


def shopify_pipeline(landing: Path, state_dir: Path) -> dlt.Pipeline:
    """A pipeline writing new CSV files into ``landing/<table>/`` (``landing``'s parent is the bucket,
    its name the dataset: dlt's filesystem layout puts a dataset in a folder of its own)."""
    # landing files are plain .csv (ingest reads *.csv and *.parquet): no gzip, for this pipeline only
    os.environ.setdefault(f"{PIPELINE_NAME.upper()}__NORMALIZE__DATA_WRITER__DISABLE_COMPRESSION", "true")
    destination = dlt.destinations.filesystem(
        bucket_url=landing.resolve().parent.as_uri(),
        layout="{table_name}/shopify_api__{load_id}.{file_id}.{ext}",
    )
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=landing.resolve().name,
        pipelines_dir=str(state_dir),
    )


def source_for(config: dict) -> Any:
    start = config.get("start") or date(1970, 1, 1)
    return shopify_source(config["url"], config["token_env"], f"{start.isoformat()}T00:00:00Z")
