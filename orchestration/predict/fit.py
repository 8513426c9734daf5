"""Fit BG/NBD + Gamma-Gamma on the warehouse's int_clv_inputs and write the parameters and the
per-customer scores to the tables the dbt project reads as sources (model_fits.clv_fits,
model_fits.clv_scores). Used by the Dagster asset and by ``python -m orchestration.predict fit``.

Two fits per run: ``full`` (data to as_of) and ``calibration`` (data to as_of - holdout, for the
validation mart). A fit is ``fitted``, ``too_little_data`` (with the reason, no numbers) or
``failed`` (the optimiser did not converge: no numbers, never default parameters).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.predict import bgnbd, churn, tables

FITS_SCHEMA = tables.SCHEMA
FITS_TABLE = "clv_fits"
SCORES_TABLE = "clv_scores"
INPUTS_RELATION = "intermediate.int_clv_inputs"
# the marts each fit fills: while a fit is `failed` they are not published (BI keeps the previous
# ones; the Dagster check `clv_fit_converged` is an ERROR); every other mart publishes
MARTS_OF_FIT = {"full": ("customer_predictions",), "calibration": ("clv_model_validation",)}
HOW_TO_FIT = "run `python -m orchestration.cli run` or `python -m orchestration.predict fit`"

# columns and types: the one declaration in dbt_project.yml (var `model_fits_tables`)
FITS_COLUMNS = tables.columns(FITS_TABLE)
SCORES_COLUMNS = tables.columns(SCORES_TABLE)


@dataclass
class FitOutcome:
    """One fit: status and reason, counts, and parameters only when fitted."""

    fit: str
    status: str
    reason: str
    count_customers: int
    count_repeat_customers: int
    bgnbd: tuple[float, ...] | None = None
    log_likelihood: float | None = None
    gamma_gamma: tuple[float, ...] | None = None
    gg_log_likelihood: float | None = None
    seconds: float = 0.0
    scores: pd.DataFrame | None = field(default=None, repr=False)
    churn: churn.ChurnChoice | None = None  # the churn score published, chosen on the holdout


def fit_inputs(
    inputs: pd.DataFrame,
    min_repeat_customers: int,
    min_history: float,
    fit: str = "full",
    warm_start: FitOutcome | None = None,
) -> FitOutcome:
    """Fit both models on per-customer inputs (columns x, t_x, big_t, mean_repeat_value).
    ``warm_start``: the last stored fit of the same kind (``stored_fits``); its parameters are a
    further starting point of the optimiser, so a day with a few more orders finds the maximum
    the day before found (the default start alone can stop short of it)."""
    started = time.perf_counter()
    n = len(inputs)
    repeat = inputs[inputs.x > 0]
    history = float(inputs.big_t.max()) if n else 0.0
    outcome = FitOutcome(fit, "fitted", "converged", n, len(repeat))
    if len(repeat) < min_repeat_customers:
        outcome.status, outcome.reason = (
            "too_little_data",
            (
                f"{len(repeat)} customers with a repeat purchase; the model needs at least "
                f"{min_repeat_customers} (var clv_min_repeat_customers)"
            ),
        )
    elif history < min_history:
        outcome.status, outcome.reason = (
            "too_little_data",
            (
                f"{history:g} days from the first purchase to the cut-off; the model needs at least "
                f"{min_history:g} (var clv_min_history_days)"
            ),
        )
    if outcome.status != "fitted":
        outcome.seconds = time.perf_counter() - started
        return outcome
    rows = inputs.groupby(["x", "t_x", "big_t"], as_index=False).size()
    warm = warm_start if warm_start is not None and warm_start.status == "fitted" else None
    bg = bgnbd.fit_bgnbd(
        rows.x,
        rows.t_x,
        rows.big_t,
        rows["size"],
        starts=[warm.bgnbd] if warm and warm.bgnbd else [],
    )
    valued = repeat[np.isfinite(repeat.mean_repeat_value) & (repeat.mean_repeat_value > 0)]
    if not bg.converged:
        outcome.status, outcome.reason = "failed", bg.reason
    elif len(valued) == 0:
        outcome.status, outcome.reason = (
            "failed",
            "Gamma-Gamma: no repeat customer has a positive value",
        )
    else:
        vrows = valued.groupby(["x", "mean_repeat_value"], as_index=False).size()
        gg = bgnbd.fit_gamma_gamma(
            vrows.x,
            vrows.mean_repeat_value,
            vrows["size"],
            starts=[warm.gamma_gamma] if warm and warm.gamma_gamma else [],
        )
        if not gg.converged:
            outcome.status, outcome.reason = "failed", gg.reason
        elif gg.params[1] <= 1:
            outcome.status, outcome.reason = (
                "failed",
                (f"Gamma-Gamma q = {gg.params[1]:.3f} <= 1: the expected value is infinite"),
            )
        else:
            outcome.bgnbd, outcome.log_likelihood = bg.params, bg.log_likelihood
            outcome.gamma_gamma, outcome.gg_log_likelihood = gg.params, gg.log_likelihood
            outcome.reason = (
                f"BG/NBD on {n} customers ({len(rows)} distinct rows), Gamma-Gamma on "
                f"{len(valued)} repeat customers with a value"
                + ("" if bg.reason == "converged" else f"; BG/NBD {bg.reason}")
                + ("" if gg.reason == "converged" else f"; Gamma-Gamma {gg.reason}")
            )
    outcome.seconds = time.perf_counter() - started
    return outcome


def score(outcome: FitOutcome, inputs: pd.DataFrame, horizons: dict[str, float], churn_horizon: float) -> pd.DataFrame:
    """Per-customer predictions of a fitted outcome, computed once per distinct (x, t_x, T) row.
    ``horizons`` maps an output column to a horizon in the inputs' time unit; ``churn_horizon``:
    the churn score's (churn.churn_score: 1 - P(a purchase within it))."""
    if outcome.status != "fitted":
        return inputs.iloc[0:0].assign(p_alive=[], churn_score=[], **{k: [] for k in horizons})
    params = bgnbd.BgNbdParams(*outcome.bgnbd)
    gg = bgnbd.GammaGammaParams(*outcome.gamma_gamma)
    rows = inputs[["x", "t_x", "big_t"]].drop_duplicates()
    x, t_x, big_t = rows.x.to_numpy(float), rows.t_x.to_numpy(float), rows.big_t.to_numpy(float)
    alive = bgnbd.p_alive(params, x, t_x, big_t)
    rows = rows.assign(
        p_alive=alive,
        expected_days_between_purchases=1.0 / bgnbd.posterior_rate(params, x, big_t),
        churn_score=churn.churn_score(params, x, t_x, big_t, churn_horizon),
    )
    for column, t in horizons.items():
        rows[column] = bgnbd.expected_purchases(params, t, x, t_x, big_t)
    out = inputs.merge(rows, on=["x", "t_x", "big_t"], how="left")
    out["expected_order_value"] = bgnbd.expected_value(gg, out.x.to_numpy(float), out.mean_repeat_value.to_numpy(float))
    return out


def _fit_and_score(
    inputs: pd.DataFrame,
    fit: str,
    horizons: dict[str, float],
    churn_horizon: float,
    min_repeat: int,
    min_history: float,
    warm_start: FitOutcome | None = None,
) -> FitOutcome:
    outcome = fit_inputs(inputs, min_repeat, min_history, fit, warm_start)
    started = time.perf_counter()
    scored = score(outcome, inputs, horizons, churn_horizon)
    numbers = scored[["p_alive", "churn_score", *horizons]].to_numpy(float) if len(scored) else np.zeros((0, 1))
    if not np.all(np.isfinite(numbers)):
        outcome.status, outcome.reason = "failed", "predictions are not finite for some customers"
        outcome.bgnbd = outcome.log_likelihood = outcome.gamma_gamma = outcome.gg_log_likelihood = None
        scored = scored.iloc[0:0]
    outcome.scores = scored
    outcome.seconds += time.perf_counter() - started
    return outcome


def fit_warehouse(database: str | Path, as_of: date | None = None) -> list[FitOutcome]:
    """Read int_clv_inputs, fit ``full`` and ``calibration``, write model_fits.clv_fits and
    model_fits.clv_scores (replacing the previous run's rows). Returns both outcomes."""
    with duckdb.connect(str(database)) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'intermediate' "
            "and table_name = 'int_clv_inputs'"
        ).fetchone()[0]
        if not exists:
            raise RuntimeError(f"{INPUTS_RELATION} is missing: run `dbt build` first")
        # in one order on every engine: the optimiser then sees the same sums to the last digit
        inputs = con.execute(f"select * from {INPUTS_RELATION} order by customer_id").df()
        day = pd.Timestamp(inputs.as_of_date.iloc[0]).date() if len(inputs) else as_of
        # warm start from an earlier day's fit only: a day fitted again starts where it started
        # the first time, so a rerun gives the same parameters to the last digit
        previous = stored_fits(con, before=day)
    if len(inputs) == 0:
        if as_of is None:
            raise RuntimeError(f"{INPUTS_RELATION} is empty and no --as-of was given")
        built_as_of = as_of
        holdout, min_repeat, min_history, horizon_days = 180, 1, 1, 3 * 365
    else:
        built_as_of = pd.Timestamp(inputs.as_of_date.iloc[0]).date()
        holdout = int(inputs.holdout_days.iloc[0])
        min_repeat = int(inputs.min_repeat_customers.iloc[0])
        min_history = float(inputs.min_history_days.iloc[0])
        horizon_days = int(inputs.ltv_horizon_days.iloc[0])
    if as_of is not None and as_of != built_as_of:
        raise RuntimeError(
            f"{INPUTS_RELATION} was built as of {built_as_of}, not {as_of}: "
            f"run `dbt build --vars '{{as_of_date: {as_of}}}'` first"
        )
    horizon = {
        "expected_purchases_30d": 30,
        "expected_purchases_90d": 90,
        "expected_purchases_365d": 365,
        "expected_purchases_horizon": horizon_days,
    }
    full_inputs = inputs[["customer_id", "x", "t_x", "big_t", "mean_repeat_value"]].astype(
        {"x": float, "t_x": float, "big_t": float, "mean_repeat_value": float}
    )
    cal = inputs[inputs.in_calibration.astype(bool)] if len(inputs) else inputs
    cal_inputs = pd.DataFrame(
        {
            "customer_id": cal.customer_id,
            "x": cal.cal_x.astype(float),
            "t_x": cal.cal_t_x.astype(float),
            "big_t": cal.cal_big_t.astype(float),
            "mean_repeat_value": cal.cal_mean_repeat_value.astype(float),
        }
    )
    # the churn score looks as far ahead as the validation's holdout, which measures how it ranks
    full = _fit_and_score(full_inputs, "full", horizon, holdout, min_repeat, min_history, previous.get("full"))
    calibration = _fit_and_score(
        cal_inputs,
        "calibration",
        {"expected_purchases_holdout": holdout},
        holdout,
        min_repeat,
        min_history,
        previous.get("calibration"),
    )
    choose_churn_score(full, calibration, cal)
    write_outcomes(database, built_as_of, [full, calibration])
    return [full, calibration]


def choose_churn_score(full: FitOutcome, calibration: FitOutcome, cal: pd.DataFrame) -> None:
    """Publish BG/NBD's churn score, or recency's where BG/NBD's ranks "bought again" worse on the
    holdout (decision 0156; churn.choose_churn_score), in both fits' scores; BG/NBD's is kept beside
    it (``bgnbd_churn_score``) for the validation's comparison. ``cal``: the calibration customers'
    inputs with their holdout purchases. Without a fitted calibration there is no evidence: BG/NBD."""
    for outcome in (full, calibration):
        if outcome.scores is not None:
            outcome.scores["bgnbd_churn_score"] = outcome.scores["churn_score"]
        outcome.churn = churn.ChurnChoice("bgnbd", None, None) if outcome.status == "fitted" else None
    if full.status != "fitted" or calibration.status != "fitted":
        return
    scored = calibration.scores.merge(
        cal[["customer_id", "holdout_purchases"]].astype({"holdout_purchases": float}), on="customer_id"
    )
    choice = churn.choose_churn_score(
        scored.churn_score.to_numpy(float),
        (scored.big_t - scored.t_x).to_numpy(float),
        scored.holdout_purchases.to_numpy(float) > 0,
    )
    for outcome in (full, calibration):
        outcome.churn = choice
        if choice.recency_logit is not None:
            recency = (outcome.scores.big_t - outcome.scores.t_x).to_numpy(float)
            outcome.scores["churn_score"] = churn.recency_churn_score(choice.recency_logit, recency)


def stored_fits(con: duckdb.DuckDBPyConnection, before: date | None = None) -> dict[str, FitOutcome]:
    """The latest stored fits (model_fits.clv_fits) that were fitted, by fit kind, with their
    parameters, of a day before ``before``: the warm start of that day's fits. Empty before the
    first fit."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [FITS_SCHEMA, FITS_TABLE],
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        f"select fit, count_customers, count_repeat_customers, r, alpha, a, b, gg_p, gg_q, gg_gamma "
        f"from {FITS_SCHEMA}.{FITS_TABLE} where status = 'fitted' and (? is null or as_of_date < ?) "
        "order by as_of_date, fitted_at",
        [before, before],
    ).fetchall()
    out = {}
    for fit, n, n_repeat, *numbers in rows:
        if all(v is not None and np.isfinite(v) and v > 0 for v in numbers):
            out[fit] = FitOutcome(
                fit,
                "fitted",
                "stored",
                n,
                n_repeat,
                bgnbd=tuple(numbers[:4]),
                gamma_gamma=tuple(numbers[4:]),
            )
    return out


def _fits_frame(as_of: date, outcomes: list[FitOutcome]) -> pd.DataFrame:
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for o in outcomes:
        r, alpha, a, b = o.bgnbd or (None,) * 4
        p, q, g = o.gamma_gamma or (None,) * 3
        logit = o.churn.recency_logit if o.churn else None
        rows.append(
            {
                "as_of_date": as_of,
                "fit": o.fit,
                "status": o.status,
                "status_reason": o.reason,
                "count_customers": o.count_customers,
                "count_repeat_customers": o.count_repeat_customers,
                "r": r,
                "alpha": alpha,
                "a": a,
                "b": b,
                "log_likelihood": o.log_likelihood,
                "gg_p": p,
                "gg_q": q,
                "gg_gamma": g,
                "gg_log_likelihood": o.gg_log_likelihood,
                "fit_seconds": o.seconds,
                "fitted_at": now,
                "churn_score_model": o.churn.model if o.churn else None,
                "recency_logit_intercept": logit.intercept if logit else None,
                "recency_logit_slope": logit.slope if logit else None,
            }
        )
    return pd.DataFrame(rows, columns=list(FITS_COLUMNS))


def _scores_frame(as_of: date, outcomes: list[FitOutcome]) -> pd.DataFrame:
    parts = []
    for o in outcomes:
        if o.scores is None or len(o.scores) == 0:
            continue
        part = o.scores.assign(as_of_date=as_of, fit=o.fit)
        parts.append(part.reindex(columns=list(SCORES_COLUMNS)))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORES_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def create_tables_sql() -> list[str]:
    """The DDL that makes the fits tables exist (empty) before any fit."""
    return [*tables.create_table_sql(FITS_TABLE), *tables.create_table_sql(SCORES_TABLE)]


def write_outcomes(database: str | Path, as_of: date, outcomes: list[FitOutcome]) -> None:
    """Replace the fits and scores tables' rows with this run's, in one transaction."""
    fits = _fits_frame(as_of, outcomes)
    scores = _scores_frame(as_of, outcomes)
    with duckdb.connect(str(database)) as con:
        for sql in create_tables_sql():
            con.execute(sql)
        con.execute("begin")
        con.execute(f"delete from {FITS_SCHEMA}.{FITS_TABLE}")
        con.execute(f"delete from {FITS_SCHEMA}.{SCORES_TABLE}")
        con.register("fits_df", fits)
        con.register("scores_df", scores)
        con.execute(f"insert into {FITS_SCHEMA}.{FITS_TABLE} select {', '.join(FITS_COLUMNS)} from fits_df")
        con.execute(f"insert into {FITS_SCHEMA}.{SCORES_TABLE} select {', '.join(SCORES_COLUMNS)} from scores_df")
        con.execute("commit")


def failed_fit_marts(database: str | Path) -> dict[str, str]:
    """The marts not to publish, each with why: those of the last run's fits that failed
    (model_fits.clv_fits). Empty when every fit is fitted or too_little_data, or nothing was fitted."""
    with duckdb.connect(str(database), read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [FITS_SCHEMA, FITS_TABLE],
        ).fetchone()[0]
        rows = (
            con.execute(f"select fit, status_reason from {FITS_SCHEMA}.{FITS_TABLE} where status = 'failed'").fetchall()
            if exists
            else []
        )
    return held_back_marts(rows)


def held_back_marts(failed: list[tuple[str, str]]) -> dict[str, str]:
    """mart -> why, for failed fits given as (fit, reason) pairs (MARTS_OF_FIT)."""
    return {mart: f"the {fit} fit failed: {reason}" for fit, reason in failed for mart in MARTS_OF_FIT.get(fit, ())}
