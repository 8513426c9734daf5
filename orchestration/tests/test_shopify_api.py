"""The Shopify Admin API through dlt, as a Dagster asset (orchestration/ingest/shopify_api.py,
orchestration/pipeline/shopify.py), against a local server speaking the REST Admin API's documented
responses: ``{"orders": [...]}`` pages linked by a ``Link: <...page_info=...>; rel="next"`` header
(filters only on the first request: the server refuses them beside page_info, as Shopify does), a
``429`` with ``Retry-After``, and ``updated_at_min`` across two days."""

from __future__ import annotations

import csv
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import dagster as dg
import pytest

from orchestration.pipeline.shopify import shopify_api_assets, shopify_api_resources
from orchestration.settings import read_settings

TOKEN = "shpat_test_token"
PAGE = 2  # the server pages by two (whatever the limit asked) so that a day has several pages


def _order(name, updated, status="paid", cancelled=None, customer=7001, lines=(("TEA-1", "煎茶 100g", 1, "1000.00"),)):
    return {
        "id": int(name.strip("#")) * 10,
        "name": name,
        "email": "hanako@example.com",
        "created_at": "2025-06-01T09:00:00+09:00",
        "updated_at": updated,
        "cancelled_at": cancelled,
        "financial_status": status,
        "total_price": "1500.00",
        "total_discounts": "100.00",
        "total_shipping_price_set": {"shop_money": {"amount": "600.00", "currency_code": "JPY"}},
        "source_name": "web",
        "customer": {"id": customer} if customer else None,
        "line_items": [
            {"sku": sku, "title": title, "quantity": qty, "price": price, "vendor": "茶舗"}
            for sku, title, qty, price in lines
        ],
    }


DAY1_ORDERS = [
    _order(
        "#1001", "2025-06-01T10:00:00+09:00", lines=(("TEA-1", "煎茶 100g", 1, "1000.00"), ("", "ほうじ茶", 2, "250"))
    ),
    _order("#1002", "2025-06-01T11:00:00+09:00", customer=None),  # guest checkout
    _order("#1003", "2025-06-01T12:00:00+09:00", status="voided", cancelled="2025-06-01T12:00:00+09:00"),
]
# day two: #1002 refunded, #1004 new; #1001 and #1003 unchanged (#1003 is the cursor's boundary)
DAY2_ORDERS = [
    DAY1_ORDERS[0],
    _order("#1002", "2025-06-02T09:00:00+09:00", status="refunded", customer=None),
    DAY1_ORDERS[2],
    _order("#1004", "2025-06-02T10:00:00+09:00"),
]
CUSTOMERS = [
    {
        "id": 7001,
        "email": "hanako@example.com",
        "first_name": "花子",
        "last_name": "山田",
        "created_at": "2025-05-01T08:00:00+09:00",
        "updated_at": "2025-05-01T08:00:00+09:00",
        "email_marketing_consent": {"state": "subscribed"},
        "default_address": {"province_code": "JP-13"},
    }
]


class Shop:
    """The data the server serves, and what it was asked."""

    def __init__(self) -> None:
        self.data = {"orders": DAY1_ORDERS, "customers": CUSTOMERS}
        self.requests: list[tuple[str, dict]] = []
        self.pages: dict[str, list] = {}
        self.throttled_at: float | None = None
        self.retried_at: float | None = None
        self.throttle_next_page = True


def _handler(shop: Shop):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            resource = url.path.rsplit("/", 1)[-1].removesuffix(".json")
            shop.requests.append((resource, query))
            if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                return self._send(401, {"errors": "[API] Invalid API key or access token"})
            if "page_info" in query:
                if set(query) - {"page_info", "limit", "fields"}:
                    return self._send(400, {"errors": {"page_info": "page_info cannot be combined with filters"}})
                if resource == "orders" and shop.throttle_next_page:
                    shop.throttle_next_page = False
                    shop.throttled_at = time.monotonic()
                    return self._send(
                        429,
                        {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume."},
                        {"Retry-After": "1.0"},
                    )
                if resource == "orders" and shop.throttled_at and shop.retried_at is None:
                    shop.retried_at = time.monotonic()
                rows = shop.pages.pop(query["page_info"])
            else:
                since = query.get("updated_at_min", "")
                rows = sorted(
                    (r for r in shop.data[resource] if r["updated_at"] >= since), key=lambda r: r["updated_at"]
                )
            page, rest = rows[:PAGE], rows[PAGE:]
            headers = {}
            if rest:
                token = f"{resource}-{len(shop.requests)}"
                shop.pages[token] = rest
                base = f"http://{self.headers['Host']}{url.path}"
                headers["Link"] = f'<{base}?limit={query.get("limit", PAGE)}&page_info={token}>; rel="next"'
            return self._send(200, {resource: page}, headers)

    return Handler


@pytest.fixture
def api(tmp_path, monkeypatch):
    shop = Shop()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(shop))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "shop.yml"
    config.write_text(
        "landing_dir: landing\ndagster_home: dagster\nshopify_api:\n"
        f"  url: http://127.0.0.1:{server.server_port}/admin/api/2025-01\n  token_env: SHOP_TOKEN\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for name in ("CRM_LANDING_DIR", "DAGSTER_HOME", "CRM_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield shop, read_settings(config)
    server.shutdown()
    server.server_close()


def _materialize(s, day: str) -> None:
    partitions = dg.DailyPartitionsDefinition(start_date="2025-06-01", timezone="Asia/Tokyo")
    result = dg.materialize(
        shopify_api_assets(partitions, s), resources=shopify_api_resources(s), partition_key=day, raise_on_error=True
    )
    assert result.success


def _rows(files: list[Path], columns: list[str]) -> list[list[str]]:
    rows = []
    for path in files:
        with path.open(encoding="utf-8", newline="") as fh:
            rows += [[r[c] for c in columns] for r in csv.DictReader(fh)]
    return sorted(rows)


ORDER_COLUMNS = [
    "order_id",
    "customer_id",
    "ordered_at",
    "status",
    "order_total",
    "discount_total",
    "shipping_fee",
    "order_channel",
    "updated_at",
]


def test_api_pages_waits_out_a_429_and_loads_only_what_changed_on_the_second_day(api):
    shop, s = api
    landing = s.landing_dir
    _materialize(s, "2025-06-01")
    day1 = set((landing / "orders").glob("*.csv"))
    assert _rows(sorted(day1), ORDER_COLUMNS) == [
        [
            "#1001",
            "7001",
            "2025-06-01T09:00:00+09:00",
            "completed",
            "1500.00",
            "100.00",
            "600.00",
            "web",
            "2025-06-01T10:00:00+09:00",
        ],
        [
            "#1002",
            "",
            "2025-06-01T09:00:00+09:00",
            "completed",
            "1500.00",
            "100.00",
            "600.00",
            "web",
            "2025-06-01T11:00:00+09:00",
        ],
        [
            "#1003",
            "7001",
            "2025-06-01T09:00:00+09:00",
            "cancelled",
            "1500.00",
            "100.00",
            "600.00",
            "web",
            "2025-06-01T12:00:00+09:00",
        ],
    ]
    items = _rows(
        sorted((landing / "order_items").glob("*.csv")),
        ["order_id", "line_number", "product_id", "quantity", "unit_price"],
    )
    assert items == [
        ["#1001", "1", "TEA-1", "1", "1000.00"],
        ["#1001", "2", "ほうじ茶", "2", "250"],  # no SKU: the title is the product id, as in the export preset
        ["#1002", "1", "TEA-1", "1", "1000.00"],
        ["#1003", "1", "TEA-1", "1", "1000.00"],
    ]
    customers = _rows(
        sorted((landing / "customers").glob("*.csv")),
        ["customer_id", "registered_at", "full_name", "email_opt_in", "prefecture"],
    )
    assert customers == [["7001", "2025-05-01T08:00:00+09:00", "山田 花子", "true", "JP-13"]]
    # two pages; the second was refused once with 429 and asked again after its Retry-After second
    order_requests = [q for r, q in shop.requests if r == "orders"]
    assert [("page_info" in q, q.get("updated_at_min")) for q in order_requests] == [
        (False, "1970-01-01T00:00:00Z"),
        (True, None),
        (True, None),
    ]
    assert shop.retried_at - shop.throttled_at >= 1.0

    shop.data["orders"] = DAY2_ORDERS
    shop.requests.clear()
    _materialize(s, "2025-06-02")
    first = next(q for r, q in shop.requests if r == "orders")
    assert first["updated_at_min"] == "2025-06-01T12:00:00+09:00"  # the latest updated_at of day one
    day2 = set((landing / "orders").glob("*.csv")) - day1
    assert _rows(sorted(day2), ["order_id", "status", "updated_at"]) == [
        ["#1002", "returned", "2025-06-02T09:00:00+09:00"],
        ["#1004", "completed", "2025-06-02T10:00:00+09:00"],
    ]  # #1003, at the boundary, is not loaded twice; day one's files are untouched
    assert set((landing / "orders").glob("*.csv")) >= day1


def test_a_missing_token_names_the_setting(api, monkeypatch):
    _shop, s = api
    monkeypatch.delenv("SHOP_TOKEN")
    with pytest.raises(Exception, match=r"shopify_api\.token_env: the environment variable SHOP_TOKEN is not set"):
        _materialize(s, "2025-06-01")


@pytest.mark.slow  # two code locations loaded (~30 s)
def test_the_daily_job_pulls_the_api_before_it_loads_only_where_configured(api, tmp_path):
    import os
    import subprocess
    import sys

    from orchestration.settings import PROJECT_DIR

    probe = (
        "from orchestration.pipeline.definitions import defs\n"
        "graph = defs.resolve_asset_graph()\n"
        "job = defs.resolve_job_def('daily_refresh')\n"
        "keys = {k.to_user_string() for k in graph.get_all_asset_keys()}\n"
        "print(sorted(k for k in keys if k.startswith('shopify_api')))\n"
        "print(sorted(k.to_user_string() for k in graph.get(dg.AssetKey(['shop', 'orders'])).parent_keys))\n"
        "print(len(job.asset_layer.executable_asset_keys))\n"
    )
    plain = tmp_path / "plain.yml"
    plain.write_text("landing_dir: landing\n", encoding="utf-8")
    out = {}
    for name, config in (("api", tmp_path / "shop.yml"), ("plain", plain)):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_HOME"))}
        env["CRM_CONFIG"] = str(config)
        proc = subprocess.run(
            [sys.executable, "-c", "import dagster as dg\n" + probe],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = proc.stdout.splitlines()
    assert out["api"][0] == str(
        ["shopify_api/customers", "shopify_api/order_items", "shopify_api/orders", "shopify_api/products"]
    )
    assert out["api"][1] == str(["shopify_api/orders"])  # loaded after it is pulled
    assert out["plain"][:2] == ["[]", "[]"]
    assert int(out["api"][2]) == int(out["plain"][2]) + 4  # the daily job runs the pull too
