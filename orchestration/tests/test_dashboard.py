"""The dashboard on a published small shop: Streamlit started by the CLI's command, every page
loaded in headless Chromium (Debian's /usr/bin/chromium, installed by scripts/ensure_browser.sh;
the network stays closed) at a desktop's 1440 px and a phone's 390 px, no page raises, key figures
and the drawn chart data equal the marts, full-page screenshots saved to
data/test-artifacts/dashboard/ (path printed).

The shared shop's as_of is a month end; the published copy the dashboard reads has its kpi_daily
cut after PARTIAL_DAY and kpi_monthly's last month restated to those days, so the latest month is
a partial one, as it is on most mornings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
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
    "today",
    "audiences",
    "subscriptions",
]
WIDTHS = [1440, 390]
PARTIAL_DAY = "2025-06-12"


# ---- the app in a browser ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cut_to_partial_month(db: Path, last_day: str) -> None:
    """kpi_daily ends on ``last_day``; kpi_monthly's month of it is restated as kpi_monthly states a
    month to date (its days 1..d, compared with the same days of the previous month and year)."""
    with duckdb.connect(str(db)) as con:
        con.execute("delete from marts.kpi_daily where date_day > ?", [date.fromisoformat(last_day)])
        con.execute(
            """
            update marts.kpi_monthly set
                revenue = d.revenue, count_orders = d.count_orders, aov = d.revenue / d.count_orders,
                is_month_to_date = true, count_days = day(?::date),
                revenue_previous_month = p.revenue, revenue_previous_year = y.revenue,
                revenue_growth_mom = d.revenue / p.revenue - 1, revenue_growth_yoy = d.revenue / y.revenue - 1
            from
                (select sum(revenue) as revenue, sum(count_orders) as count_orders from marts.kpi_daily
                 where date_day >= date_trunc('month', ?::date)) d,
                (select sum(revenue) as revenue from marts.kpi_daily
                 where date_day between date_trunc('month', ?::date) - interval 1 month
                 and ?::date - interval 1 month) p,
                (select sum(revenue) as revenue from marts.kpi_daily
                 where date_day between date_trunc('month', ?::date) - interval 1 year
                 and ?::date - interval 1 year) y
            where month_start_date = date_trunc('month', ?::date)
            """,
            [last_day] * 7,
        )
    manifest = db.parent / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "as_of_date": last_day}))


@pytest.fixture(scope="module")
def app(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("published_dashboard")
    publish(warehouse.db, out, warehouse.as_of)
    cut_to_partial_month(out / "crm_marts.duckdb", PARTIAL_DAY)
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


FIGURES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => ({
    title: (g.layout.title && g.layout.title.text) || '',
    width: g.getBoundingClientRect().width,
    plot_width: g._fullLayout ? g._fullLayout._size.w : 0,
    traces: g._fullData.map(d => ({
        type: d.type || 'scatter', name: d.name || '',
        dash: (d.line && d.line.dash) || '',
        x: d.x ? Array.from(d.x) : [], y: d.y ? Array.from(d.y) : [],
        z: d.z ? Array.from(d.z, row => Array.from(row)) : [],
    })),
}))"""


@pytest.fixture(scope="module")
def rendered(app, browser) -> dict[tuple[str, int], dict]:
    """Every page loaded once at each width: its metrics (label -> value), texts, chart data and
    exceptions; a full-page screenshot of each."""
    url, _ = app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for width in WIDTHS:
        page = browser.new_page()
        for name in PAGES:
            page.set_viewport_size({"width": width, "height": 1000})
            page.goto(f"{url}/" if name == "kpis" else f"{url}/{name}")  # kpis is the default page, at /
            page.wait_for_selector("h1", timeout=90_000)
            page.wait_for_selector("#crm-page-ready", state="attached", timeout=90_000)
            page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000)
            page.wait_for_timeout(800)
            metrics = {}
            for m in page.query_selector_all('[data-testid="stMetric"]'):
                label = m.query_selector('[data-testid="stMetricLabel"]').inner_text().strip()
                metrics.setdefault(label, m.query_selector('[data-testid="stMetricValue"]').inner_text().strip())
            out[name, width] = {
                "metrics": metrics,
                "infos": [a.inner_text() for a in page.query_selector_all('[data-testid="stAlert"]')],
                "exceptions": [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')],
                "not_found": "Page not found" in page.inner_text("body"),
                "charts": len(page.query_selector_all(".js-plotly-plot")),
                "figures": page.evaluate(FIGURES_JS),
                "text": page.inner_text("body"),
                "selected": [e.input_value() for e in page.query_selector_all('[data-testid="stSelectbox"] input')],
                # st.dataframe draws on a canvas; its accessible table holds the rendered cells
                "cells": [c.inner_text() for c in page.query_selector_all('[data-testid="stDataFrame"] table td')],
            }
            # the app scrolls inside its main container: grow the viewport to it for a full-page image
            height = page.evaluate(
                '() => Math.max(...Array.from(document.querySelectorAll(\'[data-testid="stMain"], '
                '[data-testid="stAppViewContainer"], section.main\')).map(e => e.scrollHeight), 1000)'
            )
            page.set_viewport_size({"width": width, "height": min(int(height) + 40, 16000)})
            page.wait_for_timeout(600)
            page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        page.close()
    print(f"\ndashboard screenshots: {ARTIFACTS}")
    return out


def at(rendered, name: str, width: int = 1440) -> dict:
    return rendered[name, width]


def figure(rendered, name: str, title_part: str, width: int = 1440) -> dict:
    found = [f for f in at(rendered, name, width)["figures"] if title_part in f["title"]]
    assert found, [f["title"] for f in at(rendered, name, width)["figures"]]
    return found[0]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_error(rendered, name, width):
    assert at(rendered, name, width)["exceptions"] == [], at(rendered, name, width)["exceptions"]
    assert not at(rendered, name, width)["not_found"]
    assert (ARTIFACTS / f"{name}-{width}.png").stat().st_size > 10_000


def test_kpi_figures_equal_kpi_monthly(app, rendered):
    _, db = app
    row = query(db, "select * from marts.kpi_monthly order by month_start_date desc limit 1").iloc[0]
    m = at(rendered, "kpis")["metrics"]
    assert m["売上 Revenue"] == pages.yen(row["revenue"]) and row["revenue"] > 0
    assert m["注文数 Orders"] == f"{int(row['count_orders']):,}"
    assert m["客単価 AOV"] == pages.yen(row["aov"])
    assert m["CAC (CPO)"] == pages.yen(row["cac"])
    assert m["CVR 購入率 Conversion rate"] == pages.pct(row["conversion_rate"])
    assert at(rendered, "kpis")["charts"] >= 2


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
    m = at(rendered, "portfolio")["metrics"]
    assert m["顧客数 Customers"] == f"{int(n):,}"
    assert m["現役客 Active"] == f"{int(active):,}" and 0 < active < n
    assert at(rendered, "portfolio")["charts"] == 3  # states over time, heatmap, forecast (portfolio_forecast)


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
    shown = at(rendered, "portfolio")["metrics"]
    assert {k: v for k, v in shown.items() if k in expected} == expected
    assert set(shown) == set(expected) | {"顧客数 Customers", "現役客 Active", "基準日 Date"}


def test_prediction_and_subscription_figures_equal_marts(app, rendered):
    _, db = app
    # the shared test warehouse runs the model fits (conftest.build_with_fits), as the daily job does
    scored = query(db, "select count(*) as n from marts.customer_predictions")["n"][0]
    assert scored > 0
    assert at(rendered, "predictions")["metrics"]["予測対象 Customers scored"] == f"{int(scored):,}"
    # churn-risk bands, holdout calibration, CLV distribution, next purchase dates
    assert at(rendered, "predictions")["charts"] == 4
    second = query(
        db,
        "select retention_rate from marts.subscription_retention where cohort_month = 'all' and "
        "acquisition_channel = 'all' and product_id = 'all' and offer_code = 'all' "
        "and delivery_number = 2",
    )["retention_rate"][0]
    assert at(rendered, "subscriptions")["metrics"]["2回目継続率 Retention to delivery 2"] == f"{second * 100:.1f}%"


def test_f2_channel_funnel_loyalty_product_figures_equal_marts(app, rendered):
    _, db = app
    f2 = query(
        db,
        "select * from marts.f2_conversion where cohort_month = 'all' and acquisition_channel = 'all' "
        "and first_category = 'all'",
    ).iloc[0]
    assert at(rendered, "f2")["metrics"]["F2転換率 90日 F2 rate 90d"] == pages.pct(f2["f2_rate_90d"])
    assert at(rendered, "f2")["metrics"]["初回購入者 First buyers"] == f"{int(f2['count_first_buyers']):,}"
    sessions = query(db, "select sum(count_sessions) as n from marts.funnel_daily")["n"][0]
    assert at(rendered, "funnel")["metrics"]["セッション Sessions"] == f"{int(sessions):,}"
    top = query(
        db,
        "select product_name from marts.product_ranking where period_grain = 'month' and period_start_date"
        " = (select max(period_start_date) from marts.product_ranking where period_grain = 'month') "
        "order by rank, product_id limit 1",
    )["product_name"][0]
    assert any(k.startswith("今月の1位") and v == top for k, v in at(rendered, "products")["metrics"].items())
    loyal = query(db, "select count_customers from marts.loyalty_tier_profile order by loyalty_tier")
    assert at(rendered, "loyalty")["charts"] == 1 and len(loyal) == 4
    assert at(rendered, "channels")["charts"] == 1


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
        text = " ".join(at(rendered, name)["infos"])
        assert f"not built yet: marts.{missing[0]}" in text, at(rendered, name)
    else:  # the marts landed: the page shows figures or says why they are empty
        assert at(rendered, name)["metrics"] or "empty because" in " ".join(at(rendered, name)["infos"])


# ---- never mislead -------------------------------------------------------------------------------


def test_the_partial_month_is_labelled_and_compared_on_the_same_days(app, rendered):
    _, db = app
    kpis = at(rendered, "kpis")
    assert kpis["selected"] == ["2025-06 月初来 month to date"]
    assert any("月初来（1日〜12日、12日間）" in info for info in kpis["infos"])
    assert "前月比 MoM" not in kpis["metrics"]  # the whole-month comparison is not offered for 12 days

    def revenue(first: str, last: str) -> float:
        return query(
            db, f"select sum(revenue) as r from marts.kpi_daily where date_day between '{first}' and '{last}'"
        )["r"][0]

    june, may, june_before = (
        revenue("2025-06-01", "2025-06-12"),
        revenue("2025-05-01", "2025-05-12"),
        revenue("2024-06-01", "2024-06-12"),
    )
    assert kpis["metrics"]["前月同日数比 MoM, same days"] == pages.pct(june / may - 1)
    assert kpis["metrics"]["前年同日数比 YoY, same days"] == pages.pct(june / june_before - 1)
    assert kpis["metrics"]["売上 Revenue"] == pages.yen(june)
    # the partial month's bar is its own series (grey), named as such
    bars = figure(rendered, "kpis", "月次売上")["traces"]
    assert {t["name"] for t in bars} == {"月初来 month to date", "確定 complete"}
    assert [t["x"] for t in bars if t["name"] == "月初来 month to date"] == [["2025-06 月初来 MTD"]]


def test_no_cohort_cell_is_drawn_from_fewer_than_the_minimum(app, rendered):
    _, db = app
    minimum = 30  # dbt_project.yml: dashboard_min_customers
    cohorts = query(
        db,
        "select * from marts.f2_conversion where cohort_month <> 'all' and acquisition_channel = 'all' "
        "and first_category = 'all' order by cohort_month",
    )
    heat = figure(rendered, "f2", "コホート別F2転換率")["traces"][0]
    assert heat["y"] == list(cohorts["cohort_month"])
    drawn = too_few = 0
    for row, (_, r) in zip(heat["z"], cohorts.iterrows(), strict=True):
        for value, n in zip(row, pages.HORIZONS, strict=True):
            if r[f"count_eligible_{n}d"] >= minimum:
                assert value == pytest.approx(r[f"f2_rate_{n}d"])
                drawn += 1
            else:
                assert value is None, (r["cohort_month"], n)
                too_few += 1 if r[f"count_eligible_{n}d"] > 0 else 0
    assert drawn > 10 and too_few > 0  # the shop has both kinds of cells
    # the 定期 chart draws no observed point of a start month with fewer eligible subscriptions
    retention = query(
        db,
        "select * from marts.subscription_retention where acquisition_channel = 'all' and product_id = 'all' "
        "and offer_code = 'all' and not is_projected",
    )
    for trace in figure(rendered, "subscriptions", "継続率")["traces"]:
        if trace["name"].endswith("実績 observed"):
            cohort = "all" if trace["name"].startswith("全体") else trace["name"].split()[0]
            for x in trace["x"]:
                n = retention[(retention["cohort_month"] == cohort) & (retention["delivery_number"] == x)]
                assert n["count_eligible"].iloc[0] >= minimum


def test_the_sbg_projection_is_drawn_as_a_dashed_continuation(app, rendered):
    _, db = app
    projected = query(
        db,
        "select cohort_month, delivery_number, projected_retention_rate from marts.subscription_retention "
        "where acquisition_channel = 'all' and product_id = 'all' and offer_code = 'all' and is_projected "
        "order by cohort_month, delivery_number",
    )
    assert not projected.empty
    dashed = [t for t in figure(rendered, "subscriptions", "継続率")["traces"] if t["dash"] == "dash"]
    assert dashed
    for trace in dashed:
        cohort = trace["name"].split()[0]
        rows = projected[projected["cohort_month"] == cohort]
        # the continuation starts at the last reachable delivery, then every projected delivery
        assert trace["x"][1:] == list(rows["delivery_number"])
        assert trace["y"][1:] == pytest.approx(list(rows["projected_retention_rate"]))
        assert trace["name"].endswith("予測 (sBG) projected (sBG)")


def test_calibration_has_every_bucket_including_7_plus_and_says_how_far_off(app, rendered):
    _, db = app
    validation = query(db, "select * from marts.clv_model_validation order by bucket_order")
    bars = figure(rendered, "predictions", "ホールドアウト検証")["traces"]
    buckets = [b for b in validation["frequency_bucket"] if b != "all"]
    assert "7+" in buckets
    assert all(t["x"] == buckets for t in bars)
    total = validation[validation["frequency_bucket"] == "all"].iloc[0]
    off = total["predicted_purchases_holdout"] / total["actual_purchases_holdout"] - 1
    text = " ".join(at(rendered, "predictions")["infos"])
    if abs(off) > 0.15:
        assert f"{abs(off) * 100:.1f}%" in text and ("多く予測" in text or "少なく予測" in text)
    else:
        assert "±15%以内" in text


def test_names_not_ids_and_japanese_labels(app, rendered):
    _, db = app
    names = query(db, "select distinct product_id, product_name from marts.product_ranking")
    ranking = figure(rendered, "products", "売上ランキング")["traces"][0]
    assert all(any(str(n) in y for n in names["product_name"]) for y in ranking["y"])
    # channels in Japanese with the code beside, tiers in rank order
    channel_bars = figure(rendered, "channels", "CAC")["traces"][0]
    assert "検索広告 paid_search" in channel_bars["y"]
    tiers = figure(rendered, "loyalty", "階層別顧客数")["traces"][0]["x"]
    assert tiers == ["優良顧客 loyal", "準優良顧客 semi_loyal", "一般顧客 general", "育成顧客 nurture"]
    assert "nan" not in at(rendered, "loyalty")["text"]


def test_todays_sends_equal_the_exported_rows_with_offer_names(app, rendered):
    _, db = app
    sends = query(
        db,
        "select a.*, r.product_name from marts.customer_audiences a left join (select distinct product_id, "
        "product_name from marts.product_ranking) r on r.product_id = a.offer_1_product_id "
        "where is_entry and not is_holdout and channel is not null",
    )
    page = at(rendered, "today")
    assert page["metrics"]["今日の配信 Sent today"] == f"{len(sends):,}"
    assert 0 < len(sends) < 30  # the shared shop's day: every row is on screen
    for r in sends.itertuples():
        assert r.customer_id in page["cells"]
        if isinstance(r.product_name, str):
            assert f"{r.product_name} ({r.offer_1_product_id})" in page["cells"]
    assert not [c for c in page["cells"] if c.startswith("P0") and "(" not in c]  # no bare product IDs
    for chan in sorted(set(sends["channel"])):
        assert "CSV (customer_id)" in page["text"] and pages.channel(chan) in page["text"]


def test_the_channel_chart_is_not_squeezed_on_a_phone(rendered):
    phone = figure(rendered, "channels", "CAC", width=390)
    assert phone["width"] >= 330 and phone["plot_width"] >= 150


def test_a_customer_lookup_shows_history_state_predictions_and_offers(app, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _, db = app
    monkeypatch.setenv("CRM_PUBLISH_DIR", str(db.parent))
    customer = query(
        db,
        "select d.customer_id, d.cpm_state, d.cpm_state_ja, d.count_purchases, d.predicted_clv from "
        "marts.dim_customers d join marts.customer_offers o using (customer_id) order by 1 limit 1",
    ).iloc[0]
    page = AppTest.from_string("from dashboard import pages\npages.today()\n", default_timeout=60).run()
    page.text_input(key="lookup").input(customer["customer_id"]).run()
    assert not page.exception
    metrics = {m.label: m.value for m in page.metric}
    assert metrics["状態 CPM state"] == f"{customer['cpm_state_ja']} {customer['cpm_state']}"
    assert metrics["購入回数 Purchases"] == f"{int(customer['count_purchases']):,}"
    assert metrics["予測CLV Predicted CLV"] == pages.yen(customer["predicted_clv"])
    orders = query(db, f"select count(*) as n from marts.fct_orders where customer_id = '{customer['customer_id']}'")
    assert len(page.dataframe[-1].value) == orders["n"][0]
    offers = query(
        db,
        "select o.offer_rank, r.product_name, o.product_id from marts.customer_offers o left join (select distinct "
        "product_id, product_name from marts.product_ranking) r using (product_id) "
        f"where customer_id = '{customer['customer_id']}' order by 1",
    )
    shown = [m.value for m in page.markdown if m.value.startswith("オファー Offer")]
    assert [s.split(" — ")[0] for s in shown] == [
        f"オファー Offer {r.offer_rank}: {r.product_name} ({r.product_id})" for r in offers.itertuples()
    ]
