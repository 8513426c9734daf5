"""BG/NBD and Gamma-Gamma: the CDNOW published fit, hand-computed points, heavy buyers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration.predict import bgnbd
from orchestration.predict.fit import fit_inputs

CDNOW = Path(__file__).parent / "fixtures" / "cdnow" / "CDNOW_sample.txt"
PUBLISHED = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


def _cdnow_inputs(end: str = "1997-09-30") -> tuple[pd.DataFrame, pd.Series]:
    """Per-customer inputs in weeks exactly as int_clv_inputs builds them in days: same-day
    purchases are one transaction, the first day is not a repeat; plus holdout repeat counts."""
    df = pd.read_csv(
        CDNOW,
        sep=r"\s+",
        header=None,
        names=["id", "sid", "date", "cds", "value"],
        dtype={"date": str},
    )
    df["date"] = pd.to_datetime(df["date"])
    days = df.groupby(["sid", "date"], as_index=False)["value"].sum()
    cut = pd.Timestamp(end)
    cal = days[days.date <= cut]
    first = cal.groupby("sid").date.min()
    last = cal.groupby("sid").date.max()
    repeats = cal.merge(first.rename("first"), left_on="sid", right_index=True)
    repeats = repeats[repeats.date > repeats["first"]]
    inputs = pd.DataFrame(
        {
            "x": cal.groupby("sid").size() - 1,
            "t_x": (last - first).dt.days / 7,
            "big_t": (cut - first).dt.days / 7,
            "mean_repeat_value": repeats.groupby("sid").value.mean(),
        }
    )
    holdout = days[days.date > cut].groupby("sid").size().reindex(inputs.index, fill_value=0)
    return inputs, holdout


def test_cdnow_reproduces_the_published_fit():
    inputs, holdout = _cdnow_inputs()
    assert len(inputs) == 2357
    fit = fit_inputs(inputs, min_repeat_customers=1, min_history=1)
    assert fit.status == "fitted", fit.reason
    r, alpha, a, b = fit.bgnbd
    assert abs(r - 0.243) < 0.002 and abs(alpha - 4.414) < 0.002
    assert abs(a - 0.793) < 0.002 and abs(b - 2.426) < 0.002
    assert abs(fit.log_likelihood - (-9582.4)) < 0.1
    p, q, gamma = fit.gamma_gamma
    assert abs(p - 6.25) < 0.01 and abs(q - 3.74) < 0.01 and abs(gamma - 15.44) < 0.01
    # holdout: weeks 40-78 (1997-10-01 .. 1998-06-30, 39 weeks)
    assert holdout.sum() == 1882
    predicted = bgnbd.expected_purchases(bgnbd.BgNbdParams(*fit.bgnbd), 39, inputs.x, inputs.t_x, inputs.big_t)
    assert abs(predicted.sum() - 1882) / 1882 < 0.15


def test_p_alive_hand_computed():
    # x = 0: nobody is seen dropping out before a repeat purchase -> P(alive) = 1
    assert bgnbd.p_alive(PUBLISHED, 0, 0, 30) == pytest.approx(1.0)
    # x = 2, t_x = 30, T = 38: 1 / (1 + 0.793/3.426 * (42.414/34.414)^2.243) = 0.72998
    assert bgnbd.p_alive(PUBLISHED, 2, 30, 38) == pytest.approx(0.72998, abs=1e-5)
    # heavy buyer x = 200 who stopped long ago is dead; one still buying is alive
    by_hand = 1 / (1 + 0.793 / 201.426 * math.exp(200.243 * math.log(524.414 / 104.414)))
    assert bgnbd.p_alive(PUBLISHED, 200, 100, 520) == pytest.approx(by_hand, rel=1e-9)
    assert bgnbd.p_alive(PUBLISHED, 200, 520, 520) > 0.99


def _series_expected(t: float, x: float, t_x: float, big_t: float) -> float:
    """FHL eq. 10 summed term by term from the untransformed hypergeometric series, with the
    (1-z)^(r+x) factor carried in log space per term (an independent route)."""
    r, al, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    z = t / (al + big_t + t)
    log_term = (r + x) * math.log(1 - z)
    total = 0.0
    for k in range(200000):
        total += math.exp(log_term)
        log_term += math.log((r + x + k) * (b + x + k) / ((a + b + x - 1 + k) * (k + 1)) * z)
        if k > 10 and log_term < -60:
            break
    dead = 0.0 if x == 0 else a / (b + x - 1) * ((al + big_t) / (al + t_x)) ** (r + x)
    return (a + b + x - 1) / (a - 1) * (1 - total) / (1 + dead)


@pytest.mark.parametrize(
    "t, x, t_x, big_t",
    [
        (39, 0, 0, 30),
        (39, 2, 30, 38),
        (52, 20, 35, 38),
        (10, 200, 380, 390),
    ],
)
def test_expected_purchases_match_the_series(t, x, t_x, big_t):
    got = float(bgnbd.expected_purchases(PUBLISHED, t, x, t_x, big_t))
    assert got == pytest.approx(_series_expected(t, x, t_x, big_t), rel=1e-8)


def test_expected_purchases_hand_computed_new_customer():
    # x = 0, T = 0 is a customer just acquired: eq. 10 reduces to eq. 9, and for a small
    # horizon E[X(t)] ~ r t / alpha (every customer alive, Poisson rate r/alpha)
    assert float(bgnbd.expected_purchases(PUBLISHED, 39, 0, 0, 0)) == pytest.approx(
        float(bgnbd.expected_purchases_new(PUBLISHED, 39)), rel=1e-10
    )
    assert float(bgnbd.expected_purchases_new(PUBLISHED, 0.001)) == pytest.approx(0.243 * 0.001 / 4.414, rel=1e-3)


def test_heavy_buyers_and_ten_years_in_days_are_finite():
    per_day = bgnbd.BgNbdParams(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
    x = np.array([0, 1, 50, 200, 200])
    t_x = np.array([0, 100, 3000, 3640, 365])
    big_t = np.full(5, 3650.0)
    got = bgnbd.expected_purchases(per_day, 3650, x, t_x, big_t)
    alive = bgnbd.p_alive(per_day, x, t_x, big_t)
    assert np.all(np.isfinite(got)) and np.all(got >= 0) and np.all(np.isfinite(alive))
    # a 200-purchase customer still buying expects about rate x horizon, bounded by it
    assert 100 < got[3] < (0.243 + 200) / (per_day.alpha + 3650) * 3650
    assert got[4] < 1e-6  # stopped nine years ago


def test_gamma_gamma_refuses_zero_values():
    with pytest.raises(ValueError):
        bgnbd.fit_gamma_gamma([1, 2], [10.0, 0.0])
    params = bgnbd.GammaGammaParams(6.25, 3.74, 15.44)
    # E[M | x, m] = p (gamma + x m) / (p x + q - 1) by hand: 6.25 (15.44 + 2 x 30) / 15.24
    assert float(bgnbd.expected_value(params, 2, 30.0)) == pytest.approx(6.25 * 75.44 / 15.24)


@pytest.mark.parametrize("kappa", [50.0, 99.0])
def test_quadrature_agrees_with_the_hypergeometric_form(kappa):
    params = bgnbd.BgNbdParams(0.357, 29.19, 0.2428 * kappa, 0.7572 * kappa)
    t = np.array([30.0, 365.0, 3650.0, 365.0])
    x = np.array([0.0, 5.0, 200.0, 60.0])
    t_x = np.array([0.0, 300.0, 3600.0, 100.0])
    big_t = np.array([10.0, 400.0, 3650.0, 700.0])
    closed = bgnbd.expected_purchases(params, t, x, t_x, big_t)
    quad = bgnbd.expected_purchases_quadrature(params, t, x, t_x, big_t)
    np.testing.assert_allclose(quad, closed, rtol=1e-8, atol=1e-300)


def test_no_spread_in_dropout_stops_at_the_bound_and_predicts_finite_values():
    # every customer drops out with the same p = 0.25 after each purchase: the MLE runs to
    # a + b -> infinity; the fit stops at KAPPA_MAX, says so, and recovers p
    rng = np.random.default_rng(5)
    n, horizon = 3000, 700.0
    lam = rng.gamma(0.5, 1 / 10.0, n)
    first = rng.uniform(0, 300, n)
    xs, txs, ts = [], [], []
    for i in range(n):
        t_now, last, k = first[i], first[i], 0
        while True:
            t_now += rng.exponential(1 / lam[i])
            if t_now > horizon:
                break
            k, last = k + 1, t_now
            if rng.random() < 0.25:
                break
        xs.append(k)
        txs.append(last - first[i])
        ts.append(horizon - first[i])
    fit = bgnbd.fit_bgnbd(np.array(xs), np.array(txs), np.array(ts))
    assert fit.converged and "point mass" in fit.reason
    _, _, a, b = fit.params
    assert a + b == pytest.approx(bgnbd.KAPPA_MAX, rel=1e-3)
    assert a / (a + b) == pytest.approx(0.25, abs=0.03)
    got = bgnbd.expected_purchases(bgnbd.BgNbdParams(*fit.params), 3650, np.array(xs), np.array(txs), np.array(ts))
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize(
    "theta",
    [
        [np.log(0.243), np.log(4.414), 0.0, np.log(3.2)],
        [np.log(2.0), np.log(30.0), -1.5, np.log(50.0)],
        [np.log(0.05), np.log(400.0), 2.0, np.log(0.5)],
    ],
)
def test_the_analytic_gradient_equals_finite_differences(theta):
    inputs, _ = _cdnow_inputs()
    rows = inputs.groupby(["x", "t_x", "big_t"], as_index=False).size()
    objective, _ = bgnbd.bgnbd_objective(
        rows.x.to_numpy(float),
        rows.t_x.to_numpy(float),
        rows.big_t.to_numpy(float),
        rows["size"].to_numpy(float),
    )
    theta = np.array(theta)
    value, grad = objective(theta)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        numeric = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4), (i, value)
