"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma maths: log-likelihoods, maximum-likelihood
fits and per-customer predictions.

Time is in any unit (days in the warehouse, weeks in the CDNOW test); the parameters follow it.
Every likelihood is in log space (gammaln, betaln, logaddexp) and the conditional expectation
uses Euler's transformation of the hypergeometric term, so heavy buyers (x in the hundreds) and
horizons of ten years stay finite. Fits run on distinct input rows with a count per row.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def _log_odds_dead(params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x) for x > 0; -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x)),
            -np.inf,
        )


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))."""
    x = np.asarray(x, dtype=float)
    return special.expit(-_log_odds_dead(params, x, np.asarray(t_x, float), np.asarray(big_t, float)))


def expected_purchases(params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike) -> np.ndarray:
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
    if a + b > QUADRATURE_ABOVE:
        return expected_purchases_quadrature(params, t, x, t_x, big_t)
    z = t / (alpha + big_t + t)
    log_1mz = np.log(alpha + big_t) - np.log(alpha + big_t + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    bracket = 1.0 - np.exp((a - 1) * log_1mz) * hyp
    numerator = (a + b + x - 1) / (a - 1) * bracket
    return numerator * p_alive(params, x, t_x, big_t)


def expected_purchases_quadrature(
    params: BgNbdParams,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    big_t: ArrayLike,
    nodes: int = 64,
) -> np.ndarray:
    """E[Y(t) | x, t_x, T] as P(alive) x E[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p] over the
    posterior p ~ Beta(a, b+x) of an alive customer, by Gauss-Jacobi quadrature (one rule per
    distinct x). Used when a + b is large, where the hypergeometric form loses its precision."""
    alpha, a, b = params.alpha, params.a, params.b
    x, t, t_x, big_t = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t, t_x, big_t)))
    out = np.empty(x.shape, dtype=float)
    for xv in np.unique(x):
        sel = x == xv
        u, w = special.roots_jacobi(nodes, b + xv - 1, a - 1)  # weight (1-u)^(b+x-1) (1+u)^(a-1)
        p = (1 + u) / 2
        w = w / w.sum()
        scale = (alpha + big_t[sel])[:, None]
        f = -np.expm1(-(params.r + xv) * np.log1p(p[None, :] * t[sel][:, None] / scale)) / p[None, :]
        # row by row: a BLAS matrix product differs in the last digits with the row order
        out[sel] = (f * w[None, :]).sum(axis=1)
    return out * p_alive(params, x, t_x, big_t) if out.ndim else float(out) * p_alive(params, x, t_x, big_t)


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


KAPPA_MAX = 1e3  # a + b (BG/NBD) stops here: a dropout probability with no spread (a point mass)
GG_MAX = 1e5  # p, q (Gamma-Gamma) beyond this: the values show no spread to fit
QUADRATURE_ABOVE = 100.0  # a + b above this: E[Y(t)] by Gauss-Jacobi quadrature, not 2F1


def _polish(neg_ll, start: np.ndarray, bounds: list[tuple[float, float]], jac: bool = False) -> optimize.OptimizeResult:
    """L-BFGS-B from ``start``, restarted from its own optimum until the objective stops moving
    (a single run can stop early on flat ridges). ``jac``: ``neg_ll`` returns (value, gradient)."""
    best = optimize.minimize(
        neg_ll,
        start,
        method="L-BFGS-B",
        bounds=bounds,
        jac=jac,
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
    )
    for _ in range(5):
        again = optimize.minimize(
            neg_ll,
            best.x,
            method="L-BFGS-B",
            bounds=bounds,
            jac=jac,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
        )
        improved = best.fun - again.fun
        if again.fun <= best.fun:
            best = again
        if improved < 1e-9:
            break
    return best


def _clip(theta: np.ndarray, bounds: list[tuple[float, float]]) -> np.ndarray:
    return np.array([min(max(v, lo), hi) for v, (lo, hi) in zip(theta, bounds, strict=True)])


def _maxima(
    run_from, thetas: list[np.ndarray], neg_ll, bounds: list[tuple[float, float]], what: str
) -> tuple[list[optimize.OptimizeResult], str]:
    """The optimiser from each start; the results that are a maximum (``_converged``), highest
    likelihood first, and the first start's reason when it is not one."""
    found, first_problem = [], None
    for theta in thetas:
        try:
            res = run_from(theta)
        except (ValueError, FloatingPointError, OverflowError) as err:
            problem = f"{what} fit failed: {err}"
        else:
            problem = _converged(neg_ll, res, bounds, what)
        if problem is None:
            found.append(res)
        first_problem = first_problem or problem
    return sorted(found, key=lambda res: res.fun), first_problem or ""


def _converged(neg_ll, res: optimize.OptimizeResult, bounds: list[tuple[float, float]], what: str) -> str | None:
    """None when ``res`` is a maximum: finite, and the objective's slope is flat in every free
    direction (a parameter at its bound may slope outwards); else the reason it is not."""
    if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
        return f"{what} likelihood is not finite at the optimum"
    scale = max(1.0, abs(res.fun))
    for i, (lo, hi) in enumerate(bounds):
        h = 1e-5
        up, down = res.x.copy(), res.x.copy()
        up[i] = min(hi, up[i] + h)
        down[i] = max(lo, down[i] - h)
        slope = (neg_ll(up) - neg_ll(down)) / max(up[i] - down[i], 1e-12)
        at_upper, at_lower = res.x[i] >= hi - 1e-6, res.x[i] <= lo + 1e-6
        if (at_upper and slope <= 0) or (at_lower and slope >= 0):
            continue
        if abs(slope) > 1e-4 * scale:
            return f"{what} fit did not converge: slope {slope:.3g} in parameter {i} ({res.message})"
    return None


def bgnbd_objective(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, w: np.ndarray):
    """The BG/NBD objective over theta = (log r, log alpha, logit a/(a+b), log(a+b)): a function
    returning (minus the log-likelihood, its gradient) and the theta -> parameters map."""

    def unpack(theta: np.ndarray) -> BgNbdParams:
        mu, kappa = special.expit(theta[2]), np.exp(theta[3])
        return BgNbdParams(
            float(np.exp(theta[0])),
            float(np.exp(theta[1])),
            float(mu * kappa),
            float((1 - mu) * kappa),
        )

    # the likelihood evaluated on distinct x, t_x and T values, gathered per row (same numbers
    # as bgnbd_log_likelihood, far fewer special-function calls per evaluation)
    ux, ix = np.unique(x, return_inverse=True)
    utx, itx = np.unique(t_x, return_inverse=True)
    ut, it = np.unique(big_t, return_inverse=True)
    w_x = np.bincount(ix, weights=w, minlength=len(ux))
    repeat = x > 0

    def neg_ll_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Minus the log-likelihood and its gradient in theta (analytic: FHL 2005 eq. 6
        differentiated; checked against finite differences in test_predict_bgnbd.py)."""
        prm = unpack(theta)
        r, alpha, a, b = prm.r, prm.alpha, prm.a, prm.b
        with np.errstate(all="ignore"):
            per_x = (
                special.gammaln(r + ux)
                - special.gammaln(r)
                + r * np.log(alpha)
                + special.betaln(a, b + ux)
                - special.betaln(a, b)
            )
            log_at, log_atx = np.log(alpha + ut)[it], np.log(alpha + utx)[itx]
            a3 = -(r + x) * log_at
            log_dead = np.where(ux > 0, np.log(a) - np.log(np.maximum(b + ux - 1, 1e-300)), -np.inf)
            a4 = np.where(repeat, log_dead[ix] - (r + x) * log_atx, -np.inf)
            both = np.logaddexp(a3, a4)
            total = float(np.dot(w_x, per_x) + np.dot(w, both))
            s3, s4 = np.exp(a3 - both), np.where(repeat, np.exp(a4 - both), 0.0)
            # d/dr, d/dalpha, d/da, d/db of the total
            psi_abx = special.digamma(a + b + ux)
            d_r = float(np.dot(w_x, special.digamma(r + ux) - special.digamma(r) + np.log(alpha))) - float(
                np.dot(w, s3 * log_at + s4 * np.where(repeat, log_atx, 0.0))
            )
            d_alpha = float(np.sum(w_x)) * r / alpha - float(
                np.dot(w, (r + x) * (s3 / (alpha + ut)[it] + s4 / (alpha + utx)[itx]))
            )
            d_a = float(np.dot(w_x, special.digamma(a + b) - psi_abx)) + float(np.dot(w, s4)) / a
            inv_bx = np.where(ux > 0, 1.0 / np.maximum(b + ux - 1, 1e-300), 0.0)
            d_b = float(
                np.dot(
                    w_x,
                    special.digamma(b + ux) - psi_abx - special.digamma(b) + special.digamma(a + b),
                )
            ) - float(np.dot(w, s4 * inv_bx[ix]))
            mu, kappa = a / (a + b), a + b
            grad = np.array([r * d_r, alpha * d_alpha, kappa * mu * (1 - mu) * (d_a - d_b), a * d_a + b * d_b])
        if not (np.isfinite(total) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros(4)
        return -total, -grad

    return neg_ll_grad, unpack


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    big_t: ArrayLike,
    weights: ArrayLike | None = None,
    starts: Sequence[Sequence[float]] = (),
) -> FitResult:
    """Maximum-likelihood BG/NBD on rows (x, t_x, T), each standing for ``weights`` customers.

    Optimised over (log r, log alpha, logit a/(a+b), log(a+b)) with L-BFGS-B. When the data show
    no spread in the dropout probability the likelihood rises towards a + b -> infinity; a + b
    then stops at KAPPA_MAX (a point mass at p = a/(a+b)) and the reason says so.

    ``starts``: fallback starting points (r, alpha, a, b), e.g. an earlier day's parameters, tried
    only when the default start reaches no maximum; the highest likelihood among the runs that reach
    one is the fit (still maximum likelihood, never the start's values). A fit the default start
    makes never depends on what was fitted before, so a rerun or a rebuild gives the same digits.
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = float(np.average(big_t, weights=w)) if np.sum(w) > 0 else 1.0

    neg_ll_grad, unpack = bgnbd_objective(x, t_x, big_t, w)

    def neg_ll(theta: np.ndarray) -> float:
        return neg_ll_grad(theta)[0]

    bounds = [(-20.0, 20.0), (-20.0, 25.0), (-20.0, 20.0), (-10.0, float(np.log(KAPPA_MAX)))]
    start = np.array([0.0, np.log(max(scale, 1e-3)), 0.0, np.log(2.0)])

    def run_from(theta: np.ndarray) -> optimize.OptimizeResult:
        res = _polish(neg_ll_grad, theta, bounds, jac=True)
        if res.x[3] > np.log(100.0):
            # on the flat ridge towards a point mass: try the end of the ridge too
            edge = _polish(neg_ll_grad, np.append(res.x[:3], np.log(KAPPA_MAX)), bounds, jac=True)
            res = edge if edge.fun < res.fun else res
        return res

    fallback = [
        _clip(np.array([np.log(r), np.log(alpha), np.log(a / b), np.log(a + b)]), bounds)
        for r, alpha, a, b in starts
        if min(r, alpha, a, b) > 0
    ]
    maxima, problem = _maxima(run_from, [start], neg_ll, bounds, "BG/NBD")
    if not maxima and fallback:
        maxima, problem = _maxima(run_from, fallback, neg_ll, bounds, "BG/NBD")
    if not maxima:
        return FitResult(False, None, None, problem)
    res = maxima[0]
    params = unpack(res.x)
    reason = "converged"
    if res.x[3] >= np.log(KAPPA_MAX) - 1e-3:
        reason = (
            f"converged at a + b = {KAPPA_MAX:g}: the data show no spread in the dropout "
            f"probability (a point mass at p = {params.a / (params.a + params.b):.4f})"
        )
    return FitResult(True, (params.r, params.alpha, params.a, params.b), -float(res.fun), reason)


# ---- Gamma-Gamma ---------------------------------------------------------------------------------


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
    """Per-customer log-likelihood of the mean of x repeat transaction values (x > 0, m > 0)."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + g)
    )


def fit_gamma_gamma(
    x: ArrayLike,
    mean_value: ArrayLike,
    weights: ArrayLike | None = None,
    starts: Sequence[Sequence[float]] = (),
) -> FitResult:
    """Maximum-likelihood Gamma-Gamma. Only rows with x > 0 and a positive mean value are valid;
    anything else is refused (a zero value makes the likelihood NaN: never a silent default).
    ``starts``: fallback starting points (p, q, gamma), as in ``fit_bgnbd``. When the likelihood
    rises all the way to p's bound (order values with no spread around each customer's mean) the
    fit is that limit and its reason says so; at q's bound it fails (nothing to shrink towards)."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(mean_value, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if np.any(x <= 0) or np.any(~np.isfinite(m)) or np.any(m <= 0):
        raise ValueError("Gamma-Gamma takes only customers with x > 0 and a positive mean value")
    if len(x) == 0:
        return FitResult(False, None, None, "Gamma-Gamma: no repeat customers with a positive value")
    scale = float(np.average(m, weights=w))

    # parameter-free sums precomputed; special functions on distinct x only
    ux, ix = np.unique(x, return_inverse=True)
    w_x = np.bincount(ix, weights=w, minlength=len(ux))
    s_log_m = float(np.dot(w, np.log(m)))
    s_x_log_m = float(np.dot(w, x * np.log(m)))
    s_x_log_x = float(np.dot(w, x * np.log(x)))
    xm = x * m
    wx = w * x

    w_total = float(np.sum(w))

    def neg_ll(log_params: np.ndarray) -> float:
        return neg_ll_grad(log_params)[0]

    def neg_ll_grad(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        """Minus the log-likelihood and its gradient in (log p, log q, log gamma)."""
        p, q, g = np.exp(log_params)
        with np.errstate(all="ignore"):
            per_x = special.gammaln(p * ux + q) - special.gammaln(p * ux) - special.gammaln(q) + q * np.log(g)
            log_xm_g = np.log(xm + g)
            s_wx_log = float(np.dot(wx, log_xm_g))
            s_w_log = float(np.dot(w, log_xm_g))
            total = float(np.dot(w_x, per_x)) + p * s_x_log_m - s_log_m + p * s_x_log_x - p * s_wx_log - q * s_w_log
            psi_pq = special.digamma(p * ux + q)
            d_p = float(np.dot(w_x, ux * (psi_pq - special.digamma(p * ux)))) + s_x_log_m + s_x_log_x - s_wx_log
            d_q = float(np.dot(w_x, psi_pq - special.digamma(q))) + w_total * np.log(g) - s_w_log
            inv = 1.0 / (xm + g)
            d_g = w_total * q / g - p * float(np.dot(wx, inv)) - q * float(np.dot(w, inv))
            grad = -np.array([d_p * p, d_q * q, d_g * g])
        if not (np.isfinite(total) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros(3)
        return -total, grad

    bounds = [(-10.0, float(np.log(GG_MAX))), (-10.0, float(np.log(GG_MAX))), (-20.0, 40.0)]

    def run_from(theta: np.ndarray) -> optimize.OptimizeResult:
        return optimize.minimize(
            neg_ll_grad,
            theta,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
        )

    fallback = [_clip(np.log(np.asarray(start, dtype=float)), bounds) for start in starts if min(start) > 0]
    maxima, problem = _maxima(run_from, [np.log([1.0, 2.0, max(scale, 1e-3)])], neg_ll, bounds, "Gamma-Gamma")
    if not maxima and fallback:
        maxima, problem = _maxima(run_from, fallback, neg_ll, bounds, "Gamma-Gamma")
    if not maxima:
        return FitResult(False, None, None, problem)
    res = maxima[0]
    if res.x[1] >= np.log(GG_MAX) - 1e-6:
        return FitResult(
            False,
            None,
            None,
            "Gamma-Gamma q ran to its bound: the customers' mean values show no spread to fit",
        )
    reason = "converged"
    if res.x[0] >= np.log(GG_MAX) - 1e-6:
        # the likelihood rises all the way to p -> infinity: a customer's order values show no
        # spread around the customer's mean; the fit is that limit (as BG/NBD's a + b at KAPPA_MAX),
        # its expected value the customer's own mean shrunk by q and gamma
        reason = (
            f"converged at p = {GG_MAX:g}: a customer's order values show no spread around "
            "their mean (the limit of the model)"
        )
    return FitResult(True, tuple(float(v) for v in np.exp(res.x)), -float(res.fun), reason)


def expected_value(params: GammaGammaParams, x: ArrayLike, mean_value: ArrayLike) -> np.ndarray:
    """E[M | x, m] = p (gamma + x m) / (p x + q - 1); the population mean p gamma / (q - 1) at x = 0."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.nan_to_num(np.asarray(mean_value, dtype=float)), 0.0)
    return p * (g + x * m) / (p * x + q - 1)
