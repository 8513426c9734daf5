"""The CLV fit as a Dagster asset between the two dbt steps: its check, and a failed fit that
publishes no predictions while every other mart publishes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from orchestration.assets import CLV_FITS_KEY, FITTED_SELECTOR, dbt_fitted
from orchestration.generate import generate
from orchestration.predict import bgnbd
from orchestration.tests.conftest import query
from orchestration.tests.test_dagster import ALL, _checks, _materialize, _warehouse

END = "2025-06-30"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("predict_dagster_landing")
    generate(root, customers=400, start=date(2024, 1, 1), end=date(2025, 6, 30), seed=23, bad_share=0.0,
             dropouts=20)
    return root


def _published(wh, table: str):
    return query(Path(wh.publish) / "crm_marts.duckdb", f"select * from marts.{table}")


def test_fit_runs_between_the_dbt_steps_and_publishes_predictions(landing, tmp_path):
    assert FITTED_SELECTOR == "tag:fitted_parameters+"
    fitted_models = {k.path[-1] for k in dbt_fitted.keys}
    assert {"customer_predictions", "clv_model", "clv_model_validation", "dim_customers"} <= fitted_models
    wh = _warehouse(tmp_path, landing)
    result = _materialize(wh, END, assets=ALL)
    assert result.success
    check = _checks(result)[("clv_fits", "clv_fit_converged")]
    assert check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert CLV_FITS_KEY in materialized
    model = _published(wh, "clv_model")
    assert set(model.status) == {"fitted"}, model.status_reason.tolist()
    preds = _published(wh, "customer_predictions")
    assert len(preds) > 0 and preds.p_alive.between(0, 1).all()
    assert _published(wh, "dim_customers").p_alive.notna().sum() == len(preds)


def test_a_failed_fit_fails_its_error_check_and_publishes_no_predictions(landing, tmp_path, monkeypatch):
    monkeypatch.setattr(bgnbd, "fit_bgnbd",
                        lambda *a, **k: bgnbd.FitResult(False, None, None, "BG/NBD fit did not converge: test"))
    wh = _warehouse(tmp_path, landing)
    result = _materialize(wh, END, assets=ALL)
    check = _checks(result)[("clv_fits", "clv_fit_converged")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "did not converge" in check.description
    # no prediction numbers are published; every other mart is, fresh for this day
    model = _published(wh, "clv_model")
    assert set(model.status) == {"failed"} and model.r.isna().all()
    assert len(_published(wh, "customer_predictions")) == 0
    assert _published(wh, "dim_customers").p_alive.isna().all()
    assert len(_published(wh, "fct_orders")) > 0 and len(_published(wh, "kpi_daily")) > 0
