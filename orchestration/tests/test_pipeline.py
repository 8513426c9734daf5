"""Whole-pipeline tests on generated data: reconciliation, quarantine, idempotence, as-of
behaviour, and the customer marts checked against an independent pandas computation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from orchestration.ingest.load import ingest
from orchestration.tests.conftest import copy_warehouse, dbt, mart_snapshot, query
from orchestration.tools.generate import generate

REASON_OF_KIND = {"orphan order_id": "orphan: order_id not among valid orders"}


def test_every_raw_row_is_accounted_for(warehouse):
    rec = query(warehouse.db, "select * from quarantine.quarantine_reconciliation").set_index("table_name")
    assert rec["is_reconciled"].all()
    for table, rows in warehouse.planted["rows"].items():
        assert rec.loc[table, "rows_read"] == rows
    # the re-sent spend file replaced the original rows instead of adding to them
    assert rec.loc["marketing_spend", "rows_superseded"] == warehouse.planted["resent_spend_rows"]
    # returned / cancelled orders arrived twice: the later version supersedes the first
    assert rec.loc["orders", "rows_superseded"] > 0


def test_each_kind_of_bad_row_is_quarantined_with_its_reason(warehouse):
    for table, kinds in warehouse.planted["bad_rows"].items():
        reasons = query(
            warehouse.db,
            f"select reject_reason, count(*) as n from quarantine.quarantine_{table} group by 1",
        )
        got = dict(zip(reasons["reject_reason"], reasons["n"]))
        for kind, n in kinds.items():
            assert got.get(REASON_OF_KIND.get(kind, kind)) == n, (table, kind, got)
        # the source file and row of each rejected row are kept
        sample = query(
            warehouse.db,
            f"select _source_file, _row_number from quarantine.quarantine_{table} limit 5",
        )
        assert sample["_source_file"].notna().all() and (sample["_row_number"] > 0).all()


def test_no_personal_data_outside_raw(warehouse):
    cols = query(
        warehouse.db,
        """
        select table_schema, table_name, column_name from information_schema.columns
        where table_schema <> 'raw' and (column_name in ('email', 'full_name')
            or (column_name like '%mail%' and column_name <> 'email_opt_in'))""",
    )  # consent is not personal data
    assert cols.empty, cols


def test_rerunning_changes_no_row(warehouse, tmp_path):
    db = tmp_path / "again.duckdb"
    copy_warehouse(warehouse.db, db)
    before = mart_snapshot(db)
    assert ingest(warehouse.landing, db, verbose=False).rows_loaded == 0
    dbt(db, ["build"], {"as_of_date": warehouse.as_of})
    after = mart_snapshot(db)
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], check_exact=True, obj=name)


@pytest.mark.slow  # builds a second shop
def test_orders_only_landing_builds_every_mart(tmp_path):
    for fmt in ("csv", "parquet"):
        landing = tmp_path / fmt / "landing"
        generate(
            landing,
            customers=150,
            start=date(2025, 1, 1),
            end=date(2025, 3, 31),
            seed=11,
            tables=("orders",),
            fmt=fmt,
        )
        db = tmp_path / fmt / "w.duckdb"
        ingest(landing, db, verbose=False)
        dbt(db, ["build"], {"as_of_date": "2025-03-31"})
        counts = query(db, "select count(*) as n from marts.dim_customers")
        assert counts["n"][0] > 0
        channels = query(db, "select distinct acquisition_channel from marts.dim_customers")
        assert channels["acquisition_channel"].tolist() == ["unknown"]
        # with no order lines, no product category is known
        cats = query(
            db,
            "select distinct first_category from marts.f2_conversion where first_category <> 'all'",
        )
        assert cats["first_category"].tolist() == ["unknown"]


def test_a_past_as_of_date_sees_no_future(warehouse, tmp_path):
    # as_of = the day before an order's status change (returned / cancelled) arrived
    changed = query(
        warehouse.db,
        """
        select order_id, cast(updated_at as date) as changed_on from staging.base_shop__orders
        where updated_at is not null and row_outcome = 'kept' and ordered_at >= '2025-01-01'
        order by updated_at limit 1""",
    )
    assert len(changed) == 1
    as_of = (changed["changed_on"][0] - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    db = tmp_path / "past.duckdb"
    copy_warehouse(warehouse.db, db)
    dbt(db, ["build"], {"as_of_date": as_of})
    cutoff = pd.Timestamp(as_of)
    orders = query(db, "select * from marts.fct_orders")
    assert orders["order_date"].max() <= cutoff
    assert (query(db, "select min(recency_days) as r from marts.customer_rfm")["r"][0]) >= 0
    assert query(db, "select max(month_end_date) as d from marts.customer_portfolio_monthly")["d"][0] == cutoff
    # the order was still completed (a purchase) on as_of: its later status is not known yet
    past = orders.set_index("order_id").loc[changed["order_id"][0]]
    assert past["status"] == "completed" and past["is_purchase"]
    rec = query(db, "select * from quarantine.quarantine_reconciliation where table_name = 'orders'")
    assert rec["is_reconciled"][0] and rec["rows_pending"][0] > 0


# ---------------------------------------------------------------------------------------------
# Independent computation of the customer marts from fct_orders, in pandas
# ---------------------------------------------------------------------------------------------


def _purchases(db) -> pd.DataFrame:
    orders = query(db, "select * from marts.fct_orders where is_purchase and customer_id is not null")
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    orders["order_total"] = orders["order_total"].astype(float)
    return orders.sort_values(["customer_id", "ordered_at", "order_id"])


def _ceil_bucket(k: pd.Series, n: int) -> pd.Series:
    return -(-5 * k.astype(int) // n)


def test_rfm_and_tiers_match_an_independent_computation(warehouse):
    as_of = pd.Timestamp(warehouse.as_of)
    p = _purchases(warehouse.db)
    g = p.groupby("customer_id").agg(
        first=("order_date", "min"),
        last=("order_date", "max"),
        frequency=("order_id", "count"),
        monetary=("order_total", "sum"),
    )
    in_window = p[p["order_date"] > as_of - pd.Timedelta(days=365)].groupby("customer_id").size()
    g["window"] = in_window.reindex(g.index).fillna(0).astype(int)
    g["recency_days"] = (as_of - g["last"]).dt.days
    n = len(g)
    g["r_score"] = _ceil_bucket(g["recency_days"].rank(method="max", ascending=False), n)
    g["m_score"] = _ceil_bucket(g["monetary"].rank(method="max"), n)
    g["f_score"] = np.select([g.frequency >= 6, g.frequency >= 4, g.frequency >= 3, g.frequency >= 2], [5, 4, 3, 2], 1)
    g["tier"] = np.select(
        [g.frequency == 1, g.window >= 4, g.window >= 2],
        ["nurture", "loyal", "semi_loyal"],
        "general",
    )
    years = np.maximum(1.0, (as_of - g["first"]).dt.days / 365.0)
    g["ltv"] = g["monetary"] / g["frequency"] * (g["frequency"] / years) * 3

    rfm = query(warehouse.db, "select * from marts.customer_rfm").set_index("customer_id").loc[g.index]
    assert len(rfm) == n
    assert (rfm["recency_days"] == g["recency_days"]).all()
    assert (rfm["frequency"] == g["frequency"]).all()
    assert np.allclose(rfm["monetary"].astype(float), g["monetary"])
    for col in ("r_score", "f_score", "m_score"):
        assert (rfm[col] == g[col]).all(), col
    assert (rfm["loyalty_tier"] == g["tier"]).all()
    assert np.allclose(rfm["ltv"], g["ltv"], rtol=1e-9)
    loyal_ltv = g.loc[g.tier == "loyal", "ltv"]
    top = (g.tier == "loyal") & (g.ltv >= loyal_ltv.quantile(0.9))
    high_general = (g.tier == "general") & (g.ltv >= loyal_ltv.quantile(0.25))
    assert (rfm["is_top_ltv"] == top).all()
    assert (rfm["is_high_ltv_general"] == high_general).all()
    # every customer with a purchase is in exactly one tier; every segment name is from the seed
    assert rfm.index.is_unique and rfm["rfm_segment"].ne("unsegmented").all()


def _cpm_state(p: pd.DataFrame, row_date: pd.Timestamp) -> pd.Series:
    upto = p[p["order_date"] <= row_date]
    g = upto.groupby("customer_id").agg(
        first=("order_date", "min"),
        last=("order_date", "max"),
        n=("order_id", "count"),
        revenue=("order_total", "sum"),
    )
    tenure = (g["last"] - g["first"]).dt.days
    lapse = (row_date - g["last"]).dt.days
    segment = np.select(
        [g.n == 1, tenure < 90, g.revenue < 70000, tenure < 210],
        ["first", "toddler", "steady", "trendy"],
        "loyal",
    )
    status = np.where(lapse < 240, "active", "lapsed")
    return pd.Series([f"{s}_{t}" for s, t in zip(segment, status)], index=g.index)


@pytest.mark.parametrize("row_date", ["2024-12-31", "2025-04-30", "as_of"])
def test_cpm_states_match_an_independent_computation(warehouse, row_date):
    day = pd.Timestamp(warehouse.as_of if row_date == "as_of" else row_date)
    expected = _cpm_state(_purchases(warehouse.db), day).sort_index()
    got = (
        query(
            warehouse.db,
            f"select customer_id, cpm_state from marts.customer_portfolio_monthly "
            f"where month_end_date = '{day.date()}'",
        )
        .set_index("customer_id")["cpm_state"]
        .sort_index()
    )
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_cpm_transitions_conserve_customers(warehouse):
    counts = query(
        warehouse.db,
        """
        select month_end_date, cpm_state, count(*) as n from marts.customer_portfolio_monthly group by 1, 2""",
    )
    moves = query(
        warehouse.db,
        """
        select previous_date, from_state, sum(count_customers) as n from marts.portfolio_transitions
        where from_state <> 'none' group by 1, 2""",
    )
    merged = counts.merge(
        moves,
        left_on=["month_end_date", "cpm_state"],
        right_on=["previous_date", "from_state"],
        how="outer",
        suffixes=("_state", "_out"),
    )
    last = counts["month_end_date"].max()
    merged = merged[merged["month_end_date"] != last]  # the last date has no next period
    assert (merged["n_state"] == merged["n_out"]).all(), merged[merged["n_state"] != merged["n_out"]]


def test_f2_rates_match_an_independent_computation(warehouse):
    as_of = pd.Timestamp(warehouse.as_of)
    p = _purchases(warehouse.db)
    p["k"] = p.groupby("customer_id").cumcount() + 1
    first = p[p.k == 1].set_index("customer_id")["order_date"]
    second = p[p.k == 2].set_index("customer_id")["order_date"].reindex(first.index)
    days = (second - first).dt.days
    channel = (
        query(warehouse.db, "select customer_id, acquisition_channel from marts.dim_customers")
        .set_index("customer_id")["acquisition_channel"]
        .reindex(first.index)
    )
    f2 = query(
        warehouse.db,
        "select * from marts.f2_conversion where cohort_month = 'all' and first_category = 'all'",
    ).set_index("acquisition_channel")
    for ch in list(channel.unique()) + ["all"]:
        mask = pd.Series(True, index=first.index) if ch == "all" else channel == ch
        for n in (30, 60, 90, 180, 365):
            eligible = mask & (first <= as_of - pd.Timedelta(days=n))
            converted = eligible & (days <= n)
            assert f2.loc[ch, f"count_eligible_{n}d"] == eligible.sum(), (ch, n)
            assert f2.loc[ch, f"count_converted_{n}d"] == converted.sum(), (ch, n)
        assert f2.loc[ch, "count_first_buyers"] == mask.sum()
        median = days[mask].dropna().median()
        assert np.isclose(f2.loc[ch, "median_days_to_second_purchase"], median, equal_nan=True)


def test_dbt_unit_tests_pass(warehouse):
    proc = dbt(warehouse.db, ["test", "--select", "test_type:unit"], {"as_of_date": warehouse.as_of})
    summary = [line for line in proc.stdout.splitlines() if "Done. PASS=" in line][-1]
    passed = int(summary.split("PASS=")[1].split()[0])
    assert passed >= 10, summary
    assert "ERROR=0" in summary, summary
