"""The shifted-beta-geometric retention model against Fader & Hardie (2007) and hand counts."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from orchestration.predict.sbg import (
    fit_counts,
    fit_groups,
    fit_survivors,
    objective_of,
    retention_by_delivery,
    subscription_counts,
)
from orchestration.predict.simulate import simulate_subscriptions

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    ("survivors", "alpha", "beta", "log_lik"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_reproduces_fader_hardie_2007(survivors: list[int], alpha: float, beta: float, log_lik: float) -> None:
    fit = fit_survivors(survivors)
    assert fit.status == "fitted"
    assert abs(fit.alpha - alpha) < 0.005
    assert abs(fit.beta - beta) < 0.005
    assert fit.log_likelihood == pytest.approx(log_lik, abs=0.1)


def test_projection_of_regular_segment_matches_published_curve() -> None:
    # F&H Figure 3: the 7-year fit projects years 8-12 of the regular segment close to the
    # observed 1000, ..., 241 and onwards (year 12 actual 0.171 of the cohort, projected 0.180).
    fit = fit_survivors(REGULAR)
    curve = retention_by_delivery(fit.alpha, fit.beta, 13)
    assert curve[0] == 1.0
    assert curve[7] == pytest.approx(0.239, abs=0.002)  # year 7 fitted vs 0.241 observed
    assert curve[12] == pytest.approx(0.170, abs=0.01)


def test_subscription_counts_by_hand() -> None:
    # d = deliveries, m = deliveries it is old enough for, cancelled?
    #   (1, 3, yes) churned at renewal 1        (2, 2, yes) censored after 1 renewal (too young for 3)
    #   (3, 5, no)  active: censored after 2    (4, 2, no)  censored after min(4,2)-1 = 1
    #   (1, 1, yes) censored after 0            (0, 3, yes) no delivery: ignored
    churned, censored = subscription_counts(
        np.array([1, 2, 3, 4, 1, 0]),
        np.array([3, 2, 5, 2, 1, 3]),
        np.array([True, True, False, False, True, True]),
        max_t=5,
    )
    assert churned.tolist() == [1, 0, 0, 0, 0]
    assert censored.tolist() == [1, 2, 1, 0, 0, 0]


def test_too_few_subscriptions_get_no_parameters() -> None:
    fit = fit_counts([3, 1], [0, 0, 4], count_subscriptions=8, min_subscriptions=30)
    assert fit.status == "too_little_data"
    assert fit.alpha is None and fit.beta is None
    young = fit_counts([0, 0], [50, 0, 0], count_subscriptions=50, min_subscriptions=30)
    assert young.status == "too_little_data"


def _counts(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return subscription_counts(
        frame.count_deliveries.to_numpy(),
        frame.eligible_deliveries.to_numpy(),
        (frame.status == "cancelled").to_numpy(),
    )


def test_planted_no_heterogeneity_gets_the_geometric_projection() -> None:
    # every subscriber churns with the same 12% per cycle: the likelihood rises towards alpha +
    # beta -> infinity; the fit is the geometric limit (status says so), never null
    churned, censored = _counts(simulate_subscriptions(6000, 0.12, np.inf, seed=7))
    fit = fit_counts(churned, censored, 6000, min_subscriptions=30)
    assert fit.status == "geometric", fit
    assert "no heterogeneity" in fit.status_reason
    theta = fit.alpha / (fit.alpha + fit.beta)
    at_risk = churned.sum() + censored[1:].sum()
    assert abs(theta - 0.12) < 3 * np.sqrt(0.12 * 0.88 / at_risk)


def test_planted_heterogeneity_is_recovered() -> None:
    fit = fit_counts(*_counts(simulate_subscriptions(20000, 1.5, 6.0, seed=8)), 20000, min_subscriptions=30)
    assert fit.status == "fitted"
    planted = retention_by_delivery(1.5, 6.0, 13)
    fitted = retention_by_delivery(fit.alpha, fit.beta, 13)
    assert np.max(np.abs(fitted - planted)) < 0.02


def test_gradient_matches_finite_differences() -> None:
    churned, censored = np.array([369.0, 163, 86, 56, 37, 27, 21]), np.array([0, 0, 0, 0, 0, 0, 0, 241.0])
    objective = objective_of(churned, censored)
    for theta in (np.array([-0.5, 0.6]), np.array([1.0, 3.0]), np.array([-2.0, 7.0])):
        _, grad = objective(theta)
        for i in range(2):
            h = np.zeros(2)
            h[i] = 1e-4
            numeric = (objective(theta + h)[0] - objective(theta - h)[0]) / 2e-4
            assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def test_all_groups_of_a_50k_customer_shop_fit_in_under_5_seconds() -> None:
    # 12,000 subscriptions (a 50k-customer shop) over 8 channels x 12 products x 3 offers: 468
    # groups with their `all` combinations, each a maximum-likelihood fit
    frame = simulate_subscriptions(12000, 1.0, 4.0, seed=9)
    started = time.perf_counter()
    rows = fit_groups(frame, min_subscriptions=30)
    seconds = time.perf_counter() - started
    assert len(rows) == 9 * 13 * 4
    assert seconds < 5.0, f"{len(rows)} sBG groups took {seconds:.1f} s"
    fitted = [r for r in rows if r["count_subscriptions"] >= 30]
    assert all(r["status"] in ("fitted", "geometric") for r in fitted)
