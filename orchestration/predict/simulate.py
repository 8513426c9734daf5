"""Customers drawn from BG/NBD + Gamma-Gamma with known parameters, in whole days as the
warehouse measures them: for the benchmark (1,000,000 customers without building a warehouse)
and for parameter-recovery tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from orchestration.predict.bgnbd import BgNbdParams, GammaGammaParams


def simulate_inputs(
    n: int,
    params: BgNbdParams,
    gg: GammaGammaParams,
    history_days: int = 1095,
    seed: int = 0,
    max_repeats: int = 400,
) -> pd.DataFrame:
    """One row per customer: x, t_x, big_t (whole days) and mean_repeat_value."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    first = rng.integers(0, history_days, n)
    big_t = (history_days - first).astype(float)
    x = np.zeros(n)
    t_x = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    for _ in range(max_repeats):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        now[idx] += rng.exponential(1.0, len(idx)) / lam[idx]
        bought = now[idx] <= big_t[idx]
        hit = idx[bought]
        x[hit] += 1
        t_x[hit] = np.floor(now[hit])
        dropped = rng.random(len(hit)) < p[hit]
        active[idx[~bought]] = False
        active[hit[dropped]] = False
    nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
    safe_x = np.maximum(x, 1)
    mean_value = np.where(x > 0, rng.gamma(gg.p * safe_x, 1.0 / (nu * safe_x)), np.nan)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "x": x,
            "t_x": t_x,
            "big_t": big_t,
            "mean_repeat_value": mean_value,
        }
    )


def simulate_holdout_shop(
    n: int,
    history_days: int = 1095,
    holdout_days: int = 180,
    seed: int = 0,
    purchase_shape: float = 0.8,
    purchase_scale_days: float = 60.0,
    dropout_shape: float = 0.6,
    dropout_scale_days: float = 250.0,
    max_repeats: int = 400,
) -> pd.DataFrame:
    """Customers with planted heterogeneous dropout, observed to a calibration end and through a
    holdout after it: each has a purchase rate lambda ~ Gamma(purchase_shape, 1/purchase_scale_days)
    and an exponential lifetime whose rate mu ~ Gamma(dropout_shape, 1/dropout_scale_days) (some
    leave within days, some stay for years), first purchases spread over the history. One row per
    customer: x, t_x, big_t at the calibration end (whole days) and holdout_purchases."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(purchase_shape, 1.0 / purchase_scale_days, n)
    lifetime = rng.exponential(1.0, n) / rng.gamma(dropout_shape, 1.0 / dropout_scale_days, n)
    first = rng.integers(0, history_days, n).astype(float)
    end, stop = float(history_days), float(history_days + holdout_days)
    death = first + lifetime
    x, t_x, holdout = np.zeros(n), np.zeros(n), np.zeros(n)
    now = first.copy()
    active = np.ones(n, dtype=bool)
    for _ in range(max_repeats):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        now[idx] += rng.exponential(1.0, len(idx)) / lam[idx]
        happened = (now[idx] <= death[idx]) & (now[idx] <= stop)
        active[idx[~happened]] = False
        hit = idx[happened]
        in_cal = now[hit] <= end
        x[hit[in_cal]] += 1
        t_x[hit[in_cal]] = np.floor(now[hit[in_cal]] - first[hit[in_cal]])
        holdout[hit[~in_cal]] += 1
    return pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "x": x,
            "t_x": t_x,
            "big_t": np.floor(end - first),
            "holdout_purchases": holdout,
        }
    )


def simulate_subscriptions(
    n: int,
    alpha: float,
    beta: float,
    seed: int = 0,
    channels: int = 8,
    products: int = 12,
    offers: int = 3,
    max_eligible: int = 12,
) -> pd.DataFrame:
    """Subscriptions drawn from the sBG (per-subscriber churn per cycle theta ~ Beta(alpha, beta);
    ``beta = inf`` plants theta = alpha for every subscriber, no heterogeneity), each old enough for
    1..max_eligible deliveries, spread over channels x products x offers: the per-subscription
    frame ``sbg.fit_groups`` reads (count_deliveries, eligible_deliveries, status)."""
    rng = np.random.default_rng(seed)
    theta = np.full(n, alpha) if np.isinf(beta) else rng.beta(alpha, beta, n)
    churn_after = rng.geometric(theta)
    eligible = rng.integers(1, max_eligible + 1, size=n)
    return pd.DataFrame(
        {
            "acquisition_channel": rng.choice([f"channel_{i}" for i in range(channels)], n),
            "product_id": rng.choice([f"product_{i}" for i in range(products)], n),
            "offer_code": rng.choice([f"offer_{i}" for i in range(offers)], n),
            "count_deliveries": np.minimum(churn_after, eligible),
            "eligible_deliveries": eligible,
            "status": np.where(churn_after < eligible, "cancelled", "active"),
        }
    )
