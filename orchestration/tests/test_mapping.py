"""A shop's own exports mapped to the raw contract by a mapping file (orchestration/ingest/mapping.py).

Fixtures are written here in each preset's documented shape (the Shopify admin's order and customer
export CSV, the GA4 BigQuery export as newline-delimited JSON and Parquet, a Japanese cart's
Shift_JIS CSV) with the awkward cases: an order whose later line items leave the order's fields
blank, a refunded and a cancelled order, a discount code, a guest checkout, Japanese product
names, events without a session id, a purchase whose transaction_id has no order. The rows they
land as are compared with the same shop written by hand in the contract's shape.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.ingest.mapping import MANIFEST, map_sources
from orchestration.settings import PROJECT_DIR, SettingsError, read_settings, refresh, settings

# The Shopify admin's order export header, in the admin's order.
SHOPIFY_ORDER_COLUMNS = (  # noqa: SIM905 - the header as the export writes it
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,"
    "Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,"
    "Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,"
    "Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,"
    "Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,"
    "Payment Reference,Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,"
    "Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Phone,Receipt Number,Duties,"
    "Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,"
    "Payment References"
).split(",")
SHOPIFY_CUSTOMER_COLUMNS = (  # noqa: SIM905 - the header as the export writes it
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,"
    "Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,"
    "Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,"
    "Total Spent,Total Orders,Note,Tax Exempt,Tags"
).split(",")


def _order_row(**fields) -> dict:
    return {c: fields.get(c, "") for c in SHOPIFY_ORDER_COLUMNS}


def _line(name: str, email: str, qty: int, title: str, price: str, sku: str, vendor: str) -> dict:
    """A later line item of an order: only Name, Email and the line item's own fields."""
    return _order_row(
        Name=name,
        Email=email,
        **{
            "Lineitem quantity": str(qty),
            "Lineitem name": title,
            "Lineitem price": price,
            "Lineitem sku": sku,
            "Vendor": vendor,
        },
    )


def _first(name, email, status, created, total, qty, title, price, sku, **extra) -> dict:
    row = _line(name, email, qty, title, price, sku, extra.pop("vendor", "茶舗"))
    row.update(
        {
            "Financial Status": status,
            "Created at": created,
            "Total": total,
            "Currency": "JPY",
            "Shipping": extra.pop("shipping", "0"),
            "Discount Amount": extra.pop("discount", "0"),
            "Source": extra.pop("source", "web"),
            "Id": extra.pop("id", "1"),
        }
    )
    row.update(extra)
    return row


SHOPIFY_ORDERS = [
    # two line items; the second leaves the order's fields blank; a discount code
    _first(
        "#1001",
        "hanako@example.com",
        "paid",
        "2025-06-01 10:00:00 +0900",
        "2900",
        2,
        "煎茶 100g",
        "1000",
        "TEA-1",
        shipping="500",
        discount="300",
        **{"Discount Code": "WELCOME300", "Billing Name": "山田 花子"},
    ),
    _line("#1001", "hanako@example.com", 1, "ほうじ茶 50g", "700", "TEA-2", "茶舗"),
    # refunded
    _first(
        "#1002", "taro@example.com", "refunded", "2025-06-02 09:30:00 +0900", "1000", 1, "煎茶 100g", "1000", "TEA-1"
    ),
    # cancelled: Cancelled at set, whatever the financial status
    _first(
        "#1003",
        "taro@example.com",
        "voided",
        "2025-06-03 21:15:00 +0900",
        "700",
        1,
        "ほうじ茶 50g",
        "700",
        "TEA-2",
        **{"Cancelled at": "2025-06-03 22:00:00 +0900"},
    ),
    # guest checkout at the shop's POS: no e-mail, no customer
    _first("#1004", "", "paid", "2025-06-04 12:00:00 +0900", "1400", 2, "ほうじ茶 50g", "700", "TEA-2", source="pos"),
]
SHOPIFY_CUSTOMERS = [
    {
        "Customer ID": "501",
        "First Name": "花子",
        "Last Name": "山田",
        "Email": "hanako@example.com",
        "Accepts Email Marketing": "yes",
        "Default Address Province Code": "JP-13",
    },
    {
        "Customer ID": "502",
        "First Name": "Taro",
        "Last Name": "",
        "Email": "taro@example.com",
        "Accepts Email Marketing": "no",
    },
]

# The same shop written by hand in the contract's shape.
CONTRACT_ORDERS = [
    ["#1001", "501", "2025-06-01T10:00:00+09:00", "completed", "2900", "300", "500", "web"],
    ["#1002", "502", "2025-06-02T09:30:00+09:00", "returned", "1000", "0", "0", "web"],
    ["#1003", "502", "2025-06-03T21:15:00+09:00", "cancelled", "700", "0", "0", "web"],
    ["#1004", "", "2025-06-04T12:00:00+09:00", "completed", "1400", "0", "0", "store"],
]
CONTRACT_ITEMS = [
    ["#1001", "1", "TEA-1", "2", "1000"],
    ["#1001", "2", "TEA-2", "1", "700"],
    ["#1002", "1", "TEA-1", "1", "1000"],
    ["#1003", "1", "TEA-2", "1", "700"],
    ["#1004", "1", "TEA-2", "2", "700"],
]
CONTRACT_PRODUCTS = [["TEA-1", "煎茶 100g", "茶舗"], ["TEA-2", "ほうじ茶 50g", "茶舗"]]
CONTRACT_CUSTOMERS = [
    ["501", "2025-06-01T10:00:00+09:00", "hanako@example.com", "山田 花子", "true", "JP-13"],
    ["502", "2025-06-02T09:30:00+09:00", "taro@example.com", "Taro", "false", ""],
]

# GA4 BigQuery export rows (events_YYYYMMDD), as newline-delimited JSON writes them.
T0 = 1748736000000000  # 2025-06-01T00:00:00Z in microseconds


def _ga4(name, ts, pseudo, session=None, user=None, items=None, txn=None, source=None, medium=None, device="mobile"):
    params = [{"key": "page_location", "value": {"string_value": "https://shop.example/"}}]
    if session is not None:
        params.append({"key": "ga_session_id", "value": {"int_value": session}})
    event = {
        "event_date": "20250601",
        "event_timestamp": ts,
        "event_name": name,
        "event_params": params,
        "user_id": user,
        "user_pseudo_id": pseudo,
        "device": {"category": device},
        "collected_traffic_source": {"manual_source": source, "manual_medium": medium, "manual_campaign_name": None},
        "ecommerce": {"transaction_id": txn} if txn else None,
        "items": items or [],
    }
    return event


GA4_EVENTS = [
    _ga4("session_start", T0, "p1", 11, source="google", medium="cpc"),  # not a contract event: skipped
    _ga4("page_view", T0 + 1, "p1", 11, source="google", medium="cpc"),
    _ga4("view_item", T0 + 2_000_000, "p1", 11, items=[{"item_id": "TEA-1", "item_name": "煎茶 100g"}]),
    _ga4("add_to_cart", T0 + 3_000_000, "p1", 11, items=[{"item_id": "TEA-1"}]),
    _ga4("begin_checkout", T0 + 4_000_000, "p1", 11, user="501"),
    _ga4("purchase", T0 + 5_000_000, "p1", 11, user="501", txn="#1001"),
    _ga4("page_view", T0 + 6_000_000, "p2", None),  # no session id
    _ga4("purchase", T0 + 7_000_000, "p3", 33, txn="#9999", device="desktop"),  # no such order
]
CONTRACT_EVENTS = [
    # event_id, session_id, anonymous_id, customer_id, event_type, occurred_at, product_id, order_id,
    # utm_source, utm_medium, utm_campaign, device
    [
        f"p1-{T0 + 1}-page_view",
        "p1-11",
        "p1",
        "",
        "page_view",
        "2025-06-01T00:00:00.000001Z",
        "",
        "",
        "google",
        "cpc",
        "",
        "mobile",
    ],
    [
        f"p1-{T0 + 2_000_000}-view_item",
        "p1-11",
        "p1",
        "",
        "product_view",
        "2025-06-01T00:00:02.000000Z",
        "TEA-1",
        "",
        "",
        "",
        "",
        "mobile",
    ],
    [
        f"p1-{T0 + 3_000_000}-add_to_cart",
        "p1-11",
        "p1",
        "",
        "add_to_cart",
        "2025-06-01T00:00:03.000000Z",
        "TEA-1",
        "",
        "",
        "",
        "",
        "mobile",
    ],
    [
        f"p1-{T0 + 4_000_000}-begin_checkout",
        "p1-11",
        "p1",
        "501",
        "checkout_start",
        "2025-06-01T00:00:04.000000Z",
        "",
        "",
        "",
        "",
        "",
        "mobile",
    ],
    [
        f"p1-{T0 + 5_000_000}-purchase",
        "p1-11",
        "p1",
        "501",
        "purchase",
        "2025-06-01T00:00:05.000000Z",
        "",
        "#1001",
        "",
        "",
        "",
        "mobile",
    ],
    [
        f"p2-{T0 + 6_000_000}-page_view",
        "",
        "p2",
        "",
        "page_view",
        "2025-06-01T00:00:06.000000Z",
        "",
        "",
        "",
        "",
        "",
        "mobile",
    ],
    [
        f"p3-{T0 + 7_000_000}-purchase",
        "p3-33",
        "p3",
        "",
        "purchase",
        "2025-06-01T00:00:07.000000Z",
        "",
        "#9999",
        "",
        "",
        "",
        "desktop",
    ],
]

# A Japanese cart's CSV in Shift_JIS, the order's fields repeated on every line.
CART_HEADER = [
    "受注番号",
    "受注日時",
    "顧客番号",
    "ステータス",
    "合計金額(税込)",
    "値引額",
    "送料",
    "定期区分",
    "定期番号",
    "商品コード",
    "商品名",
    "商品カテゴリ",
    "数量",
    "単価(税込)",
]
CART_ROWS = [
    [
        "A-1",
        "2025/06/05 08:00",
        "C9",
        "発送済",
        "3,300".replace(",", ""),
        "0",
        "0",
        "定期",
        "S-1",
        "P1",
        "青汁 30包",
        "健康食品",
        "1",
        "3300",
    ],
    ["A-2", "2025/06/06 19:45:10", "", "キャンセル", "1980", "0", "0", "通常", "", "P2", "黒酢", "", "2", "990"],
    [
        "A-2",
        "2025/06/06 19:45:10",
        "",
        "キャンセル",
        "1980",
        "0",
        "0",
        "通常",
        "",
        "P1",
        "青汁 30包",
        "健康食品",
        "1",
        "0",
    ],
]


def _write_csv(path: Path, header: list[str], rows: list, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header] if isinstance(row, dict) else row)
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_exports(root: Path) -> None:
    _write_csv(root / "exports" / "shopify" / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, SHOPIFY_ORDERS)
    _write_csv(root / "exports" / "shopify" / "customers_export.csv", SHOPIFY_CUSTOMER_COLUMNS, SHOPIFY_CUSTOMERS)
    ga4 = root / "exports" / "ga4"
    ga4.mkdir(parents=True, exist_ok=True)
    (ga4 / "events_20250601.json").write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in GA4_EVENTS[:5]), encoding="utf-8"
    )
    pq.write_table(pa.Table.from_pylist(GA4_EVENTS[5:]), ga4 / "events_20250602.parquet")


def _config(root: Path, extra: str = "") -> Path:
    config = root / "shop.yml"
    config.write_text(
        "landing_dir: landing\nwarehouse_path: warehouse.duckdb\npublish_dir: published\n"
        "gx_dir: gx\nlogs_dir: logs\ndagster_home: dagster\n"
        "sources:\n"
        "  shopify: {preset: shopify, folder: exports/shopify}\n"
        "  ga4: {preset: ga4, folder: exports/ga4}\n" + extra,
        encoding="utf-8",
    )
    return config


@pytest.fixture
def shop(tmp_path, monkeypatch):
    write_exports(tmp_path)
    config = _config(tmp_path)
    monkeypatch.setenv("CRM_CONFIG", str(config))
    for name in ("CRM_LANDING_DIR", "CRM_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    refresh()
    yield tmp_path
    refresh()


def _landed(landing: Path, table: str) -> list[list[str]]:
    rows = []
    for path in sorted((landing / table).glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _map_sources(landing: Path) -> list:
    """The shop's sources mapped into ``landing``, as ingest does first."""
    return map_sources(landing, settings().sources, settings().business_timezone)


def _cols(rows: list[dict], names: list[str]) -> list[list[str]]:
    return sorted([r[c] for c in names] for r in rows)


def test_shopify_exports_land_as_the_shop_written_to_the_contract(shop):
    _map_sources(shop / "landing")
    landing = shop / "landing"
    orders = _landed(landing, "orders")
    assert _cols(
        orders,
        [
            "order_id",
            "customer_id",
            "ordered_at",
            "status",
            "order_total",
            "discount_total",
            "shipping_fee",
            "order_channel",
        ],
    ) == sorted(CONTRACT_ORDERS)
    items = _landed(landing, "order_items")
    assert _cols(items, ["order_id", "line_number", "product_id", "quantity", "unit_price"]) == CONTRACT_ITEMS
    products = _landed(landing, "products")
    assert _cols(products, ["product_id", "product_name", "category"]) == CONTRACT_PRODUCTS
    customers = _landed(landing, "customers")
    assert (
        _cols(customers, ["customer_id", "registered_at", "email", "full_name", "email_opt_in", "prefecture"])
        == CONTRACT_CUSTOMERS
    )
    # each landing row says where it came from: the export and its data row
    second_line = next(r for r in items if r["order_id"] == "#1001" and r["line_number"] == "2")
    assert (second_line["source_file"], second_line["source_row"]) == ("orders_export_1.csv", "2")
    # source file -> landing rows, recorded once per file
    manifest = json.loads((landing / MANIFEST).read_text(encoding="utf-8"))
    record = manifest["shopify/orders/orders_export_1.csv"]
    assert record["rows_read"] == 5
    assert {t: w["rows"] for t, w in record["written"].items()} == {"orders": 4, "order_items": 5, "products": 2}


def test_ga4_export_lands_as_contract_events(shop):
    _map_sources(shop / "landing")
    events = _landed(shop / "landing", "events")
    columns = [
        "event_id",
        "session_id",
        "anonymous_id",
        "customer_id",
        "event_type",
        "occurred_at",
        "product_id",
        "order_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "device",
    ]
    assert _cols(events, columns) == sorted(CONTRACT_EVENTS)
    manifest = json.loads((shop / "landing" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["ga4/json/events_20250601.json"]["skipped_by_value_map"] == {"events": 1}  # session_start
    assert manifest["ga4/json/events_20250601.json"]["rows_read"] == 5


def test_a_file_is_mapped_once_and_a_changed_one_is_reported(shop):
    landing = shop / "landing"
    _map_sources(landing)
    before = {p: p.stat().st_mtime_ns for p in landing.rglob("*.csv")}
    again = _map_sources(landing)
    assert {p: p.stat().st_mtime_ns for p in landing.rglob("*.csv")} == before
    assert [r.already_mapped for r in again] == [2, 2]
    export = shop / "exports" / "shopify" / "customers_export.csv"
    export.write_text(export.read_text(encoding="utf-8") + "503,,,x@example.com,no\n", encoding="utf-8")
    changed = _map_sources(landing)[0].problems
    assert [(Path(p.path).name, p.kind, p.reason.startswith("its checksum differs")) for p in changed] == [
        ("customers_export.csv", "changed", True)
    ]


def test_japanese_cart_example_maps_shift_jis_status_words_and_subscriptions(tmp_path, monkeypatch):
    _write_csv(tmp_path / "cart" / "juchu_202506.csv", CART_HEADER, CART_ROWS, encoding="cp932")
    config = tmp_path / "shop.yml"
    config.write_text(
        "landing_dir: landing\nsources:\n  cart: {preset: japanese_cart, folder: cart}\n", encoding="utf-8"
    )
    monkeypatch.setenv("CRM_CONFIG", str(config))
    monkeypatch.delenv("CRM_LANDING_DIR", raising=False)
    refresh()
    try:
        _map_sources(tmp_path / "landing")
    finally:
        refresh()
    orders = _landed(tmp_path / "landing", "orders")
    assert _cols(
        orders, ["order_id", "customer_id", "ordered_at", "status", "order_total", "is_subscription", "subscription_id"]
    ) == [
        ["A-1", "C9", "2025-06-05T08:00:00+09:00", "completed", "3300", "true", "S-1"],
        ["A-2", "", "2025-06-06T19:45:10+09:00", "cancelled", "1980", "false", ""],
    ]
    items = _landed(tmp_path / "landing", "order_items")
    assert _cols(items, ["order_id", "line_number", "product_id", "quantity", "unit_price"]) == [
        ["A-1", "1", "P1", "1", "3300"],
        ["A-2", "1", "P2", "2", "990"],
        ["A-2", "2", "P1", "1", "0"],
    ]
    products = _landed(tmp_path / "landing", "products")
    assert _cols(products, ["product_id", "product_name", "category"]) == [
        ["P1", "青汁 30包", "健康食品"],
        ["P2", "黒酢", "未分類"],
    ]


def test_a_mapping_error_is_one_line_and_nothing_of_the_file_lands(shop):
    export = shop / "exports" / "shopify" / "orders_export_1.csv"
    rows = [dict(r) for r in SHOPIFY_ORDERS]
    rows[2]["Financial Status"] = "chargeback"  # no value map covers it
    _write_csv(export, SHOPIFY_ORDER_COLUMNS, rows)
    bad_header = [c if c != "Lineitem quantity" else "Quantity" for c in SHOPIFY_ORDER_COLUMNS]
    _write_csv(
        shop / "exports" / "shopify" / "orders_export_2.csv",
        bad_header,
        [{("Quantity" if k == "Lineitem quantity" else k): v for k, v in r.items()} for r in SHOPIFY_ORDERS],
    )
    landing = shop / "landing"
    problems = _map_sources(landing)[0].problems
    lines = sorted(p.reason for p in problems)
    assert len(lines) == 2 and all("\n" not in line for line in lines)
    assert lines[0].startswith(
        "orders_export_1.csv: column 'Financial Status' has values no value map covers: 'chargeback' (1 rows)"
    )
    assert "fix: add them under sources.shopify.files.orders.tables.orders.columns.status.values" in lines[0]
    assert lines[1].startswith("orders_export_2.csv: column 'Lineitem quantity' is not in the file")
    assert "fix: name one of its columns" in lines[1]
    assert not (landing / "orders").exists() and not (landing / "order_items").exists()
    manifest = json.loads((landing / MANIFEST).read_text(encoding="utf-8"))
    assert not any(key.startswith("shopify/orders/") for key in manifest)  # tried again on the next run


def test_ingest_maps_first_and_reports_an_unmappable_export_with_what_to_do(shop):
    from orchestration.ingest.load import ingest

    rows = [dict(r) for r in SHOPIFY_ORDERS]
    rows[0]["Financial Status"] = "chargeback"
    _write_csv(shop / "exports" / "shopify" / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, rows)
    report = ingest(shop / "landing", shop / "warehouse.duckdb", verbose=False)
    (table, problem), *others = report.problems
    assert not others and (table, problem.kind) == ("orders", "mapping")
    assert problem.line().startswith(f"{shop / 'exports' / 'shopify' / 'orders_export_1.csv'} could not be mapped: ")
    assert "crm map --check" in problem.what_to_do
    # the other exports loaded: customers (their first order date read from the held-back export) and events
    assert report.tables["orders"].rows_loaded == 0 and report.tables["order_items"].rows_loaded == 0
    assert report.tables["customers"].rows_loaded == 2
    assert report.tables["events"].rows_loaded == 7


def test_each_expression_gives_what_the_mapping_guide_says():
    from zoneinfo import ZoneInfo

    from orchestration.ingest.mapping import Context, SkipRow, evaluate

    others = {"people": [{"mail": "A@x.jp", "joined": "2025-03-02"}, {"mail": "a@x.jp", "joined": "2025-01-05"}]}
    ctx = Context(ZoneInfo("Asia/Tokyo"), lambda kind: iter(others[kind]), "t")
    row = {
        "name": "山田 花子",
        "first": "花子",
        "last": "",
        "at": "2025/06/01 08:05",
        "bad": "06/01/2025",
        "us": "1748736000123456",
        "mail": "a@X.jp",
        "status": "発送済",
        "params": [{"key": "sid", "value": {"string_value": None, "int_value": 42}}],
        "items": [{"item_id": "P1"}, {"item_id": "P2"}],
        "rec": {"a": {"b": 7}},
    }

    def ev(expr):
        return evaluate(expr, row, ctx, "t.c")

    assert ev("Name") == "山田 花子"  # headers match after trimming, case-insensitively
    assert ev({"constant": True}) == "true"
    assert ev({"split": "name", "sep": " ", "index": 1}) == "花子"
    assert ev({"split": "name", "sep": " ", "index": 2}) == ""
    assert ev({"concat": ["last", "first"], "sep": " "}) == ""  # strict: a part is empty
    assert ev({"concat": ["last", "first"], "sep": " ", "skip_empty": True}) == "花子"
    assert ev({"date": "at", "format": ["%Y-%m-%d", "%Y/%m/%d %H:%M"]}) == "2025-06-01T08:05:00+09:00"
    assert ev({"date": "bad", "format": "%Y/%m/%d %H:%M"}) == "06/01/2025"  # as written: quarantined as unparseable
    assert ev({"date": "at", "format": "%Y/%m/%d"}) == "2025/06/01 08:05"  # no date fits the whole value
    assert ev({"microseconds": "us"}) == "2025-06-01T00:00:00.123456Z"
    assert ev({"microseconds": "name"}) == "山田 花子"
    assert ev({"first_of": ["last", "first"]}) == "花子"
    assert ev({"if_set": "last", "then": {"constant": "x"}, "else": "first"}) == "花子"
    assert ev("params[sid]") == "42" and ev("items[1].item_id") == "P2" and ev("rec.a.b") == "7"
    assert ev("items[5].item_id") == "" and ev("params[none]") == ""
    assert ev({"column": "status", "values": {"発送済": "completed"}}) == "completed"
    assert ev({"lookup": "people", "match": "mail", "by": "mail", "take": "joined", "pick": "min"}) == "2025-01-05"
    assert ev({"column": "status", "values": {"x": "y"}, "other": "keep"}) == "発送済"
    with pytest.raises(SkipRow):
        ev({"column": "status", "values": {"x": "y"}, "other": "skip"})
    assert ev({"column": "status", "values": {"x": "y"}}) == ""
    assert dict(ctx.unmapped) == {("t.c", "status"): {"発送済": 1}}


def test_an_order_export_newer_than_its_customer_export_is_held_back_without_naming_anyone(shop):
    rows = [
        *SHOPIFY_ORDERS,
        _first(
            "#1005", "new@example.com", "paid", "2025-06-05 10:00:00 +0900", "700", 1, "ほうじ茶 50g", "700", "TEA-2"
        ),
    ]
    _write_csv(shop / "exports" / "shopify" / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, rows)
    (problem,) = _map_sources(shop / "landing")[0].problems
    assert problem.reason.startswith(
        "orders_export_1.csv: column 'Email' has values on 1 rows that no customers export holds"
    )
    assert "new@example.com" not in problem.reason
    (shop / "exports" / "shopify" / "customers_export.csv").unlink()
    (problem,) = _map_sources(shop / "landing")[0].problems
    assert "looks up the customers exports, and the folder has none; fix: put one there" in problem.reason


def test_a_source_line_that_cannot_be_read_lands_as_a_malformed_line_without_its_text(shop):
    import duckdb

    from orchestration.ingest.load import ingest

    ga4 = shop / "exports" / "ga4" / "events_20250601.json"
    lines = ga4.read_text(encoding="utf-8").splitlines()
    ga4.write_text("\n".join([*lines[:2], '{"event_name": "page_view", "user_id": "hanako@', *lines[2:]]) + "\n")
    export = shop / "exports" / "shopify" / "orders_export_1.csv"
    export.write_text(export.read_text(encoding="utf-8") + "#1009,x@example.com,paid,extra\n", encoding="utf-8")
    report = ingest(shop / "landing", shop / "warehouse.duckdb", verbose=False)
    assert not report.problems
    with duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True) as con:
        bad = con.execute(
            "select _source_file, _malformed_line from raw.events where _malformed_line is not null "
            "union all select _source_file, _malformed_line from raw.orders where _malformed_line is not null "
            "order by 1"
        ).fetchall()
    note = " (text not kept: an export may hold personal data; see the export at that line)"
    assert bad == [
        ("2025-06-01__ga4__json__events_20250601.csv", f"line 3: not a JSON object{note}"),
        ("shopify__orders__orders_export_1.csv", f"line 7: 4 fields for {len(SHOPIFY_ORDER_COLUMNS)} columns{note}"),
    ]


def test_settings_name_the_key_of_a_wrong_source(tmp_path):
    config = tmp_path / "shop.yml"
    config.write_text("sources:\n  shop: {preset: shopfy, folder: x}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"^sources\.shop\.preset: unknown preset 'shopfy'; shipped: ga4, "):
        read_settings(config)
    config.write_text(
        "sources:\n  cart:\n    folder: x\n    files:\n      orders:\n        glob: '*.csv'\n        tables:\n"
        "          orders: {columns: {order_id: 受注番号, ordered_at: 受注日時, order_total: 合計, status: 状態,"
        " colour: 色}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError, match=r"^sources\.cart\.files\.orders\.tables\.orders\.columns\.colour: "):
        read_settings(config)


def test_map_check_reports_fill_rates_uncovered_values_and_samples_and_loads_nothing(shop):
    rows = [dict(r) for r in SHOPIFY_ORDERS]
    rows[2]["Financial Status"] = "chargeback"
    _write_csv(shop / "exports" / "shopify" / "orders_export_1.csv", SHOPIFY_ORDER_COLUMNS, rows)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_HOME"))}
    command = [sys.executable, "-m", "orchestration.cli", "map", "--check", "--config", str(shop / "shop.yml")]
    proc = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "customers_export.csv (customers, utf-8): 2 rows read" in out
    assert "    prefecture            50.0% filled" in out
    assert 'sample: {"customer_id": "501", "registered_at": "2025-06-01T10:00:00+09:00"' in out
    assert "    session_id            66.7% filled  (required: the other rows are quarantined)" in out
    assert "ERROR orders_export_1.csv: column 'Financial Status' has values no value map covers: 'chargeback'" in out
    assert not (shop / "landing").exists()


# ---- through the run command: the mapped shop's marts equal the shop written to the contract ----

CONTRACT_FILES = {
    "orders": (
        [
            "order_id",
            "customer_id",
            "ordered_at",
            "status",
            "order_total",
            "discount_total",
            "shipping_fee",
            "order_channel",
        ],
        CONTRACT_ORDERS,
    ),
    "order_items": (["order_id", "line_number", "product_id", "quantity", "unit_price"], CONTRACT_ITEMS),
    "products": (["product_id", "product_name", "category"], CONTRACT_PRODUCTS),
    "customers": (
        ["customer_id", "registered_at", "email", "full_name", "email_opt_in", "prefecture"],
        CONTRACT_CUSTOMERS,
    ),
    "events": (
        [
            "event_id",
            "session_id",
            "anonymous_id",
            "customer_id",
            "event_type",
            "occurred_at",
            "product_id",
            "order_id",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "device",
        ],
        CONTRACT_EVENTS,
    ),
}
CONTRACT_CART = {
    "orders": (
        [
            "order_id",
            "customer_id",
            "ordered_at",
            "status",
            "order_total",
            "discount_total",
            "shipping_fee",
            "is_subscription",
            "subscription_id",
        ],
        [
            ["A-1", "C9", "2025-06-05T08:00:00+09:00", "completed", "3300", "0", "0", "true", "S-1"],
            ["A-2", "", "2025-06-06T19:45:10+09:00", "cancelled", "1980", "0", "0", "false", ""],
        ],
    ),
    "order_items": (
        ["order_id", "line_number", "product_id", "quantity", "unit_price"],
        [["A-1", "1", "P1", "1", "3300"], ["A-2", "1", "P2", "2", "990"], ["A-2", "2", "P1", "1", "0"]],
    ),
    "products": (
        ["product_id", "product_name", "category"],
        [["P1", "青汁 30包", "健康食品"], ["P2", "黒酢", "未分類"]],
    ),
}
RUN_AS_OF = "2025-06-07"


def _crm(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_HOME"))}
    env["CRM_PUBLISH_DOCS"] = "0"
    command = [sys.executable, "-m", "orchestration.cli", *args, "--config", str(config)]
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1200, check=False)


@pytest.fixture(scope="module")
def two_shops(tmp_path_factory):
    """The same shop twice through `crm run`: from its exports with the presets, and written by hand
    in the contract's shape."""
    mapped = tmp_path_factory.mktemp("mapped-shop")
    write_exports(mapped)
    _write_csv(mapped / "exports" / "cart" / "juchu_202506.csv", CART_HEADER, CART_ROWS, encoding="cp932")
    mapped_config = _config(
        mapped, "  cart: {preset: japanese_cart, folder: exports/cart}\nhistory_start: 2025-06-01\n"
    )
    direct = tmp_path_factory.mktemp("contract-shop")
    for table, (header, rows) in CONTRACT_FILES.items():
        _write_csv(direct / "landing" / table / "2025-06-01.csv", header, rows)
    for table, (header, rows) in CONTRACT_CART.items():  # the cart's orders, by hand
        _write_csv(direct / "landing" / table / "2025-06-05.csv", header, rows)
    direct_config = direct / "shop.yml"
    direct_config.write_text(
        "landing_dir: landing\nwarehouse_path: warehouse.duckdb\npublish_dir: published\ngx_dir: gx\n"
        "logs_dir: logs\ndagster_home: dagster\nhistory_start: 2025-06-01\n",
        encoding="utf-8",
    )
    for config in (mapped_config, direct_config):
        proc = _crm(config, "run", "--as-of", RUN_AS_OF)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return mapped, direct


@pytest.mark.slow
def test_marts_of_the_mapped_exports_equal_the_shop_written_to_the_contract(two_shops):
    from orchestration.tests.conftest import mart_snapshot, query

    mapped, direct = two_shops
    got, want = mart_snapshot(mapped / "warehouse.duckdb"), mart_snapshot(direct / "warehouse.duckdb")
    assert sorted(got) == sorted(want)
    assert query(direct / "warehouse.duckdb", "select count(*) n from marts.fct_orders")["n"][0] == 6
    for name in want:
        assert got[name].equals(want[name]), name
    # source file -> landing rows -> raw rows: the counts the mapping recorded are the rows loaded
    manifest = json.loads((mapped / "landing" / MANIFEST).read_text(encoding="utf-8"))
    written = {w["file"]: w["rows"] for record in manifest.values() for w in record["written"].values()}
    loaded = query(mapped / "warehouse.duckdb", "select table_name, file_path, row_count from raw._load_log")
    assert {f"{t}/{f}": n for t, f, n in loaded.itertuples(index=False)} == written
