"""定期 subscriptions end to end: planted retention recovered from contracts and from the inferred
path (subscribers rotate courses and switch flavours), the sBG projection of young cohorts against
what the generator later realises, subscribers predicted as contracts against what they later
bought, and the contract table's dedupe (a cancellation re-sent as a later version)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from orchestration.ingest.load import ingest
from orchestration.predict.fit import fit_warehouse
from orchestration.predict.sbg import fit_and_store
from orchestration.tests.conftest import dbt, query
from orchestration.tools.generate import generate

START = date(2024, 1, 1)
END = date(2025, 12, 31)
EARLY = "2025-06-30"
CUSTOMERS = 4000
CONTRACT_TABLES = (
    "orders",
    "order_items",
    "customers",
    "products",
    "events",
    "marketing_spend",
    "subscriptions",
)
INFERRED_TABLES = CONTRACT_TABLES[:-1]


@dataclass
class Built:
    db: Path
    planted: dict
    early_retention: pd.DataFrame | None = None
    early_fits: pd.DataFrame | None = None
    early_predictions: pd.DataFrame | None = None


def _build_and_fit(db: Path, as_of: str) -> None:
    dbt(db, ["build"], {"as_of_date": as_of})
    fit_warehouse(db)
    fit_and_store(db, as_of)
    dbt(db, ["build", "--select", "tag:fitted_parameters+"], {"as_of_date": as_of})


@pytest.fixture(scope="module")
def contract_shop(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("subs_contract")
    planted = generate(root / "landing", customers=CUSTOMERS, start=START, end=END, seed=11, tables=CONTRACT_TABLES)
    db = root / "warehouse.duckdb"
    ingest(root / "landing", db, verbose=False)
    # first as of an earlier date (young cohorts), then as of the end of the data
    _build_and_fit(db, EARLY)
    early = query(db, "select * from marts.subscription_retention")
    fits = query(db, "select * from model_fits.retention_fits")
    predictions = query(db, "select * from marts.customer_predictions")
    _build_and_fit(db, END.isoformat())
    return Built(db, planted, early, fits, predictions)


@pytest.fixture(scope="module")
def inferred_shop(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("subs_inferred")
    planted = generate(
        root / "landing",
        customers=CUSTOMERS,
        start=START,
        end=END,
        seed=11,
        tables=INFERRED_TABLES,
        subscription_ids_on_orders=False,
    )
    db = root / "warehouse.duckdb"
    ingest(root / "landing", db, verbose=False)
    _build_and_fit(db, END.isoformat())
    return Built(db, planted)


def _row(db: Path, channel: str, offer: str) -> pd.DataFrame:
    return query(
        db,
        f"""
        select * from marts.subscription_retention
        where cohort_month = 'all' and product_id = 'all'
            and acquisition_channel = '{channel}' and offer_code = '{offer}'
        order by delivery_number""",
    ).set_index("delivery_number")


def _within_sampling_error(observed: pd.DataFrame, planted: list[float], deliveries: range, slack: float) -> None:
    for n in deliveries:
        p, m = planted[n - 1], observed.loc[n, "count_eligible"]
        assert m >= 10, (n, m)
        tol = 3 * math.sqrt(p * (1 - p) / m) + slack
        assert abs(observed.loc[n, "retention_rate"] - p) <= tol, (
            n,
            observed.loc[n, "retention_rate"],
            p,
            tol,
        )


def _segment(planted: dict, offer: str, channel: str = "*") -> list[float]:
    return planted["subscriptions"]["segments"][f"{offer}|{channel}"]["retention"]


def test_contracts_deduped_and_counted(contract_shop: Built) -> None:
    subs = contract_shop.planted["subscriptions"]
    fct = query(contract_shop.db, "select * from marts.fct_subscriptions")
    assert len(fct) == subs["contracts"]
    assert not fct["is_inferred"].any()
    # every planted cancellation arrived as a later version and replaced the active row
    assert (fct["status"] == "cancelled").sum() == subs["cancelled"]
    assert fct.loc[fct["status"] == "cancelled", "cancel_reason"].notna().all()
    # each contract has its first delivery (orders carry subscription_id)
    assert (fct["count_deliveries"] >= 1).all()
    # `all` rows aggregate without double counting
    ret = query(contract_shop.db, "select * from marts.subscription_retention where delivery_number = 1")
    top = ret[(ret[["cohort_month", "acquisition_channel", "product_id", "offer_code"]] == "all").all(axis=1)]
    assert top["count_started"].item() == len(fct)
    by_offer = ret[
        (ret[["cohort_month", "acquisition_channel", "product_id"]] == "all").all(axis=1) & (ret["offer_code"] != "all")
    ]
    assert by_offer["count_started"].sum() == len(fct)


def test_planted_retention_by_offer_and_channel_from_contracts(contract_shop: Built) -> None:
    planted, db = contract_shop.planted, contract_shop.db
    deep = _row(db, "all", planted["subscriptions"]["deep_offer"])
    _within_sampling_error(deep, _segment(planted, "FIRST80OFF"), range(2, 5), 0.03)
    _within_sampling_error(_row(db, "line", "STANDARD"), _segment(planted, "STANDARD", "line"), range(2, 5), 0.03)
    _within_sampling_error(_row(db, "paid_search", "STANDARD"), _segment(planted, "STANDARD"), range(2, 7), 0.03)
    # the deep first-order discount churns after delivery 1-2
    standard = _row(db, "all", "STANDARD")
    assert deep.loc[3, "retention_rate"] < 0.25 < standard.loc[3, "retention_rate"] - 0.3


def test_planted_retention_by_channel_from_inferred_orders(inferred_shop: Built, contract_shop: Built) -> None:
    planted, db = inferred_shop.planted, inferred_shop.db
    fct = query(db, "select * from marts.fct_subscriptions")
    assert fct["is_inferred"].all() and (fct["offer_code"] == "none").all()
    # one inferred run per planted contract: monthly gaps never exceed 2 x the interval
    assert len(fct) == planted["subscriptions"]["contracts"]
    assert fct["interval_days"].between(26, 34).all()  # planted 30 +- 3 days
    deep, std, std_line = (
        _segment(planted, "FIRST80OFF"),
        _segment(planted, "STANDARD"),
        _segment(planted, "STANDARD", "line"),
    )
    shares = planted["subscriptions"]["deep_offer_share"]
    for channel, standard, cycles in (
        ("paid_social", std, range(2, 5)),
        ("paid_search", std, range(2, 6)),
        ("line", std_line, range(2, 5)),
    ):
        s = shares[channel]
        mixture = [s * d + (1 - s) * r for d, r in zip(deep, standard, strict=True)]
        _within_sampling_error(_row(db, channel, "none"), mixture, cycles, 0.04)
    # the inferred path agrees with the contract path on the same shop
    inferred_all, contract_all = _row(db, "all", "none"), _row(contract_shop.db, "all", "all")
    for n in range(2, 8):
        assert abs(inferred_all.loc[n, "retention_rate"] - contract_all.loc[n, "retention_rate"]) < 0.05


def test_projection_of_young_cohorts_matches_what_they_later_realise(contract_shop: Built) -> None:
    early, fits = contract_shop.early_retention, contract_shop.early_fits
    top = fits[(fits[["cohort_month", "acquisition_channel", "product_id", "offer_code"]] == "all").all(axis=1)]
    assert top["status"].item() == "fitted"
    # cohorts started in the last quarter before EARLY had not reached delivery 4 then
    young = early[
        early["cohort_month"].isin(["2025-04", "2025-05", "2025-06"])
        & (early[["acquisition_channel", "product_id", "offer_code"]] == "all").all(axis=1)
    ]
    young4 = young[young["delivery_number"] == 5]
    assert young4["is_projected"].all() and (young4["count_eligible"] == 0).all()
    curve = early[(early[["cohort_month", "acquisition_channel", "product_id", "offer_code"]] == "all").all(axis=1)]
    projected = curve.set_index("delivery_number")["projected_retention_rate"]
    realised = query(
        contract_shop.db,
        f"""
        select count_deliveries, eligible_deliveries from marts.fct_subscriptions
        where started_date between date '2025-04-01' and date '{EARLY}'""",
    )
    assert len(realised) >= 40
    for n in range(4, 7):
        eligible = realised[realised["eligible_deliveries"] >= n]
        rate = (eligible["count_deliveries"] >= n).mean()
        p = projected.loc[n]
        tol = 3 * math.sqrt(p * (1 - p) / len(eligible)) + 0.05
        assert abs(rate - p) <= tol, (n, rate, p, tol, len(eligible))


def test_small_groups_get_no_projection(contract_shop: Built) -> None:
    fits = query(contract_shop.db, "select * from model_fits.retention_fits")
    small = fits[fits["count_subscriptions"] < 30]
    assert len(small) and (small["status"] == "too_little_data").all() and small["alpha"].isna().all()
    ret = query(contract_shop.db, "select * from marts.subscription_retention where cohort_month = 'all'")
    # a `geometric` group (no heterogeneity: the sBG's limit) is projected as well
    fitted = fits[fits["status"].isin(["fitted", "geometric"])][["acquisition_channel", "product_id", "offer_code"]]
    merged = ret.merge(
        fitted.assign(has_fit=True),
        how="left",
        on=["acquisition_channel", "product_id", "offer_code"],
    )
    assert merged.loc[merged["has_fit"].isna(), "projected_retention_rate"].isna().all()
    assert merged.loc[merged["has_fit"].notna(), "projected_retention_rate"].notna().all()


def test_subscribers_predicted_as_contracts_match_what_they_bought(contract_shop: Built) -> None:
    # as of EARLY, a customer with an active 定期 is predicted from the subscription's survival and
    # cycle; what those customers bought in the next 30 and 90 days (deliveries and other
    # purchases, purchase days) comes from the warehouse built at the end of the data
    early = contract_shop.early_predictions
    subscribers = early[early["is_subscriber"]]
    assert len(subscribers) >= 50
    bought = query(
        contract_shop.db,
        f"""
        select customer_id,
            count(distinct case when order_date <= date '{EARLY}' + interval 30 day then order_date end) as d30,
            count(distinct order_date) as d90
        from intermediate.int_orders_enriched
        where is_purchase and order_date > date '{EARLY}' and order_date <= date '{EARLY}' + interval 90 day
        group by customer_id""",
    ).set_index("customer_id")
    actual = bought.reindex(subscribers["customer_id"], fill_value=0)
    for days, column in ((30, "d30"), (90, "d90")):
        predicted = subscribers[f"expected_purchases_{days}d"].sum()
        error = predicted / actual[column].sum() - 1
        print(f"subscribers, {days} days: predicted {predicted:.0f}, bought {actual[column].sum()} ({error:+.1%})")
        assert abs(error) <= 0.10, (days, predicted, actual[column].sum())
    # a subscriber's churn score is the chance of neither a delivery nor another purchase: low
    assert (subscribers["churn_risk"] == "low").mean() > 0.8
