"""The contact log (orchestration/activation/contact_log.py) on a copy of the shared generated shop:
appended once per day, reconstructed once on a warehouse without a log, read by audience_lift
(whose interval is Newcombe's, checked by hand here), kept by erase (without the erased) and by a
rebuild."""

from __future__ import annotations

import math
import shutil
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from orchestration.activation.contact_log import copy_path, log_day, rebuild_marts, restore
from orchestration.settings import dbt_var
from orchestration.tests.conftest import copy_warehouse, dbt, query


@pytest.fixture(scope="module")
def logged(warehouse, tmp_path_factory):
    """A copy of the shared warehouse whose day was logged once and its marts rebuilt."""
    root = tmp_path_factory.mktemp("logged")
    db = root / "warehouse.duckdb"  # the views name their catalog: keep the file's name
    copy_warehouse(warehouse.db, db)
    first = log_day(db, warehouse.as_of)
    rebuild_marts(db, warehouse.as_of)
    return db, first


def test_a_day_is_logged_once_and_the_window_reconstructed_once(logged, warehouse):
    db, first = logged
    as_of = date.fromisoformat(warehouse.as_of)
    lookback = dbt_var("activation_lookback_days")
    today = query(db, "select * from marts.customer_audiences where is_entry and channel is not null")
    assert first.entries == len(today) > 0 and not first.already_logged
    assert first.days_reconstructed == lookback - 1 and first.entries_reconstructed > 100
    log = query(db, "select * from activation.contact_log")
    mine = log[~log.is_reconstructed]
    assert set(mine.entry_date.dt.date) == {as_of}
    assert set(zip(mine.customer_id, mine.audience, mine.is_holdout, mine.channel, strict=True)) == set(
        zip(today.customer_id, today.audience, today.is_holdout, today.channel, strict=True)
    )
    fit = query(db, "select as_of_date from model_fits.clv_fits where fit = 'full'").as_of_date[0]
    assert (mine.model_fit_as_of_date == fit).all() and (mine.delivery_status == "not_delivered").all()
    rebuilt = log[log.is_reconstructed]
    assert rebuilt.entry_date.min().date() == as_of - timedelta(days=lookback - 1)
    assert rebuilt.entry_date.max().date() == as_of - timedelta(days=1)
    assert rebuilt.send_date.isna().all() and rebuilt.offer_1_product_id.isna().all()
    # a rerun of the day adds nothing; a later day adds its own entries, and reconstructs nothing
    again = log_day(db, warehouse.as_of)
    assert again.already_logged and len(query(db, "select * from activation.contact_log")) == len(log)
    days = query(db, "select * from activation.contact_log_days order by entry_date")
    assert len(days) == lookback and days.is_reconstructed.sum() == lookback - 1
    # the mart: exactly marts.md's columns, the log's rows
    mart = query(db, "select * from marts.contact_log")
    assert list(mart.columns) == [
        "customer_id",
        "audience",
        "entry_date",
        "channel",
        "send_date",
        "send_hour",
        "is_holdout",
        "offer_1_product_id",
        "offer_2_product_id",
        "model_fit_as_of_date",
        "is_reconstructed",
        "delivery_status",
    ]
    assert len(mart) == len(log)


def _wilson(p: float, n: int, sign: int) -> float:
    z = 1.96
    return (p + z * z / (2 * n) + sign * z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def test_the_lift_counts_the_logged_entries_with_newcombes_interval(logged):
    """Recomputed here from the log and the orders: counts, conversions, and the interval of
    Newcombe's hybrid score method, which stays an interval where a side converts 0% or 100%."""
    db, _ = logged
    log = query(db, "select customer_id, audience, entry_date, is_holdout from marts.contact_log")
    orders = query(
        db, "select customer_id, order_date from marts.fct_orders where is_purchase and customer_id is not null"
    )
    lift = query(db, "select * from marts.audience_lift")
    as_of = pd.Timestamp(query(db, "select max(entry_date) as d from marts.contact_log").d[0])
    assert len(lift) > 0
    seen_extreme = False
    for row in lift.itertuples():
        entries = log[(log.audience == row.audience) & (log.entry_date.dt.strftime("%Y-%m") == row.entry_month)]
        entries = entries[entries.entry_date + pd.Timedelta(days=row.window_days) <= as_of]
        sides = {}
        for held, part in entries.groupby("is_holdout"):
            merged = part.merge(orders, on="customer_id", how="left")
            inside = (merged.order_date > merged.entry_date) & (
                merged.order_date <= merged.entry_date + pd.Timedelta(days=row.window_days)
            )
            converted = merged[inside][["customer_id", "entry_date"]].drop_duplicates()
            sides[held] = (len(converted) / len(part), len(part))
        (p1, n1), (p2, n2) = sides.get(False, (None, 0)), sides.get(True, (None, 0))
        assert (row.count_contacted, row.count_holdout) == (n1, n2), row
        if not n1 or not n2:
            assert pd.isna(row.lift_ci_low), row
            continue
        low = p1 - p2 - math.sqrt((p1 - _wilson(p1, n1, -1)) ** 2 + (_wilson(p2, n2, 1) - p2) ** 2)
        high = p1 - p2 + math.sqrt((_wilson(p1, n1, 1) - p1) ** 2 + (p2 - _wilson(p2, n2, -1)) ** 2)
        assert row.lift_ci_low == pytest.approx(low, abs=1e-12) and row.lift_ci_high == pytest.approx(high, abs=1e-12)
        if p2 in (0.0, 1.0) or p1 in (0.0, 1.0):
            seen_extreme = True
            assert high - low > 0.05  # not the normal approximation's zero-width interval
    assert seen_extreme


@pytest.mark.slow  # rebuilds the models downstream of the fit
def test_a_refit_after_a_day_was_logged_leaves_the_lift_as_it_was(logged, tmp_path):
    """A refit with other parameters (a dropout rate ten times higher) moves P(alive) on every day
    of the window, so the entries recomputed from the data change (what the old lift counted),
    while the lift read from the log is the same as before the refit."""
    src, _ = logged
    db = tmp_path / "warehouse.duckdb"
    copy_warehouse(src, db)
    as_of = query(db, "select max(entry_date) as d from marts.contact_log").d[0].date().isoformat()
    before = query(db, "select * from marts.audience_lift order by all")
    rebuilt_before = query(db, "select * from intermediate.int_reconstructed_entries order by all")
    with duckdb.connect(str(db)) as con:
        con.execute("update model_fits.clv_fits set a = a * 10 where fit = 'full'")
    dbt(db, ["run", "--select", "tag:fitted_parameters+"], {"as_of_date": as_of})
    rebuilt_after = query(db, "select * from intermediate.int_reconstructed_entries order by all")
    assert not rebuilt_before.equals(rebuilt_after), "the refit changes the entries recomputed from the data"
    after = query(db, "select * from marts.audience_lift order by all")
    pd.testing.assert_frame_equal(after, before)


@pytest.mark.slow  # loads a file and rebuilds the warehouse
def test_a_late_file_after_a_day_was_logged_leaves_the_lift_as_it_was(logged, warehouse, tmp_path):
    """Events of an earlier day arrive late: known customers who left a cart three days before the
    logged day. Recomputed from the data, they enter the cart follow-up two days before it (what a
    recomputed lift would count as contacted); the lift read from the log is the one of the
    warehouse where nothing arrived late."""
    from orchestration.ingest.load import ingest

    src, _ = logged
    db = tmp_path / "warehouse.duckdb"
    copy_warehouse(src, db)
    landing = tmp_path / "landing"
    shutil.copytree(warehouse.landing, landing)
    as_of = date.fromisoformat(warehouse.as_of)
    cart_day = as_of - timedelta(days=3)
    before = query(db, "select * from marts.audience_lift order by all")
    rebuilt_before = query(db, "select * from intermediate.int_reconstructed_entries order by all")
    who = query(
        db,
        "select c.customer_id, min(p.product_id) as product_id from marts.dim_customers as c "
        "cross join marts.product_portfolio as p group by 1 order by 1 limit 30",
    )
    rows = [
        {
            "event_id": f"late-{i}",
            "session_id": f"late-session-{i}",
            "anonymous_id": f"late-device-{i}",
            "customer_id": row.customer_id,
            "event_type": "add_to_cart",
            "occurred_at": f"{cart_day.isoformat()}T12:00:00+09:00",
            "product_id": row.product_id,
            "order_id": "",
            "utm_source": "",
            "utm_medium": "",
            "utm_campaign": "",
            "device": "mobile",
        }
        for i, row in enumerate(who.itertuples())
    ]
    pd.DataFrame(rows).to_csv(landing / "events" / f"{cart_day.isoformat()}_late.csv", index=False)
    report = ingest(landing, db, verbose=False)
    assert report.tables["events"].files_new == 1 and report.tables["events"].rows_loaded == len(rows)
    dbt(db, ["build"], {"as_of_date": warehouse.as_of})
    rebuilt_after = query(db, "select * from intermediate.int_reconstructed_entries order by all")
    late_entries = rebuilt_after[
        (rebuilt_after.audience == "cart_follow_up")
        & (rebuilt_after.entry_date.dt.date == cart_day + timedelta(days=1))
        & rebuilt_after.customer_id.isin(set(who.customer_id))
    ]
    assert len(late_entries) > 0 and not rebuilt_before.equals(rebuilt_after), "the late file moves the entries"
    pd.testing.assert_frame_equal(query(db, "select * from marts.audience_lift order by all"), before)


def test_a_rebuilt_warehouse_gets_the_log_back_from_its_copy(logged, tmp_path):
    db, _ = logged
    log = query(db, "select * from activation.contact_log order by all")
    new = tmp_path / "warehouse.duckdb"
    for table in ("contact_log", "contact_log_days"):
        shutil.copy(copy_path(db, table), copy_path(new, table))
    duckdb.connect(str(new)).close()
    assert restore(new) == len(log) > 0
    pd.testing.assert_frame_equal(query(new, "select * from activation.contact_log order by all"), log)
    assert restore(new) == 0  # a log is there: nothing added


@pytest.mark.slow  # rewrites every file of the warehouse's folder
def test_an_erased_customer_leaves_the_log_and_its_copy(logged, warehouse, tmp_path):
    from orchestration.privacy.erase import erase

    src, _ = logged
    root = tmp_path / "w"
    root.mkdir()
    db = root / "warehouse.duckdb"
    copy_warehouse(src, db)
    for table in ("contact_log", "contact_log_days"):
        shutil.copy(copy_path(src, table), copy_path(db, table))
    who = query(db, "select customer_id from activation.contact_log where not is_reconstructed limit 1").customer_id[0]
    before = query(db, "select count(*) as n from activation.contact_log").n[0]
    erase([who], database=db, roots=[root], publish=tmp_path / "published", landing=warehouse.landing)
    after = query(db, "select customer_id from activation.contact_log")
    assert who not in set(after.customer_id) and len(after) < before
    copy = pd.read_parquet(copy_path(db, "contact_log"))
    assert len(copy) == len(after) and who not in set(copy.customer_id)
