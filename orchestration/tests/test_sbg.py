"""The shifted-beta-geometric retention model against Fader & Hardie (2007) and hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from orchestration.predict.sbg import (
    fit_counts,
    fit_survivors,
    retention_by_delivery,
    subscription_counts,
)

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
