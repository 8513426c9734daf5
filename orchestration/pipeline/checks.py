"""Great Expectations checks on the marts after the build, as Dagster asset checks.

Two check steps, one per dbt step (orchestration/pipeline/assets.py): `mart_quality_checks` on the marts of
`dbt_warehouse`, `fitted_mart_quality_checks` on those of `dbt_predictions`. One step over both
would be a cycle: a blocking check on customer_rfm must run before dim_customers is built, and a
check on dim_customers after. A check reads only marts of its own step.

Here: row counts against the last published run (a comparison across runs, which dbt cannot
see) and the rate bounds of every mart in one GX validation with Data Docs. Rules over the marts
themselves are dbt data tests, run in the dbt steps as asset checks (CPM
conservation: tests/assert_cpm_transitions_conserve.sql; spend reconciliation:
tests/assert_spend_reconciles.sql; one loyalty tier per purchaser:
tests/assert_every_purchaser_in_one_tier.sql and the tests on customer_rfm's yml).

Each check reads marts through a read-only DuckDB connection into pandas and validates them with a
GX suite (orchestration/quality/gx.py); results carry failing counts and a sample. ERROR checks are
blocking: when one fails, `published_marts` does not run in that run, BI keeps the previous marts
and the run shows why. WARN checks publish but stay visible.
"""

import json
import os
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.pipeline.assets import (
    MART_KEYS,
    WAREHOUSE_POOL,
    dbt_predictions,
    transient_retry,
)
from orchestration.pipeline.resources import WarehouseResource
from orchestration.progress import stage
from orchestration.publish.publish import previous_manifest

# rate columns (fractions 0..1) per mart
RATE_COLUMNS = {
    "f2_conversion": ["f2_rate_30d", "f2_rate_60d", "f2_rate_90d", "f2_rate_180d", "f2_rate_365d"],
    "funnel_daily": [
        "product_view_rate",
        "add_to_cart_rate",
        "checkout_start_rate",
        "purchase_rate",
        "conversion_rate",
        "cart_abandonment_rate",
    ],
    "channel_acquisition": ["f2_rate_90d"],
    "kpi_daily": ["repeat_rate", "conversion_rate", "cart_abandonment_rate"],
    "kpi_monthly": ["repeat_rate", "conversion_rate", "cart_abandonment_rate"],
    "portfolio_transitions": ["share_of_from_state"],
    "second_purchase_timing": ["share_of_second_purchases"],
    "loyalty_tier_profile": ["share_of_customers"],
    "product_affinity": ["support", "confidence", "customer_support", "customer_confidence"],
    "next_product": ["share"],
    "product_portfolio": ["revenue_share"],
    "subscription_retention": ["retention_rate", "projected_retention_rate"],
    "subscription_conversion": [
        "conversion_rate_30d",
        "conversion_rate_90d",
        "conversion_rate_180d",
    ],
    "subscription_cancel_reasons": ["share_of_cancellations"],
    "customer_predictions": ["p_alive", "churn_score"],
    "clv_model_validation": [
        "top_decile_revenue_share",
        "auc_churn_score",
        "auc_recency_baseline",
        "auc_bgnbd_churn_score",
    ],
}
ROW_COUNT_MAX_RATIO = float(os.environ.get("CRM_ROW_COUNT_MAX_RATIO", "3.0"))


def _read(warehouse: WarehouseResource, sql: str) -> pd.DataFrame:
    """Run ``sql`` on the warehouse, read-only (the step holds its read lock)."""
    con = duckdb.connect(warehouse.database, read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


CHECK_SPECS = (
    [
        dg.AssetCheckSpec(
            "rates_within_0_1",
            asset=MART_KEYS[m],
            blocking=True,
            description=f"GX: {', '.join(cols)} lie in 0..1.",
        )
        for m, cols in RATE_COLUMNS.items()
    ]
    # blocking so that publishing waits for it (it compares with the last published counts); its
    # severity is WARN, and a WARN failure never blocks
    + [
        dg.AssetCheckSpec(
            "row_count_stable",
            asset=key,
            blocking=True,
            description=f"GX: row count within x{ROW_COUNT_MAX_RATIO:g} of the last published run (warning).",
        )
        for key in MART_KEYS.values()
    ]
)


def _per_mart(outcome, marts: list[str]) -> dict[str, list]:
    """Failures of a long-format validation (one row per mart x value) split by mart."""
    by_mart: dict[str, list] = {m: [] for m in marts}
    for failure in outcome.failures:
        for row in failure.unexpected_index:
            by_mart.setdefault(row.get("mart"), []).append(row)
    return by_mart


def _mart_result(name: str, mart: str, failing: list, outcome, severity, ok_text: str, bad_text: str):
    meta = {"rows_checked": outcome.rows, "failing_values": len(failing)}
    if failing:
        meta["failing_sample"] = json.dumps(failing[:5], ensure_ascii=False, default=str)
    if outcome.docs_url:
        meta["gx_data_docs"] = outcome.docs_url
    return dg.AssetCheckResult(
        asset_key=MART_KEYS[mart],
        check_name=name,
        passed=not failing,
        severity=severity,
        description=ok_text if not failing else f"{bad_text} ({len(failing)} failing values)",
        metadata=meta,
    )


FITTED_KEYS = set(dbt_predictions.keys)


def _check_step(name: str, specs: list[dg.AssetCheckSpec]) -> dg.AssetChecksDefinition:
    # in the warehouse pool and under the warehouse's read lock like every step that opens the
    # file: a read-only connection fails while another run's step has it open for writing
    @dg.multi_asset_check(specs=specs, can_subset=True, name=name, pool=WAREHOUSE_POOL, retry_policy=transient_retry)
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        started = time.perf_counter()
        stage("checks", f"GX checks ({name})", started)
        from orchestration.quality.gx import one_docs_build

        with warehouse.read_lock(), one_docs_build(Path(warehouse.gx)):
            results = list(_mart_quality_results(context, warehouse))
        bad = [r for r in results if not r.passed]
        stage("checks", f"{len(results)} GX checks, {len(bad)} not passed", started)
        yield from results

    return _checks


mart_quality_checks = _check_step("mart_quality_checks", [s for s in CHECK_SPECS if s.asset_key not in FITTED_KEYS])
fitted_mart_quality_checks = _check_step(
    "fitted_mart_quality_checks", [s for s in CHECK_SPECS if s.asset_key in FITTED_KEYS]
)
MART_CHECKS = [mart_quality_checks, fitted_mart_quality_checks]


def _mart_quality_results(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    import great_expectations.expectations as gxe

    from orchestration.quality.gx import validate

    root = Path(warehouse.gx)
    selected = context.selected_asset_check_keys

    def wanted(name: str, mart: str) -> bool:
        return dg.AssetCheckKey(MART_KEYS[mart], name) in selected

    # every rate of every mart in one long frame (mart, column, value): one GX validation
    rate_marts = [m for m in RATE_COLUMNS if wanted("rates_within_0_1", m)]
    if rate_marts:
        frames = []
        for mart in rate_marts:
            wide = _read(warehouse, f"select {', '.join(RATE_COLUMNS[mart])} from marts.{mart}")
            long = wide.melt(var_name="column", value_name="value").dropna()
            long.insert(0, "mart", mart)
            frames.append(long)
        rates = pd.concat(frames, ignore_index=True).reset_index(names="row")
        outcome = validate(
            "mart_rates",
            rates,
            [gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=1)],
            root,
            index_columns=["mart", "column"],
        )
        failing = _per_mart(outcome, rate_marts)
        for mart in rate_marts:
            yield _mart_result(
                "rates_within_0_1",
                mart,
                failing[mart],
                outcome,
                dg.AssetCheckSeverity.ERROR,
                "Every rate lies in 0..1.",
                "Rates outside 0..1",
            )

    count_marts = [m for m in MART_KEYS if wanted("row_count_stable", m)]
    if count_marts:
        before = (previous_manifest(Path(warehouse.publish)) or {}).get("row_counts", {})
        counts = pd.DataFrame(
            [
                {
                    "mart": m,
                    "rows_now": int(_read(warehouse, f"select count(*) as n from marts.{m}")["n"][0]),
                    "rows_before": before.get(m),
                }
                for m in count_marts
            ]
        )
        counts["ratio"] = [
            (max(n, 1) / max(b, 1)) if b is not None else 1.0 for n, b in zip(counts["rows_now"], counts["rows_before"])
        ]
        outcome = validate(
            "mart_row_counts",
            counts,
            [
                gxe.ExpectColumnValuesToBeBetween(
                    column="ratio", min_value=1 / ROW_COUNT_MAX_RATIO, max_value=ROW_COUNT_MAX_RATIO
                ),
            ],
            root,
            index_columns=["mart"],
        )
        failing = _per_mart(outcome, count_marts)
        for row in counts.itertuples():
            yield _mart_result(
                "row_count_stable",
                row.mart,
                failing[row.mart],
                outcome,
                dg.AssetCheckSeverity.WARN,
                f"{row.rows_now} rows (last published: {row.rows_before}).",
                f"{row.rows_now} rows against {row.rows_before} last published",
            )
