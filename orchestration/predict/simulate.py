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
