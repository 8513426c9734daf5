"""Shifted-beta-geometric (sBG) retention model, Fader & Hardie (2007), "How to project customer
retention", Journal of Interactive Marketing 21(1).

Each subscriber has a constant churn probability theta per renewal; theta ~ Beta(alpha, beta) across
subscribers. With T = the renewal at which a subscriber churns (T = 1, 2, ...):

    P(T = 1) = alpha / (alpha + beta)
    P(T = t) = P(T = t - 1) * (beta + t - 2) / (alpha + beta + t - 1)         t >= 2
    S(t)     = P(T > t) = S(t - 1) - P(T = t),  S(0) = 1
             = prod_{i=1..t} (beta + i - 1) / (alpha + beta + i - 1)

A 定期 subscription that reached delivery n has survived n - 1 renewals, so the n回目継続率 is
S(n - 1). The likelihood of one subscription with d deliveries that was old enough to have reached
m deliveries (m >= 1):

    cancelled and d < m : P(T = d)            (it stopped after delivery d, though it could have had d+1)
    otherwise           : S(min(d, m) - 1)    (right-censored: still alive, or too young to know more)

Parameters are fitted by maximum likelihood (logit alpha / (alpha + beta) and log(alpha + beta),
bounded truncated Newton with the analytic gradient, started at the first renewal's churn share) per group of acquisition channel x product x offer code (each also `all`), pooled over start cohorts:
each cohort contributes the cycles it has observed, and every cohort row of
``subscription_retention`` is projected with its group's curve. A group with fewer subscriptions than the
dbt var ``subscription_projection_min_subscriptions`` (or with no observed churn opportunity) gets
status ``too_little_data`` and no parameters: the mart then shows no projection, never a guess. A
group whose churn shows no heterogeneity (alpha + beta runs to its bound) gets status ``geometric``:
the sBG's limit, S(t) = (1 - theta)^t with theta = alpha / (alpha + beta), still a projection.

The fits are written to ``model_fits.retention_fits`` (declared in dbt as a source tagged
``fitted_parameters``); ``subscription_retention`` reads it. CLI::

    python -m orchestration.predict.sbg fit [--database PATH] [--as-of YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from scipy import special
from scipy.optimize import minimize
from scipy.special import betaln

from orchestration.predict import tables

FIT_SCHEMA = tables.SCHEMA
FIT_TABLE = "retention_fits"
GROUP_DIMS = ("cohort_month", "acquisition_channel", "product_id", "offer_code")
# Fits are pooled over start cohorts (cohort_month = 'all'): each cohort contributes the cycles it
# has observed (censoring-aware likelihood), and every cohort row of the mart is projected with its
# channel x product x offer fit; a single young cohort alone is too small to fit.
FIT_DIMS = ("acquisition_channel", "product_id", "offer_code")
DEFAULT_MIN_SUBSCRIPTIONS = 30
DEFAULT_GRACE_DAYS = 7

# columns and types: the one declaration in dbt_project.yml (var `model_fits_tables`)
FIT_COLUMNS = tables.columns(FIT_TABLE)


# ---- the model ------------------------------------------------------------------------------


def churn_probabilities(alpha: float, beta: float, t_max: int) -> np.ndarray:
    """P(T = t) for t = 1..t_max (index 0 is t = 1)."""
    t = np.arange(1, t_max + 1)
    return np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))


def survival(alpha: float, beta: float, t_max: int) -> np.ndarray:
    """S(t) = P(T > t) for t = 0..t_max (index 0 is S(0) = 1)."""
    t = np.arange(0, t_max + 1)
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def retention_by_delivery(alpha: float, beta: float, max_delivery: int = 13) -> np.ndarray:
    """Share of subscriptions that reach delivery n, n = 1..max_delivery: S(n - 1)."""
    return survival(alpha, beta, max_delivery - 1)


def log_likelihood(alpha: float, beta: float, churned_at: np.ndarray, censored_at: np.ndarray) -> float:
    """Log-likelihood of subscriptions that churned at renewal t (counts ``churned_at[t-1]``) and
    subscriptions right-censored after surviving t renewals (counts ``censored_at[t]``, t >= 0)."""
    ll = 0.0
    if len(churned_at):
        ll += float(np.dot(churned_at, np.log(churn_probabilities(alpha, beta, len(churned_at)))))
    if len(censored_at):
        ll += float(np.dot(censored_at, np.log(survival(alpha, beta, len(censored_at) - 1))))
    return ll


# alpha + beta stops here: a churn probability with no spread across subscribers (a point mass at
# theta = alpha / (alpha + beta)); the sBG's limit is then the geometric model S(t) = (1 - theta)^t
KAPPA_MAX = 1e4
KAPPA_MIN = 1e-4
GEOMETRIC_ABOVE = math.log(KAPPA_MAX) - 1e-3


@dataclass(frozen=True)
class Fit:
    status: str  # fitted | geometric | too_little_data | failed
    status_reason: str | None
    count_subscriptions: int
    alpha: float | None = None
    beta: float | None = None
    log_likelihood: float | None = None


def objective_of(churned: np.ndarray, censored: np.ndarray):
    """Minus the log-likelihood and its analytic gradient over theta = (logit alpha / (alpha +
    beta), log(alpha + beta)), on the renewals with a count only (vectorised over them)."""
    t_churn = np.flatnonzero(churned) + 1  # renewal t of each non-zero churn count
    w_churn = churned[t_churn - 1]
    t_cens = np.flatnonzero(censored)  # renewals survived of each non-zero censoring count
    w_cens = censored[t_cens]
    n_churn, n_cens = float(w_churn.sum()), float(w_cens.sum())

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mu, kappa = special.expit(theta[0]), math.exp(theta[1])
        a, b = mu * kappa, (1 - mu) * kappa
        with np.errstate(all="ignore"):
            base = special.betaln(a, b)
            ll = float(np.dot(w_churn, special.betaln(a + 1, b + t_churn - 1))) - n_churn * base
            ll += float(np.dot(w_cens, special.betaln(a, b + t_cens))) - n_cens * base
            psi_a, psi_b, psi_ab = special.digamma(a), special.digamma(b), special.digamma(a + b)
            psi_abt_churn = special.digamma(a + b + t_churn)
            psi_abt_cens = special.digamma(a + b + t_cens)
            d_a = float(np.dot(w_churn, special.digamma(a + 1) - psi_abt_churn)) + n_churn * (psi_ab - psi_a)
            d_a += float(np.dot(w_cens, psi_ab - psi_abt_cens))
            d_b = float(np.dot(w_churn, special.digamma(b + t_churn - 1) - psi_abt_churn)) + n_churn * (psi_ab - psi_b)
            d_b += float(np.dot(w_cens, special.digamma(b + t_cens) - psi_abt_cens)) + n_cens * (psi_ab - psi_b)
            grad = np.array([kappa * mu * (1 - mu) * (d_a - d_b), a * d_a + b * d_b])
        if not (math.isfinite(ll) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros(2)
        return -ll, -grad

    return value_and_gradient


def fit_counts(
    churned_at: Sequence[float],
    censored_at: Sequence[float],
    count_subscriptions: int | None = None,
    min_subscriptions: int = 1,
) -> Fit:
    """Maximum-likelihood sBG fit on churn and censoring counts (see ``log_likelihood``).

    Optimised over (logit alpha / (alpha + beta), log(alpha + beta)) with the analytic gradient (TNC),
    from the first renewal's churn share. When the subscribers' churn shows no heterogeneity the
    likelihood rises towards alpha + beta -> infinity at a fixed theta = alpha / (alpha + beta):
    the estimate stops at KAPPA_MAX and the fit is the geometric model, status ``geometric``
    (alpha, beta at that bound, so alpha / (alpha + beta) is the churn per cycle)."""
    churned = np.asarray(churned_at, dtype=float)
    censored = np.asarray(censored_at, dtype=float)
    n = int(count_subscriptions if count_subscriptions is not None else churned.sum() + censored.sum())
    if n < min_subscriptions:
        return Fit("too_little_data", f"{n} subscriptions, fewer than {min_subscriptions}", n)
    at_risk = churned.sum() + censored[1:].sum()  # subscriptions observed through at least one renewal
    if at_risk == 0:
        return Fit("too_little_data", "no subscription is old enough for a second delivery", n)

    objective = objective_of(churned, censored)
    first = (churned[0] if len(churned) else 0.0) / at_risk
    mu0 = min(max(first, 1e-3), 1 - 1e-3)
    bounds = [(-15.0, 15.0), (math.log(KAPPA_MIN), math.log(KAPPA_MAX))]
    # TNC (truncated Newton, bounded): no BLAS calls, where L-BFGS-B's per-iteration BLAS calls
    # ran 15x slower on a busy machine (its threads contend for the cores) over hundreds of groups
    options = {"maxfun": 1000, "ftol": 1e-12, "gtol": 1e-9}

    def run(theta0: np.ndarray):
        return minimize(objective, theta0, jac=True, method="TNC", bounds=bounds, options=options)

    best = run(np.array([math.log(mu0 / (1 - mu0)), math.log(2.0)]))
    if best.x[1] > math.log(100.0) or not np.isfinite(best.fun):
        # on the ridge towards no heterogeneity: try its end too
        edge = run(np.array([best.x[0] if np.isfinite(best.fun) else math.log(mu0 / (1 - mu0)), math.log(KAPPA_MAX)]))
        best = edge if edge.fun < best.fun else best
    if not np.isfinite(best.fun) or best.fun >= 1e299:
        return Fit("failed", f"optimiser found no finite likelihood: {best.message}", n)
    mu, kappa = float(special.expit(best.x[0])), math.exp(best.x[1])
    a, b = mu * kappa, (1 - mu) * kappa
    if best.x[1] >= GEOMETRIC_ABOVE:
        return Fit(
            "geometric",
            f"no heterogeneity in churn: the estimate runs to its bound (alpha + beta = {KAPPA_MAX:g}); "
            f"the geometric projection, churn per cycle {mu:.4f}",
            n,
            a,
            b,
            -float(best.fun),
        )
    return Fit("fitted", None, n, a, b, -float(best.fun))


def fit_survivors(survivors: Sequence[float]) -> Fit:
    """Fit on a cohort's survivors at the start and after each period (Fader & Hardie's data:
    1000, 631, 468, ...): churned in period t = s[t-1] - s[t], censored after the last period."""
    s = np.asarray(survivors, dtype=float)
    churned = s[:-1] - s[1:]
    censored = np.zeros(len(s))
    censored[-1] = s[-1]
    return fit_counts(churned, censored, int(s[0]))


def subscription_counts(
    deliveries: np.ndarray, eligible: np.ndarray, cancelled: np.ndarray, max_t: int = 120
) -> tuple[np.ndarray, np.ndarray]:
    """Churn and censoring counts from per-subscription deliveries d, deliveries it is old enough for
    m, and whether it is cancelled (the per-subscription likelihood in the module docstring)."""
    d = np.minimum(np.asarray(deliveries, dtype=int), max_t)
    m = np.minimum(np.asarray(eligible, dtype=int), max_t)
    keep = (m >= 1) & (d >= 1)
    d, m, c = d[keep], m[keep], np.asarray(cancelled, dtype=bool)[keep]
    churn = c & (d < m)
    churned_at = np.bincount(d[churn], minlength=max_t + 1)[1:]
    censored_after = np.minimum(d[~churn], m[~churn]) - 1
    censored_at = np.bincount(censored_after, minlength=max_t + 1)
    return churned_at.astype(float), censored_at.astype(float)


# ---- the warehouse side -----------------------------------------------------------------------


def _create_fit_table(con) -> None:
    for sql in tables.create_table_sql(FIT_TABLE):
        con.execute(sql)


def fit_groups(frame, min_subscriptions: int) -> list[dict]:
    """One fit per group of a per-subscription frame (pandas) with the FIT_DIMS, count_deliveries,
    eligible_deliveries and status columns: every FIT_DIMS combination, each dimension also `all`;
    cohort_month is `all` (pooled over start cohorts)."""
    rows: list[dict] = []
    for mask in range(2 ** len(FIT_DIMS)):
        kept = [d for i, d in enumerate(FIT_DIMS) if not (mask >> i) & 1]
        grouped = frame.groupby(kept, dropna=False) if kept else [((), frame)]
        for key, part in grouped:
            key = key if isinstance(key, tuple) else (key,)
            labels = dict(zip(kept, key, strict=True))
            churned, censored = subscription_counts(
                part["count_deliveries"].to_numpy(),
                part["eligible_deliveries"].to_numpy(),
                (part["status"] == "cancelled").to_numpy(),
            )
            fit = fit_counts(churned, censored, len(part), min_subscriptions)
            rows.append({**{d: labels.get(d, "all") for d in GROUP_DIMS}, **fit.__dict__})
    return rows


def fit_and_store(
    database_path: str | Path,
    as_of_date: date | str | None = None,
    min_subscriptions: int | None = None,
) -> dict:
    """Fit the sBG per retention group on ``marts.fct_subscriptions`` of a built DuckDB warehouse
    and replace that as_of_date's rows of ``model_fits.retention_fits``. Returns a summary."""
    import duckdb

    from orchestration.settings import dbt_var

    if min_subscriptions is None:  # the shop's setting (vars.subscription_projection_min_subscriptions)
        min_subscriptions = int(dbt_var("subscription_projection_min_subscriptions"))
    con = duckdb.connect(str(database_path))
    try:
        _create_fit_table(con)
        frame = con.execute(
            "select as_of_date, cohort_month, acquisition_channel, product_id, offer_code, status, "
            "count_deliveries, eligible_deliveries from marts.fct_subscriptions order by all"
        ).df()
        if as_of_date is None:
            if len(frame):
                as_of_date = frame["as_of_date"].iloc[0]
            else:  # nothing built yet: today in the shop's business time zone
                from orchestration.settings import settings

                as_of_date = datetime.now(settings().tz()).date()
        as_of = date.fromisoformat(str(as_of_date)[:10])
        rows = fit_groups(frame, min_subscriptions) if len(frame) else []
        fitted_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute("begin")
        con.execute(f"delete from {FIT_SCHEMA}.{FIT_TABLE} where as_of_date = ?", [as_of])
        if rows:
            con.executemany(
                f"insert into {FIT_SCHEMA}.{FIT_TABLE} values ({', '.join('?' * len(FIT_COLUMNS))})",
                [
                    [
                        as_of,
                        r["cohort_month"],
                        r["acquisition_channel"],
                        r["product_id"],
                        r["offer_code"],
                        r["status"],
                        r["status_reason"],
                        r["count_subscriptions"],
                        r["alpha"],
                        r["beta"],
                        r["log_likelihood"],
                        fitted_at,
                    ]
                    for r in rows
                ],
            )
        con.execute("commit")
    finally:
        con.close()
    statuses = {
        s: sum(1 for r in rows if r["status"] == s) for s in ("fitted", "geometric", "too_little_data", "failed")
    }
    return {
        "as_of_date": str(as_of),
        "groups": len(rows),
        **statuses,
        "count_subscriptions": len(frame),
    }


def main(argv: list[str] | None = None) -> int:
    from orchestration.settings import warehouse_path

    parser = argparse.ArgumentParser(
        prog="python -m orchestration.predict.sbg",
        description="Fit the sBG retention model per subscription group.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit on marts.fct_subscriptions and store model_fits.retention_fits")
    fit.add_argument("--database", type=Path, default=None, help="DuckDB warehouse (default CRM_DUCKDB_PATH)")
    fit.add_argument("--as-of", default=None, help="YYYY-MM-DD (default: the as_of_date of fct_subscriptions)")
    args = parser.parse_args(argv)
    summary = fit_and_store(args.database or warehouse_path(), args.as_of)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
