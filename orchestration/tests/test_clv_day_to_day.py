"""The CLV fits from one day to the next: a fit that converged yesterday converges today on a few
more orders; today's optimiser also starts from yesterday's stored parameters; the result stays
the maximum-likelihood fit."""

from __future__ import annotations

from datetime import date, timedelta
from unittest import mock

import duckdb
import numpy as np

from orchestration.ingest.load import ingest
from orchestration.predict import bgnbd
from orchestration.predict.fit import fit_warehouse, stored_fits
from orchestration.tests.conftest import dbt
from orchestration.tools.generate import generate

# a 300-customer sample shop of two years on which the calibration Gamma-Gamma fit runs to p's
# bound (order values with no spread around each customer's mean) on both days: once it failed on
# the second day. (The shop of seed 2 had the fit converge inside on the first day and run to the
# bound on the second, before 定期 deliveries left the BG/NBD and Gamma-Gamma inputs; no small
# seed gives that sequence since.)
END = date(2026, 12, 6)
SEED = 5


def _calibration_values(db) -> tuple[np.ndarray, np.ndarray]:
    with duckdb.connect(str(db), read_only=True) as con:
        df = con.execute(
            "select cal_x, cal_mean_repeat_value from intermediate.int_clv_inputs "
            "where in_calibration and cal_x > 0 and cal_mean_repeat_value > 0"
        ).df()
    return df.cal_x.to_numpy(float), df.cal_mean_repeat_value.to_numpy(float)


def test_a_fit_that_converged_yesterday_converges_today_on_a_few_more_orders(tmp_path):
    landing, db = tmp_path / "landing", tmp_path / "w.duckdb"
    generate(landing, customers=300, start=END - timedelta(days=729), end=END, seed=SEED)
    starts_seen = []
    real_fit_bgnbd = bgnbd.fit_bgnbd

    def spy(*args, **kwargs):
        starts_seen.append(list(kwargs.get("starts", [])))
        return real_fit_bgnbd(*args, **kwargs)

    stored, first_day = {}, None
    for day in (END - timedelta(days=1), END):
        ingest(landing, db, up_to=day, verbose=False)
        dbt(
            db,
            [
                "build",
                "--select",
                "+int_clv_inputs",
                "--exclude-resource-type",
                "test",
                "--exclude-resource-type",
                "unit_test",
            ],
            {"as_of_date": day.isoformat()},
        )
        starts_seen.clear()
        with mock.patch.object(bgnbd, "fit_bgnbd", side_effect=spy):
            outcomes = fit_warehouse(db, day)
        assert [(o.fit, o.status) for o in outcomes] == [
            ("full", "fitted"),
            ("calibration", "fitted"),
        ], [o.reason for o in outcomes]
        # the first day starts from the default only; the second also from the first day's fits
        assert starts_seen == [[stored[f].bgnbd] if f in stored else [] for f in ("full", "calibration")]
        with duckdb.connect(str(db), read_only=True) as con:
            stored = stored_fits(con)
        assert {f: o.bgnbd for f, o in stored.items()} == {o.fit: o.bgnbd for o in outcomes}
        first_day = first_day or outcomes

    # today's calibration Gamma-Gamma is the maximum: higher than yesterday's parameters and than
    # the default start's optimum on today's values; the likelihood rises to p's bound, the fit
    # says so
    x, m = _calibration_values(db)
    today = outcomes[1]
    assert "converged at p = 100000" in today.reason

    def log_likelihood(params) -> float:
        return float(np.sum(bgnbd.gamma_gamma_log_likelihood(bgnbd.GammaGammaParams(*params), x, m)))

    assert abs(log_likelihood(today.gamma_gamma) - today.gg_log_likelihood) < 1e-6
    assert log_likelihood(first_day[1].gamma_gamma) < today.gg_log_likelihood
    for p in (1.0, 5.0, 50.0, 1000.0):  # profile in p: every interior point is lower
        best_inner = max(
            log_likelihood((p, q, g)) for q in np.geomspace(1.05, 50, 60) for g in np.geomspace(1e-1, 1e6, 120)
        )
        assert best_inner < today.gg_log_likelihood
    scores = today.scores
    assert len(scores) > 0 and np.all(np.isfinite(scores.expected_purchases_holdout))
