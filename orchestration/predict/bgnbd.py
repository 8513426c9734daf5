"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma maths: log-likelihoods, maximum-likelihood
fits and per-customer predictions.

Time is in any unit (days in the warehouse, weeks in the CDNOW test); the parameters follow it.
Every likelihood is in log space (gammaln, betaln, logaddexp) and the conditional expectation
uses Euler's transformation of the hypergeometric term, so heavy buyers (x in the hundreds) and
horizons of ten years stay finite. Fits run on distinct input rows with a count per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

ArrayLike = np.ndarray | float | int


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class FitResult:
    """A maximum-likelihood fit: parameters only when ``converged``; otherwise the reason."""

    converged: bool
    params: tuple[float, ...] | None
    log_likelihood: float | None
    reason: str


# ---- BG/NBD --------------------------------------------------------------------------------------

def bgnbd_log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """Per-row log-likelihood of (x, t_x, T) under BG/NBD (FHL 2005, eq. 6), in log space."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _log_odds_dead(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for x > 0; -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x)), -np.inf)


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))."""
    x = np.asarray(x, dtype=float)
    return special.expit(-_log_odds_dead(params, x, np.asarray(t_x, float), np.asarray(big_t, float)))


def expected_purchases(params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike,
                       big_t: ArrayLike) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] (FHL 2005, eq. 10).

    The term ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) is rewritten with Euler's
    transformation as (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), z = t/(alpha+T+t): small upper
    parameters and a large lower one, so no overflow for heavy buyers or long horizons.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    z = t / (alpha + big_t + t)
    log_1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    bracket = 1.0 - np.exp((a - 1) * log_1mz) * hyp
    numerator = (a + b + x - 1) / (a - 1) * bracket
    return numerator * p_alive(params, x, t_x, big_t)


def expected_purchases_new(params: BgNbdParams, t: ArrayLike) -> np.ndarray:
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 9), with the same transformation."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
    return (a + b - 1) / (a - 1) * (1.0 - np.exp((a - 1) * (np.log(alpha) - np.log(alpha + t))) * hyp)


def posterior_rate(params: BgNbdParams, x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """Posterior mean purchase rate of a customer who is alive: (r + x) / (alpha + T)."""
    return (params.r + np.asarray(x, float)) / (params.alpha + np.asarray(big_t, float))


def _minimize(neg_ll, start: np.ndarray, what: str) -> FitResult:
    """Minimise over log-parameters: Nelder-Mead to get close, then L-BFGS-B to polish."""
    with np.errstate(all="ignore"):
        try:
            first = optimize.minimize(neg_ll, start, method="Nelder-Mead",
                                      options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20000, "maxfev": 40000})
            best = optimize.minimize(neg_ll, first.x, method="L-BFGS-B",
                                     options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-8})
        except (ValueError, FloatingPointError, OverflowError) as err:
            return FitResult(False, None, None, f"{what} fit failed: {err}")
    res = best if best.fun <= first.fun else first
    if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
        return FitResult(False, None, None, f"{what} likelihood is not finite at the optimum")
    if not (first.success or best.success):
        return FitResult(False, None, None, f"{what} fit did not converge: {best.message}")
    params = np.exp(res.x)
    if np.any(params > 1e6) or np.any(params < 1e-6):
        return FitResult(False, None, None, f"{what} parameters ran to a boundary: {np.round(params, 6).tolist()}")
    return FitResult(True, tuple(float(v) for v in params), float(-res.fun), "converged")


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike, weights: ArrayLike | None = None) -> FitResult:
    """Maximum-likelihood BG/NBD on rows (x, t_x, T), each standing for ``weights`` customers."""
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = float(np.mean(big_t[w > 0])) if np.any(w > 0) else 1.0

    def neg_ll(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha, a, b), x, t_x, big_t)
        total = float(np.dot(w, ll))
        return -total if np.isfinite(total) else 1e300

    start = np.log([1.0, max(scale, 1e-3), 1.0, 1.0])
    return _minimize(neg_ll, start, "BG/NBD")


# ---- Gamma-Gamma ---------------------------------------------------------------------------------

def gamma_gamma_log_likelihood(params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
    """Per-customer log-likelihood of the mean of x repeat transaction values (x > 0, m > 0)."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(g)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + g))


def fit_gamma_gamma(x: ArrayLike, mean_value: ArrayLike, weights: ArrayLike | None = None) -> FitResult:
    """Maximum-likelihood Gamma-Gamma. Only rows with x > 0 and a positive mean value are valid;
    anything else is refused (a zero value makes the likelihood NaN: never a silent default)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if np.any(x <= 0) or np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma takes only customers with x > 0 and a positive mean value")
    if len(x) == 0:
        return FitResult(False, None, None, "Gamma-Gamma: no repeat customers with a positive value")
    scale = float(np.average(m, weights=w))

    def neg_ll(log_params: np.ndarray) -> float:
        p, q, g = np.exp(log_params)
        total = float(np.dot(w, gamma_gamma_log_likelihood(GammaGammaParams(p, q, g), x, m)))
        return -total if np.isfinite(total) else 1e300

    return _minimize(neg_ll, np.log([1.0, 2.0, max(scale, 1e-3)]), "Gamma-Gamma")


def expected_value(params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
    """E[M | x, m] = p (gamma + x m) / (p x + q - 1); the population mean p gamma / (q - 1) at x = 0."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.nan_to_num(np.asarray(mean_value, dtype=float)), 0.0)
    return p * (g + x * m) / (p * x + q - 1)
