"""Churn scores that rank one-time buyers too, and how well a score ranks (docs/decisions/0117).

BG/NBD (bgnbd.py) lets a customer drop out only after a repeat purchase, so its P(alive) is 1 for
every one-time buyer whatever their recency: on a shop where one-time buyers are many, it ranks
"bought again" worse than chance. Two models give one-time buyers a dropout chance:

- the modified BG/NBD (MBG/NBD; Batislam, Denizel & Filiztekin 2007): a customer may drop out at
  time zero and after each purchase, so with x repeat transactions the dropout chances are x + 1:

      L = Gamma(r + x) alpha^r / Gamma(r) x [ B(a, b + x + 1) / B(a, b) (alpha + T)^-(r + x)
                                             + B(a + 1, b + x) / B(a, b) (alpha + t_x)^-(r + x) ]
      P(alive) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x))

- Pareto/NBD (Schmittlein, Morrison & Colombo 1987), lifetime exponential with a gamma-distributed
  dropout rate; likelihood and P(alive) in the hypergeometric form of Fader & Hardie (2005),
  "A Note on Deriving the Pareto/NBD Model and Related Expressions".

And a third candidate keeps BG/NBD but scores by the probability of a purchase within a horizon,
P(alive) x (1 - ((alpha + T) / (alpha + T + h))^(r + x)): a one-time buyer is then ranked by the
tenure T their posterior purchase rate (r / (alpha + T)) reflects.

The churn score published is 1 - P(a purchase within the horizon) under the BG/NBD the run fits
anyway: on generated shops with planted heterogeneous dropout it ranks "bought again" as well as
the same score under MBG/NBD or Pareto/NBD (AUC within 0.001) and clearly better than recency;
docs/decisions/0117-churn-score.md has the comparison. The other two models stay here for it
(orchestration/tests/test_churn_score.py).

Where that score ranks "bought again" worse than the days since the last purchase on the shop's own
holdout, the churn score is recency's instead (decision 0156, `choose_churn_score`): 1 - P(a
purchase within the horizon) from a logistic curve in log(1 + days since the last purchase), fitted
on the calibration customers and their holdout. It ranks exactly as recency does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from orchestration.predict import bgnbd

ArrayLike = bgnbd.ArrayLike


@dataclass(frozen=True)
class ParetoNbdParams:
    r: float
    alpha: float
    s: float
    beta: float


# ---- modified BG/NBD ------------------------------------------------------------------------------


def mbgnbd_log_likelihood(params: bgnbd.BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """Per-row log-likelihood of (x, t_x, T) under the MBG/NBD (Batislam et al. 2007, eq. 2)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    alive = special.betaln(a, b + x + 1) - (r + x) * np.log(alpha + big_t)
    dead = special.betaln(a + 1, b + x) - (r + x) * np.log(alpha + t_x)
    return base + np.logaddexp(alive, dead)


def mbgnbd_p_alive(params: bgnbd.BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) under the MBG/NBD: below 1 for one-time buyers too."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    return special.expit(-log_odds_dead)


def fit_mbgnbd(x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike, weights: ArrayLike | None = None) -> bgnbd.FitResult:
    """Maximum-likelihood MBG/NBD over (log r, log alpha, log a, log b), rows weighted by count."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = float(np.average(big_t, weights=w))

    def neg_ll(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = -float(np.dot(w, mbgnbd_log_likelihood(bgnbd.BgNbdParams(*np.exp(theta)), x, t_x, big_t)))
        return value if np.isfinite(value) else 1e300

    return _fit(neg_ll, np.array([0.0, np.log(max(scale, 1e-3)), 0.0, 0.0]), "MBG/NBD")


# ---- Pareto/NBD -----------------------------------------------------------------------------------


def _pareto_log_a0_terms(params: ParetoNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray):
    """log of the two terms of A0 (Fader & Hardie 2005, eq. 19/20), first minus second."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    rsx = r + s + x
    if alpha >= beta:
        second, big = s + 1, alpha
    else:
        second, big = r + x, beta

    def term(t: np.ndarray) -> np.ndarray:
        z = abs(alpha - beta) / (big + t)
        return np.log(special.hyp2f1(rsx, second, rsx + 1, z)) - rsx * np.log(big + t)

    return term(t_x), term(big_t)


def pareto_nbd_log_likelihood(params: ParetoNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """Per-row log-likelihood of (x, t_x, T) under Pareto/NBD (Fader & Hardie 2005, eq. 22)."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    l1, l2 = _pareto_log_a0_terms(params, x, t_x, big_t)
    with np.errstate(all="ignore"):
        log_a0 = l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))
        alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
        dead = np.log(s) - np.log(r + s + x) + log_a0
        base = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return base + np.logaddexp(alive, dead)


def pareto_nbd_p_alive(params: ParetoNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) under Pareto/NBD."""
    r, s = params.r, params.s
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    l1, l2 = _pareto_log_a0_terms(params, x, t_x, big_t)
    with np.errstate(all="ignore"):
        log_a0 = l1 + np.log1p(-np.exp(np.minimum(l2 - l1, 0.0)))
        log_odds_dead = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(params.alpha + big_t)
            + s * np.log(params.beta + big_t)
            + log_a0
        )
    return special.expit(-np.nan_to_num(log_odds_dead, nan=-np.inf))


def fit_pareto_nbd(x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike, weights: ArrayLike | None = None) -> bgnbd.FitResult:
    """Maximum-likelihood Pareto/NBD over (log r, log alpha, log s, log beta)."""
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = float(np.average(big_t, weights=w))

    def neg_ll(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            ll = pareto_nbd_log_likelihood(ParetoNbdParams(*np.exp(theta)), x, t_x, big_t)
        value = -float(np.dot(w, ll))
        return value if np.isfinite(value) else 1e300

    start = np.log([0.5, max(scale, 1e-3), 0.5, max(scale, 1e-3)])
    return _fit(neg_ll, start, "Pareto/NBD")


def _fit(neg_ll, start: np.ndarray, what: str) -> bgnbd.FitResult:
    bounds = [(-15.0, 15.0)] * 4
    res = optimize.minimize(neg_ll, start, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000})
    res = optimize.minimize(
        neg_ll, res.x, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-9}
    )
    if not np.isfinite(res.fun) or res.fun >= 1e299:
        return bgnbd.FitResult(False, None, None, f"{what}: no finite likelihood ({res.message})")
    return bgnbd.FitResult(True, tuple(float(v) for v in np.exp(res.x)), -float(res.fun), "converged")


# ---- the score ------------------------------------------------------------------------------------


def p_purchase_within(p_alive: ArrayLike, r: float, alpha: float, x: ArrayLike, big_t: ArrayLike, horizon: float):
    """P(at least one purchase in (T, T + h]) = P(alive) (1 - ((alpha + T) / (alpha + T + h))^(r + x)):
    an alive customer's purchases follow the posterior NBD, whose zero class is that power. (Under
    BG/NBD and MBG/NBD a customer drops out only at a purchase, so one alive at T stays alive
    until their next purchase.)"""
    x, big_t = np.asarray(x, dtype=float), np.asarray(big_t, dtype=float)
    none = np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + horizon)))
    return np.asarray(p_alive, dtype=float) * (1.0 - none)


def churn_score(params: bgnbd.BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike, horizon: float):
    """The published churn score: 1 - P(a purchase within ``horizon``) under the fitted BG/NBD
    (decision 0117). High = likely gone; a one-time buyer is scored by their tenure T (their
    posterior purchase rate r / (alpha + T) falls with every day without a second purchase)."""
    alive = bgnbd.p_alive(params, x, t_x, big_t)
    return 1.0 - p_purchase_within(alive, params.r, params.alpha, x, big_t, horizon)


def auc(score: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (Mann-Whitney, ties count half);
    None when either class is empty."""
    score = np.asarray(score, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---- recency's score, where the model's ranks worse (decision 0156) ----------------------------------


@dataclass(frozen=True)
class RecencyLogit:
    """P(a purchase within the horizon) = expit(intercept + slope x log(1 + days since the last
    purchase)); slope < 0, so the score ranks exactly as recency does."""

    intercept: float
    slope: float


@dataclass(frozen=True)
class ChurnChoice:
    """Which score the run publishes as churn_score, and the holdout AUCs it was chosen on."""

    model: str  # "bgnbd" or "recency"
    auc_bgnbd: float | None
    auc_recency: float | None
    recency_logit: RecencyLogit | None = None


def fit_recency_logit(recency: ArrayLike, bought: ArrayLike, weights: ArrayLike | None = None) -> RecencyLogit | None:
    """Maximum-likelihood logistic regression of ``bought`` (0/1, or counts of buyers when ``weights``
    counts customers) on log(1 + recency days). None when it does not converge or the slope is not
    negative (recency would not rank buyers first)."""
    u = np.log1p(np.asarray(recency, dtype=float))
    y = np.asarray(bought, dtype=float)
    w = np.ones_like(u) if weights is None else np.asarray(weights, dtype=float)
    if len(u) == 0 or np.ptp(u) == 0 or not 0 < float(y.sum()) < float(w.sum()):
        return None
    center = float(np.average(u, weights=w))

    def neg_ll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] + theta[1] * (u - center)
        # y log p + (n - y) log(1 - p) per row, with w customers of whom y bought
        value = -float(np.dot(y, -np.logaddexp(0.0, -z)) + np.dot(w - y, -np.logaddexp(0.0, z)))
        resid = w * special.expit(z) - y
        return value, np.array([resid.sum(), np.dot(resid, u - center)])

    res = optimize.minimize(neg_ll, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-10, "maxiter": 500})
    if not np.all(np.isfinite(res.x)) or res.x[1] >= 0:
        return None
    return RecencyLogit(float(res.x[0] - res.x[1] * center), float(res.x[1]))


def recency_churn_score(logit: RecencyLogit, recency: ArrayLike) -> np.ndarray:
    """1 - expit(intercept + slope x log(1 + recency)): the SQL macro recency_churn_score's formula."""
    z = logit.intercept + logit.slope * np.log1p(np.asarray(recency, dtype=float))
    return 1.0 - special.expit(z)


def choose_churn_score(bgnbd_score: ArrayLike, recency: ArrayLike, bought: ArrayLike) -> ChurnChoice:
    """On the calibration customers (their BG/NBD churn score and days since the last purchase at the
    calibration end) and whether each bought in the holdout: BG/NBD's score unless it ranks
    "bought again" worse than recency and recency's logistic curve can be fitted (decision 0156)."""
    recency = np.asarray(recency, dtype=float)
    bought = np.asarray(bought, dtype=bool)
    auc_bgnbd = auc(-np.asarray(bgnbd_score, dtype=float), bought)
    auc_recency = auc(-recency, bought)
    if auc_bgnbd is None or auc_recency is None or auc_bgnbd >= auc_recency:
        return ChurnChoice("bgnbd", auc_bgnbd, auc_recency)
    days, at = np.unique(recency, return_inverse=True)
    logit = fit_recency_logit(days, np.bincount(at, weights=bought), np.bincount(at))
    if logit is None:
        return ChurnChoice("bgnbd", auc_bgnbd, auc_recency)
    return ChurnChoice("recency", auc_bgnbd, auc_recency, logit)
