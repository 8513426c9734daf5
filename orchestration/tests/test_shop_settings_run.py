"""A shop configured only by its settings file, through the run command.

The CDNOW sample (a US shop, 1997-1998; orchestration/tests/fixtures/cdnow) goes through
`crm run --config shop.yml` with no edit to the project: its own first day, CPM spend threshold,
earliest valid date and a business time zone other than Tokyo (America/New_York). Its marts are
checked against the figures published for it and against an independent computation, and the
partitions, order dates and export send dates against the time zone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pandas as pd
import pytest

from orchestration.settings import PROJECT_DIR
from orchestration.tests.fake_apis import KLAVIYO_KEY, LINE_TOKEN, Server

CDNOW = Path(__file__).parent / "fixtures" / "cdnow" / "CDNOW_sample.txt"
AS_OF = "1998-06-30"
STEADY = 100  # the shop's own CPM spend threshold, in dollars
# planted orders of one more customer, who first buys after the calibration period: one at 23:30 in
# New York on June 29 written in UTC, one at 23:30 on June 30 written as New York wall clock
PLANTED = [
    ("TZ-1", "TZ1", "1998-06-30T03:30:00Z", "1998-06-29"),
    ("TZ-2", "TZ1", "1998-06-30 23:30:00", "1998-06-30"),
]


def _cdnow() -> pd.DataFrame:
    df = pd.read_csv(
        CDNOW,
        sep=r"\s+",
        header=None,
        names=["id", "sid", "date", "cds", "value"],
        dtype={"id": str, "date": str},
    )
    df["day"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df


def _crm_run(config: Path, as_of: str) -> subprocess.CompletedProcess:
    """`crm run --config` as a shop types it: nothing of this machine's CRM_* environment, no docs site."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DAGSTER_HOME"))}
    env["CRM_PUBLISH_DOCS"] = "0"
    command = [sys.executable, "-m", "orchestration.cli", "run", "--config", str(config), "--as-of", as_of]
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1200, check=False)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdnow-shop")
    df = _cdnow()
    orders = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(df))],
            "customer_id": df["id"],
            "ordered_at": df["day"].dt.strftime("%Y-%m-%d"),
            "status": "completed",
            "order_total": df["value"].map(lambda v: f"{v:.2f}"),
            "month": df["day"].dt.strftime("%Y-%m"),
        }
    )
    planted = pd.DataFrame(
        [
            {
                "order_id": o,
                "customer_id": c,
                "ordered_at": at,
                "status": "completed",
                "order_total": "10.00",
                "month": "1998-06",
            }
            for o, c, at, _ in PLANTED
        ]
    )
    orders = pd.concat([orders, planted])
    (root / "landing" / "orders").mkdir(parents=True)
    for month, part in orders.groupby("month"):
        part.drop(columns="month").to_csv(root / "landing" / "orders" / f"{month}.csv", index=False)
    first = df.groupby("id")["day"].min()
    ids = [*first.index, "TZ1"]
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "registered_at": [*first.dt.strftime("%Y-%m-%d"), "1998-06-29"],
            "email_opt_in": "true",
            # every third customer is a LINE friend: LINE is their channel
            "line_opt_in": ["true" if i % 3 == 0 else "" for i in range(len(ids))],
            "email": [f"cd{c}@shop.example" for c in ids],
            "line_user_id": [f"U{int(i):032x}" if n % 3 == 0 else "" for n, i in enumerate(range(len(ids)))],
        }
    )
    (root / "landing" / "customers").mkdir()
    customers.to_csv(root / "landing" / "customers" / "1998-06-30.csv", index=False)
    config = root / "shop.yml"
    klaviyo, line = Server("klaviyo"), Server("line")
    config.write_text(
        f"""
landing_dir: landing
warehouse_path: warehouse/warehouse.duckdb
publish_dir: published
gx_dir: gx
logs_dir: logs
temp_dir: tmp
dagster_home: dagster
business_timezone: America/New_York
history_start: 1997-01-01
vars:
  earliest_valid_date: 1997-01-01
  cpm_steady_revenue: {STEADY}
  clv_holdout_days: 273            # calibration 1997-01-01 .. 1997-09-30, as published
delivery:
  files: {{dir: lists, encoding: shift_jis}}
  klaviyo: {{api_key_env: TEST_KLAVIYO_KEY, base_url: "{klaviyo.url}"}}
  line: {{channel_access_token_env: TEST_LINE_TOKEN, base_url: "{line.url}"}}
""",
        encoding="utf-8",
    )
    with (
        klaviyo,
        line,
        mock.patch.dict(os.environ, {"TEST_KLAVIYO_KEY": KLAVIYO_KEY, "TEST_LINE_TOKEN": LINE_TOKEN}),
    ):
        proc = _crm_run(config, AS_OF)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    con = duckdb.connect(str(root / "published" / "crm_marts.duckdb"), read_only=True)
    yield {
        "root": root,
        "con": con,
        "stdout": proc.stdout + proc.stderr,
        "cdnow": df,
        "contact_keys": {*customers.email, *(i for i in customers.line_user_id if i)},
        "klaviyo": klaviyo.fake,
        "line": line.fake,
    }
    con.close()


def _one(con, sql: str):
    return con.execute(sql).fetchone()


def test_the_run_uses_the_settings_file_and_publishes_the_day(shop):
    assert "[settings" in shop["stdout"] and "shop.yml" in shop["stdout"]
    manifest = json.loads((shop["root"] / "published" / "manifest.json").read_text())
    assert manifest["as_of_date"] == AS_OF  # the partition the run command asked for
    assert not (PROJECT_DIR / "data" / "landing" / "cdnow").exists()


def test_nothing_of_the_history_is_quarantined(shop):
    con = shop["con"]
    assert _one(con, "select count(*) from marts.fct_orders") == (len(shop["cdnow"]) + len(PLANTED),)


def test_marts_reproduce_the_published_cdnow_figures(shop):
    con = shop["con"]
    df = shop["cdnow"]
    assert _one(con, "select count(*) from marts.dim_customers where first_purchase_date is not null") == (2357 + 1,)
    revenue = _one(con, "select sum(revenue) from marts.kpi_monthly")[0]
    assert float(revenue) == pytest.approx(round(df["value"].sum(), 2) + 20, abs=0.005)
    # Fader, Hardie & Lee (2005): BG/NBD on 39 weeks of calibration (time here in days)
    r, alpha, a, b = _one(con, "select r, alpha, a, b from marts.clv_model where fit = 'calibration'")
    assert (round(r, 3), round(alpha / 7, 2), round(a, 3), round(b, 2)) == pytest.approx(
        (0.243, 4.41, 0.793, 2.43), abs=0.0015
    )
    # 1,882 repeat transactions happened in the 39-week holdout
    assert _one(
        con,
        "select actual_purchases_holdout from marts.clv_model_validation where frequency_bucket = 'all'",
    ) == (1882,)


def test_cpm_states_use_the_shops_own_spend_threshold(shop):
    df = shop["cdnow"]
    end = pd.Timestamp(AS_OF)
    per = df.groupby("id").agg(first=("day", "min"), last=("day", "max"), n=("day", "size"), spend=("value", "sum"))
    tenure = (per["last"] - per["first"]).dt.days
    loyal = per[(per["n"] > 1) & (tenure >= 90) & (per["spend"] >= STEADY) & (tenure >= 210)]
    active = loyal[(end - loyal["last"]).dt.days < 240]
    counts = dict(
        shop["con"]
        .execute(
            "select cpm_state, count(*) from marts.customer_portfolio_monthly "
            f"where month_end_date = date '{AS_OF}' and cpm_state like 'loyal%' group by 1"
        )
        .fetchall()
    )
    assert counts == {"loyal_active": len(active), "loyal_lapsed": len(loyal) - len(active)}
    assert len(loyal) > 100  # with the default 70,000 nobody would be loyal


def test_partitions_order_dates_and_send_dates_agree_in_the_shops_time_zone(shop):
    con = shop["con"]
    for order_id, _, _, expected in PLANTED:
        assert _one(
            con,
            f"select cast(order_date as varchar) from marts.fct_orders where order_id = '{order_id}'",
        ) == (expected,)
    exports = shop["root"] / "published" / "exports"
    sends = pd.concat([frame for p in exports.glob("*.parquet") if len(frame := pd.read_parquet(p))])
    assert len(sends) > 0
    first = date.fromisoformat(AS_OF) + timedelta(days=1)
    assert {pd.Timestamp(d).date() for d in sends["send_date"]} <= {first + timedelta(days=i) for i in range(7)}
    # the Dagster partitions of this shop are New York days
    code = (
        "import orchestration.pipeline.assets as a; p = a.daily_partitions; "
        "print(p.timezone, p.start.date(), p.get_last_partition_key())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env["CRM_CONFIG"] = str(shop["root"] / "shop.yml")
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    assert out[:2] == ["America/New_York", "1997-01-01"]


def test_a_table_mostly_quarantined_is_an_error_that_holds_back_publishing(tmp_path):
    """90 of 100 orders carry a placeholder date (1970-01-01): an ERROR naming the table, its top
    reason and what to change; nothing is published."""
    orders = tmp_path / "landing" / "orders"
    orders.mkdir(parents=True)
    rows = [
        f"P{i},C{i % 7},{'1970-01-01' if i < 90 else '2025-06-0' + str(1 + i % 9)},completed,100" for i in range(100)
    ]
    (orders / "2025-06-10.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    config = tmp_path / "shop.yml"
    config.write_text(
        "landing_dir: landing\nwarehouse_path: w/warehouse.duckdb\npublish_dir: published\n"
        "gx_dir: gx\nlogs_dir: logs\ntemp_dir: tmp\ndagster_home: dagster\n"
        "history_start: 2025-06-01\n",
        encoding="utf-8",
    )
    proc = _crm_run(config, "2025-06-10")
    assert proc.returncode == 1, proc.stdout[-4000:]
    assert (
        "ERROR orders: 90% of 100 rows quarantined (over quarantine_error_share 50%), most as "
        "'implausible ordered_at' (90); nothing was published. What to do: if these values are real" in proc.stdout
    ), proc.stdout[-4000:]
    assert "vars.earliest_valid_date" in proc.stdout
    assert "assert_quarantine_share_below_error" in proc.stdout
    assert not (tmp_path / "published" / "manifest.json").exists()


def test_a_delivery_run_leaves_no_contact_key_in_what_the_shop_publishes_logs_or_stores(shop):
    """The run delivered the day's lists (upload files, Klaviyo, LINE); no e-mail address or LINE
    user ID is anywhere under the published folder (dashboard data included), the run logs, the
    Dagster storage or the GX folder (validation results, Data Docs), nor in the run's output."""
    root, keys = shop["root"], shop["contact_keys"]
    emails = {p["attributes"]["email"] for job in shop["klaviyo"].imports for p in job["profiles"]}
    line_ids = {i for g in shop["line"].groups.values() for i in g["ids"]}
    assert emails and line_ids and emails | line_ids <= keys  # the run did deliver to both tools
    uploads = list((root / "lists").glob("*.csv"))
    assert uploads and all(any(k.encode() in p.read_bytes() for k in keys) for p in uploads)
    found = []
    for folder in ("published", "logs", "dagster", "gx"):
        files = [p for p in (root / folder).rglob("*") if p.is_file()]
        assert files, folder
        for path in files:
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {k}" for k in keys if k.encode() in data]
    found += [f"output: {k}" for k in keys if k in shop["stdout"]]
    assert found == []
