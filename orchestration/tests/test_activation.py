"""One-to-One activation on the shared generated shop (built with the fits, as the daily job
does): offers, audiences, entries, holdout, exports. Expected values are recomputed here from
the facts, independently of the SQL."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pandas as pd
import pytest

from orchestration.activation.contact_log import log_day, rebuild_marts
from orchestration.activation.exports import (
    EXPORT_COLUMNS,
    audit_exports,
    holdout_bucket,
    write_exports,
)
from orchestration.ingest.load import ingest
from orchestration.settings import PROJECT_DIR, dbt_var, refresh
from orchestration.tests.conftest import build_with_fits, copy_warehouse, dbt, query
from orchestration.tools.generate import generate


def test_no_intermediate_model_reads_a_mart():
    """Layers (decision 107): an intermediate model reads staging, intermediate models and seeds,
    never a mart; the audiences' features and the offer steps included."""
    models = PROJECT_DIR / "models"
    layer = {path.stem: path.relative_to(models).parts[0] for path in models.rglob("*.sql")}
    assert {"int_activation_features", "int_offer_profile_scores", "customer_offers"} <= set(layer)
    offenders = [
        f"{path.relative_to(models)} reads {name}"
        for path in sorted((models / "intermediate").rglob("*.sql"))
        for name in re.findall(r"ref\(\s*['\"](\w+)['\"]", path.read_text())
        if layer.get(name) == "marts"
    ]
    assert offenders == []


def test_no_one_off_category_is_offered_to_an_owner_nor_a_product_inside_its_cycle(warehouse):
    offers = query(warehouse.db, "select customer_id, product_id, category from marts.customer_offers")
    assert len(offers) > 0 and offers.groupby("customer_id").size().max() == 2
    lines = query(
        warehouse.db,
        "select customer_id, product_id, category, order_date "
        "from intermediate.int_purchase_lines where customer_id is not null",
    )
    one_off = set(query(warehouse.db, "select category from seeds.product_categories where is_one_off")["category"])
    owned_one_off = set(map(tuple, lines[lines.category.isin(one_off)][["customer_id", "category"]].values))
    assert one_off, "the generator plants a one-off category"
    assert not [o for o in offers.itertuples() if (o.customer_id, o.category) in owned_one_off]
    # the usual repurchase cycle: median days between a customer's purchases of a product
    days = lines[["customer_id", "product_id", "order_date"]].drop_duplicates().sort_values("order_date")
    days["gap"] = days.groupby(["customer_id", "product_id"])["order_date"].diff().dt.days
    cycle = days.dropna().groupby("product_id")["gap"].median()
    last = days.groupby(["customer_id", "product_id"])["order_date"].max()
    as_of = pd.Timestamp(warehouse.as_of)
    for o in offers.itertuples():
        if (o.customer_id, o.product_id) in last.index:
            since = (as_of - last[(o.customer_id, o.product_id)]).days
            assert since >= cycle.get(o.product_id, dbt_var("offer_default_cycle_days")), o


def test_nurture_entries_fall_on_first_purchase_plus_7_days(warehouse):
    entries = query(
        warehouse.db,
        """
        select a.customer_id, d.first_purchase_date, d.count_purchases
        from marts.customer_audiences as a join marts.dim_customers as d using (customer_id)
        where a.audience = 'second_purchase_nurture'""",
    )
    as_of = date.fromisoformat(warehouse.as_of)
    assert len(entries) > 0
    assert (pd.to_datetime(entries.first_purchase_date).dt.date == as_of - timedelta(days=7)).all()
    assert (entries.count_purchases == 1).all()
    # and every such customer is in it (or in an audience of higher priority)
    candidates = query(
        warehouse.db,
        f"""
        select customer_id from marts.dim_customers
        where count_purchases = 1 and first_purchase_date = date '{as_of - timedelta(days=7)}'""",
    )
    audiences = query(warehouse.db, "select customer_id, priority from marts.customer_audiences")
    assert set(candidates.customer_id) <= set(audiences.customer_id)


def test_a_day_computes_todays_and_yesterdays_membership_only(warehouse):
    """Earlier days' entries are read from the contact log (decision 135): the features and the
    membership hold as_of_date and the day before; the lookback window is only in the views a
    warehouse without a log reconstructs from."""
    as_of = date.fromisoformat(warehouse.as_of)
    for model in ("int_activation_features", "int_audience_membership"):
        days = query(warehouse.db, f"select distinct feature_date from intermediate.{model}").feature_date
        assert sorted(days.dt.date) == [as_of - timedelta(days=1), as_of], model
    window = query(warehouse.db, "select min(feature_date) as first from intermediate.int_reconstructed_features")
    assert window.first[0].date() == as_of - timedelta(days=dbt_var("activation_lookback_days"))


def test_holdout_is_the_stable_hash_and_near_its_share(warehouse):
    members = query(
        warehouse.db,
        "select distinct customer_id, audience from intermediate.int_audience_membership",
    )
    today = query(warehouse.db, "select customer_id, audience, is_holdout from marts.customer_audiences")
    share = dbt_var("activation_holdout_share")
    expected = [holdout_bucket(c, a) < share * 10000 for c, a in zip(today.customer_id, today.audience, strict=True)]
    assert list(today.is_holdout) == expected  # SQL and Python give the same hash
    assert len(members) > 500
    # over every known customer x audience the hash holds out the var's share, within 1 point
    customers = query(warehouse.db, "select customer_id from staging.stg_shop__customers")["customer_id"]
    audiences = query(warehouse.db, "select audience from seeds.activation_audiences")["audience"]
    held = [holdout_bucket(c, a) < share * 10000 for c in customers for a in audiences]
    assert len(held) > 5000
    assert abs(sum(held) / len(held) - share) < 0.01


def test_p_alive_of_the_features_equals_the_fitted_models(warehouse):
    # the SQL closed form (macros/customer_rules.sql) against the Python fit's scores at as_of
    both = query(
        warehouse.db,
        f"""
        select f.customer_id, f.p_alive as sql_p_alive, p.p_alive as python_p_alive,
            f.churn_risk as sql_churn_risk, p.churn_risk as python_churn_risk
        from intermediate.int_activation_features as f
        join marts.customer_predictions as p using (customer_id)
        where f.feature_date = date '{warehouse.as_of}'""",
    )
    assert len(both) > 500
    assert (both.sql_p_alive - both.python_p_alive).abs().max() < 1e-9
    # the churn band the audiences read is the predictions' (subscribers included)
    assert (both.sql_churn_risk == both.python_churn_risk).all()


EDITED_RULES = [  # (audience, rule_group, feature, operator, value): other rules than the seed's
    ("cart_follow_up", 1, "abandoned_cart_yesterday", "=", "1"),
    ("move_up", 1, "loyalty_tier", "in", "loyal|semi_loyal"),
    ("move_up", 1, "days_since_last_purchase", "<=", "30"),
    ("loyal_at_risk", 1, "cpm_status", "!=", "active"),
    ("loyal_at_risk", 1, "cpm_segment", "=", "loyal"),
    ("win_back", 1, "p_alive", "<", "0.3"),
    ("win_back", 1, "purchases", ">=", "2"),
    ("win_back", 2, "lifetime_revenue", ">", "30000"),
    (
        "second_purchase_nurture",
        1,
        "cpm_status",
        "<",
        "b",
    ),  # a text feature takes = != in: never holds
    ("ghost", 1, "purchases", ">=", "1"),  # no row in activation_audiences: never matches
]


def _holds(value, operator: str, target: str) -> bool:
    if value is None or pd.isna(value):
        return False
    if isinstance(value, str):
        return {"=": value == target, "!=": value != target, "in": value in target.split("|")}.get(operator, False)
    number = float(target)
    return {
        "=": value == number,
        "!=": value != number,
        "<": value < number,
        "<=": value <= number,
        ">": value > number,
        ">=": value >= number,
    }[operator]


def test_an_edited_audience_seed_is_applied_on_the_next_run(warehouse, tmp_path):
    """int_audience_membership writes the seed's rules into its SQL when it runs (decision
    101). On a copy of the warehouse, other rules replace the seed's rows (features the default
    seed does not use, a text list, `!=`, two rule groups, a malformed condition, an audience
    without a priority); the model runs again, and its rows are the rules evaluated here, over the
    same features, first match by priority. The seed's test names the malformed row."""
    db = tmp_path / "warehouse.duckdb"  # the views name their catalog: keep the file's name
    copy_warehouse(warehouse.db, db)
    con = duckdb.connect(str(db))
    con.execute("delete from seeds.activation_audience_rules")
    con.executemany("insert into seeds.activation_audience_rules values (?, ?, ?, ?, ?)", EDITED_RULES)
    priority = dict(con.execute("select audience, priority from seeds.activation_audiences").fetchall())
    con.close()
    dbt(db, ["run", "--select", "int_audience_membership"], {"as_of_date": warehouse.as_of})

    features = query(db, "select * from intermediate.int_activation_features")
    groups: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
    for audience, group, feature, operator, value in EDITED_RULES:
        if audience in priority:
            groups.setdefault((priority[audience], group), []).append((feature, operator, value))
    audience_of = {p: a for a, p in priority.items()}
    expected = set()
    for row in features.to_dict("records"):
        for (p, _), conditions in sorted(groups.items()):
            if all(_holds(row[f], o, v) for f, o, v in conditions):
                expected.add((row["customer_id"], row["feature_date"].date(), audience_of[p], p))
                break
    members = query(
        db,
        "select customer_id, feature_date, audience, priority from intermediate.int_audience_membership",
    )
    got = {(r.customer_id, r.feature_date.date(), r.audience, r.priority) for r in members.itertuples()}
    assert got == expected
    counts = members.audience.value_counts()
    assert {"cart_follow_up", "move_up", "loyal_at_risk", "win_back"} <= set(counts.index), counts
    assert "second_purchase_nurture" not in counts.index and "ghost" not in counts.index

    seed_test = dbt(
        db,
        ["test", "--select", "assert_audience_rules_are_well_formed"],
        {"as_of_date": warehouse.as_of},
        check=False,
    )
    assert seed_test.returncode != 0
    assert "Got 1 result" in seed_test.stdout


def test_exports_carry_only_consented_entries_and_are_byte_identical_on_rerun(warehouse, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    counts = write_exports(warehouse.db, first, warehouse.as_of)
    write_exports(warehouse.db, second, warehouse.as_of)
    assert set(counts) == {"line", "email"} and sum(counts.values()) > 0
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
    assert audit_exports(warehouse.db, first) == []
    # one file per channel, none for a channel without entries today (no header-only files)
    assert sorted(p.name for p in first.glob("*.csv")) == sorted(f"{c}.csv" for c, n in counts.items() if n)
    rows = pd.concat([pd.read_csv(p, encoding="utf-8-sig") for p in first.glob("*.csv")])
    assert list(rows.columns) == EXPORT_COLUMNS and (first / "line.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    for path in first.glob("*.csv"):
        assert set(pd.read_csv(path, encoding="utf-8-sig").channel) == {path.stem}
    # offers carry the product's name; reasons are sentences without internal references
    names = query(warehouse.db, "select product_id, product_name from staging.stg_shop__products")
    named = rows.dropna(subset=["offer_1_product_id"]).merge(names, left_on="offer_1_product_id", right_on="product_id")
    assert len(named) > 0 and (named.offer_1_product_name == named.product_name).all()
    assert not rows.reason.str.contains(r"\(text \d+\)").any() and rows.reason.str.endswith(".").all()
    consent = query(
        warehouse.db,
        "select customer_id, line_opt_in, email_opt_in from staging.stg_shop__customers",
    )
    joined = rows.merge(consent, on="customer_id", how="left", validate="many_to_one")
    line, email = (joined[c].astype("boolean").fillna(False).astype(bool) for c in ("line_opt_in", "email_opt_in"))
    assert (((joined.channel == "line") & line) | ((joined.channel == "email") & email)).all()
    # an export with a personal-data column or a customer without consent is refused
    bad = tmp_path / "bad"
    shutil.copytree(first, bad)
    frame = pd.read_parquet(bad / "line.parquet")
    frame.assign(email="someone@example.com").to_parquet(bad / "line.parquet")
    refused = ~consent.line_opt_in.astype("boolean").fillna(False) & ~consent.email_opt_in.astype("boolean").fillna(
        False
    )
    no_consent = consent[refused.astype(bool)].customer_id.iloc[0]
    frame.head(1).assign(customer_id=no_consent, channel="email").to_parquet(bad / "email.parquet")
    problems = audit_exports(warehouse.db, bad)
    assert any("line.parquet: columns not allowed in an export: email" in p for p in problems)
    assert any(p.startswith("email.parquet") and "has no consent for its channel" in p for p in problems)


@pytest.mark.slow  # builds a second shop
def test_a_backfilled_day_gives_the_entries_that_day_had(warehouse, tmp_path):
    """A run on day D saw the files up to D; a backfill of D runs later, on a warehouse that has
    loaded every file since. Both give the same audiences, entries, offers and lift."""
    day = date.fromisoformat(warehouse.as_of) - timedelta(days=3)
    that_day = tmp_path / "that_day.duckdb"
    ingest(warehouse.landing, that_day, up_to=day, verbose=False)
    build_with_fits(that_day, str(day))
    backfill = tmp_path / "backfill.duckdb"
    copy_warehouse(warehouse.db, backfill)  # every file loaded
    build_with_fits(backfill, str(day))
    for db in (that_day, backfill):  # a warehouse without a log: the day's window is reconstructed
        log_day(db, str(day))
        rebuild_marts(db, str(day))
    for mart in ("customer_audiences", "customer_offers", "audience_lift"):
        then = query(that_day, f"select * from marts.{mart}")
        now = query(backfill, f"select * from marts.{mart}")
        assert len(then) > 0, mart
        pd.testing.assert_frame_equal(
            now.sort_values(list(now.columns)).reset_index(drop=True),
            then.sort_values(list(then.columns)).reset_index(drop=True),
            obj=mart,
        )
    assert query(backfill, "select count(*) as n from marts.customer_audiences where is_entry")["n"][0] > 0


@pytest.fixture(scope="module")
def campaign_shop(tmp_path_factory) -> tuple[Path, dict]:
    """A shop where contacted nurture customers (not held out, with consent) buy again within 7
    days of their entry with a planted probability; held-out ones do not."""
    root = tmp_path_factory.mktemp("campaign")
    planted = generate(
        root / "landing",
        customers=3000,
        start=date(2024, 7, 1),
        end=date(2025, 6, 30),
        seed=5,
        campaign_response=0.5,
    )
    db = root / "w.duckdb"
    ingest(root / "landing", db, verbose=False)
    build_with_fits(db, "2025-06-30", {"activation_lookback_days": 180})
    with mock.patch.dict(os.environ, {"CRM_CONFIG": str(_lookback_settings(root, 180))}):
        refresh()
        log_day(db, "2025-06-30")  # the log's lookback window: reconstructed from the data
        rebuild_marts(db, "2025-06-30")
    refresh()
    return db, planted


def _lookback_settings(root: Path, days: int) -> Path:
    path = root / "shop.yml"
    path.write_text(f"vars:\n  activation_lookback_days: {days}\n")
    return path


def test_the_lift_mart_recovers_the_planted_campaign_effect(campaign_shop):
    db, planted = campaign_shop
    assert planted["campaign"]["extra_orders"] > 100
    rows = query(
        db,
        "select * from marts.audience_lift where audience = 'second_purchase_nurture' and window_days = 7",
    )
    n_c, n_h = rows.count_contacted.sum(), rows.count_holdout.sum()
    conv_c = (rows.conversion_contacted * rows.count_contacted).sum() / n_c
    conv_h = (rows.conversion_holdout.fillna(0) * rows.count_holdout).sum() / n_h
    assert n_h > 30 and abs(n_h / (n_c + n_h) - dbt_var("activation_holdout_share")) < 0.03
    lift = conv_c - conv_h
    half = 1.96 * (conv_c * (1 - conv_c) / n_c + conv_h * (1 - conv_h) / n_h) ** 0.5
    # the planted extra purchase converts a contacted customer who would not have bought anyway
    expected = planted["campaign"]["response_probability"] * (1 - conv_h)
    assert lift - half <= expected <= lift + half, (lift, half, expected)
    assert lift - half > 0  # and the mart tells the shop the campaign earned something
    # each month's row carries its own interval around its own lift
    both = rows.dropna(subset=["lift"])
    assert ((both.lift_ci_low <= both.lift) & (both.lift <= both.lift_ci_high)).all()
