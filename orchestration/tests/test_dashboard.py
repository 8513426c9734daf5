"""The dashboard on a published small shop: Streamlit started by the CLI's command, every page
loaded in headless Chromium (Debian's /usr/bin/chromium, installed by scripts/ensure_browser.sh;
the network stays closed), no page raises, key figures equal the marts, screenshots saved to
data/test-artifacts/dashboard/ (path printed)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard import pages
from orchestration.cli import dashboard_command
from orchestration.publish.publish import publish
from orchestration.settings import PROJECT_DIR
from orchestration.tests.conftest import query

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_DIR / "data" / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = [
    "kpis",
    "portfolio",
    "f2",
    "channels",
    "funnel",
    "loyalty",
    "products",
    "predictions",
    "audiences",
    "subscriptions",
]


# ---- the app in a browser ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("published_dashboard")
    publish(warehouse.db, out, warehouse.as_of)
    port = free_port()
    env = dict(os.environ, CRM_PUBLISH_DIR=str(out))
    log = open(out / "streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(dashboard_command(port), cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError((out / "streamlit.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    yield url, out / "crm_marts.duckdb"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run scripts/ensure_browser.sh (scripts/test.sh does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def rendered(app, browser) -> dict[str, dict]:
    """Every page loaded once: its metrics (label -> value), info texts and exceptions."""
    url, _ = app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    out = {}
    for name in PAGES:
        page.goto(f"{url}/" if name == "kpis" else f"{url}/{name}")  # kpis is the default page, at /
        page.wait_for_selector("h1", timeout=90_000)
        page.wait_for_selector("#crm-page-ready", state="attached", timeout=90_000)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000)
        page.wait_for_timeout(800)
        metrics = {}
        for m in page.query_selector_all('[data-testid="stMetric"]'):
            label = m.query_selector('[data-testid="stMetricLabel"]').inner_text().strip()
            metrics.setdefault(label, m.query_selector('[data-testid="stMetricValue"]').inner_text().strip())
        out[name] = {
            "metrics": metrics,
            "infos": [a.inner_text() for a in page.query_selector_all('[data-testid="stAlert"]')],
            "exceptions": [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')],
            "not_found": "Page not found" in page.inner_text("body"),
            "charts": len(page.query_selector_all(".js-plotly-plot")),
        }
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    print(f"\ndashboard screenshots: {ARTIFACTS}")
    return out


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_error(rendered, name):
    assert rendered[name]["exceptions"] == [], rendered[name]["exceptions"]
    assert not rendered[name]["not_found"]
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000


def test_kpi_figures_equal_kpi_monthly(app, rendered):
    _, db = app
    row = query(db, "select * from marts.kpi_monthly order by month_start_date desc limit 1").iloc[0]
    m = rendered["kpis"]["metrics"]
    assert m["売上 Revenue"] == pages.yen(row["revenue"]) and row["revenue"] > 0
    assert m["注文数 Orders"] == f"{int(row['count_orders']):,}"
    assert m["客単価 AOV"] == pages.yen(row["aov"])
    assert m["CAC (CPO)"] == pages.yen(row["cac"])
    assert m["CVR 購入率"] == pages.pct(row["conversion_rate"])
    assert rendered["kpis"]["charts"] >= 2


def test_portfolio_figures_equal_marts(app, rendered):
    _, db = app
    n = query(
        db,
        "select count(*) as n from marts.customer_portfolio_monthly where month_end_date = "
        "(select max(month_end_date) from marts.customer_portfolio_monthly)",
    )["n"][0]
    active = query(
        db,
        "select count(*) as n from marts.customer_portfolio_monthly where cpm_status = 'active' "
        "and month_end_date = (select max(month_end_date) from marts.customer_portfolio_monthly)",
    )["n"][0]
    m = rendered["portfolio"]["metrics"]
    assert m["顧客数 Customers"] == f"{int(n):,}"
    assert m["現役客 Active"] == f"{int(active):,}" and 0 < active < n
    assert rendered["portfolio"]["charts"] == 3  # states over time, heatmap, forecast (portfolio_forecast)


def test_portfolio_movements_equal_portfolio_transitions(app, rendered):
    """The page's CPM movement counts are portfolio_transitions' counts by movement at the latest
    row date, each labelled with the mart's movement_ja and movement: all six kinds, including
    復活 (a lapsed customer who came back) and 横移動 (steady <-> trendy), which the sample shop has."""
    _, db = app
    by_movement = query(
        db,
        "select movement, movement_ja, sum(count_customers) as n from marts.portfolio_transitions "
        "where month_end_date = (select max(month_end_date) from marts.portfolio_transitions) "
        "group by all",
    )
    assert set(by_movement["movement"]) == {
        "new",
        "kept",
        "moved_up",
        "lapsed",
        "reactivated",
        "sideways",
    }
    expected = {f"{r.movement_ja} {r.movement}": f"{int(r.n):,}" for r in by_movement.itertuples()}
    shown = rendered["portfolio"]["metrics"]
    assert {k: v for k, v in shown.items() if k in expected} == expected
    assert set(shown) == set(expected) | {"顧客数 Customers", "現役客 Active", "基準日 Date"}


def test_prediction_and_subscription_figures_equal_marts(app, rendered):
    _, db = app
    # the shared test warehouse runs the model fits (conftest.build_with_fits), as the daily job does
    scored = query(db, "select count(*) as n from marts.customer_predictions")["n"][0]
    assert scored > 0
    assert rendered["predictions"]["metrics"]["予測対象 Customers scored"] == f"{int(scored):,}"
    assert rendered["predictions"]["charts"] == 2  # churn-risk bands, holdout calibration
    second = query(
        db,
        "select retention_rate from marts.subscription_retention where cohort_month = 'all' and "
        "acquisition_channel = 'all' and product_id = 'all' and offer_code = 'all' "
        "and delivery_number = 2",
    )["retention_rate"][0]
    assert rendered["subscriptions"]["metrics"]["2回目継続率 Retention to delivery 2"] == f"{second * 100:.1f}%"


def test_f2_channel_funnel_loyalty_product_figures_equal_marts(app, rendered):
    _, db = app
    f2 = query(
        db,
        "select * from marts.f2_conversion where cohort_month = 'all' and acquisition_channel = 'all' "
        "and first_category = 'all'",
    ).iloc[0]
    assert rendered["f2"]["metrics"]["F2転換率 90日 F2 rate 90d"] == pages.pct(f2["f2_rate_90d"])
    assert rendered["f2"]["metrics"]["初回購入者 First buyers"] == f"{int(f2['count_first_buyers']):,}"
    sessions = query(db, "select sum(count_sessions) as n from marts.funnel_daily")["n"][0]
    assert rendered["funnel"]["metrics"]["セッション Sessions"] == f"{int(sessions):,}"
    top = query(
        db,
        "select product_id from marts.product_ranking where period_grain = 'month' and period_start_date"
        " = (select max(period_start_date) from marts.product_ranking where period_grain = 'month') "
        "order by rank, product_id limit 1",
    )["product_id"][0]
    assert any(k.startswith("今月の1位") and v == top for k, v in rendered["products"]["metrics"].items())
    loyal = query(db, "select count_customers from marts.loyalty_tier_profile order by loyalty_tier")
    assert rendered["loyalty"]["charts"] == 1 and len(loyal) == 4
    assert rendered["channels"]["charts"] == 1


@pytest.mark.parametrize(
    "name,marts",
    [
        ("predictions", ["clv_model", "customer_predictions", "clv_model_validation"]),
        ("audiences", ["customer_audiences", "audience_lift"]),
        ("subscriptions", ["subscription_retention"]),
    ],
)
def test_pages_of_later_marts_say_why_when_missing(app, rendered, name, marts):
    _, db = app
    present = set(
        query(db, "select table_name from information_schema.tables where table_schema = 'marts'")["table_name"]
    )
    missing = [m for m in marts if m not in present]
    if missing:
        text = " ".join(rendered[name]["infos"])
        assert f"not built yet: marts.{missing[0]}" in text, rendered[name]
    else:  # the marts landed: the page shows figures or says why they are empty
        assert rendered[name]["metrics"] or "empty because" in " ".join(rendered[name]["infos"])
