"""The churn score: it ranks "bought again in the holdout" better than recency on shops with planted
heterogeneous dropout, one-time buyers included; the comparison models (MBG/NBD, Pareto/NBD) by
hand and against the published CDNOW fit; the CDNOW holdout AUC printed beside recency's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestration.predict import bgnbd, churn
from orchestration.predict.fit import fit_inputs, score
from orchestration.predict.simulate import simulate_holdout_shop
from orchestration.predict.validation import auc_texts, trust_lines
from orchestration.tests.test_predict_bgnbd import _cdnow_inputs


def test_auc_by_hand() -> None:
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ranked right
    assert churn.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert churn.auc([1.0, 1.0], [True, False]) == pytest.approx(0.5)  # a tie counts half
    assert churn.auc([1.0, 2.0], [True, True]) is None


def test_mbgnbd_one_time_buyer_by_hand() -> None:
    # x = 0, t_x = 0, T = 6, r = 0.5, alpha = 2, a = 1, b = 3: dropped at time zero with p = a/(a+b)
    # = 0.25, else no purchase in 6: (2 / 8)^0.5 = 0.5 -> L = 0.25 + 0.75 x 0.5 = 0.625;
    # P(alive) = 0.375 / 0.625 = 0.6 = 1 / (1 + 1/3 x (8/2)^0.5)
    params = bgnbd.BgNbdParams(0.5, 2.0, 1.0, 3.0)
    assert np.exp(churn.mbgnbd_log_likelihood(params, 0, 0, 6)) == pytest.approx(0.625)
    assert churn.mbgnbd_p_alive(params, 0, 0, 6) == pytest.approx(0.6)
    # BG/NBD gives the same one-time buyer P(alive) = 1
    assert bgnbd.p_alive(params, 0, 0, 6) == pytest.approx(1.0)


def test_pareto_nbd_reproduces_the_published_cdnow_fit() -> None:
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way": r = 0.553,
    # alpha = 10.578, s = 0.606, beta = 11.669, log-likelihood -9595.0 (weeks)
    inputs, _ = _cdnow_inputs()
    fit = churn.fit_pareto_nbd(inputs.x, inputs.t_x, inputs.big_t)
    r, alpha, s, beta = fit.params
    assert abs(r - 0.553) < 0.002 and abs(alpha - 10.578) < 0.01
    assert abs(s - 0.606) < 0.002 and abs(beta - 11.669) < 0.01
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.1)


def test_churn_score_of_a_one_time_buyer_rises_with_tenure() -> None:
    params = bgnbd.BgNbdParams(0.25, 30.0, 0.8, 2.5)
    scores = churn.churn_score(params, np.zeros(3), np.zeros(3), np.array([10.0, 100.0, 600.0]), 180)
    assert scores[0] < scores[1] < scores[2]


def _aucs(inputs: pd.DataFrame, bought: np.ndarray, horizon: float) -> dict[str, float]:
    """AUC for "bought again in the holdout" of the published churn score (1 - churn score ranks
    buyers first), BG/NBD's P(alive) and the recency baseline (fewer days since the last purchase)."""
    outcome = fit_inputs(inputs, min_repeat_customers=1, min_history=1)
    assert outcome.status == "fitted", outcome.reason
    scored = score(outcome, inputs, {}, churn_horizon=horizon)
    return {
        "churn_score": churn.auc(1 - scored.churn_score, bought),
        "recency": churn.auc(-(inputs.big_t - inputs.t_x), bought),
        "bgnbd_p_alive": churn.auc(scored.p_alive, bought),
    }


@pytest.mark.parametrize(
    "planted",
    [
        {"seed": 1},  # a third one-time buyers
        {"seed": 3, "purchase_shape": 0.5, "purchase_scale_days": 40, "dropout_shape": 0.4, "dropout_scale_days": 100},
    ],
)
def test_churn_score_beats_recency_on_planted_heterogeneous_dropout(planted: dict) -> None:
    shop = simulate_holdout_shop(20000, holdout_days=180, **planted)
    values = np.random.default_rng(0).gamma(6.0, 1000.0, len(shop))  # the value model is not under test
    inputs = shop.assign(mean_repeat_value=np.where(shop.x > 0, values, np.nan))
    aucs = _aucs(inputs, shop.holdout_purchases.to_numpy() > 0, 180)
    print(f"planted {planted}: " + ", ".join(f"AUC {k} {v:.3f}" for k, v in aucs.items()))
    assert (shop.x == 0).mean() > 0.3  # one-time buyers are many
    assert aucs["churn_score"] > aucs["recency"]
    assert aucs["bgnbd_p_alive"] < 0.6  # why P(alive) alone is no churn score


def test_cdnow_churn_score_auc_beside_recency(capsys: pytest.CaptureFixture) -> None:
    inputs, holdout = _cdnow_inputs()
    aucs = _aucs(inputs, holdout.to_numpy() > 0, 39)
    with capsys.disabled():
        print(
            "\nCDNOW 39-week holdout, AUC for bought again: "
            f"churn score {aucs['churn_score']:.3f}, recency {aucs['recency']:.3f}, "
            f"BG/NBD P(alive) {aucs['bgnbd_p_alive']:.3f}"
        )
    # measured: churn score 0.757, recency 0.771, P(alive) 0.316 (a one-cohort sample: everyone's
    # tenure is within 12 weeks of everyone else's, so recency alone says almost all)
    assert aucs["churn_score"] == pytest.approx(0.757, abs=0.002)
    assert aucs["recency"] == pytest.approx(0.771, abs=0.002)
    assert aucs["bgnbd_p_alive"] < 0.35


def test_summary_says_in_words_when_the_model_is_off_or_ranks_worse_than_recency() -> None:
    # the sample shop before per-customer dropout: 624 predicted against 468 actual (+33%), and a
    # churn score below recency
    off = trust_lines(624.0, 468.0, 0.36, 0.86)
    assert len(off) == 2
    assert "+33%" in off[0] and "624" in off[0] and "468" in off[0]
    assert "worse than its baseline" in off[1] and "0.36" in off[1] and "0.86" in off[1]
    # +1.5% in total and a score above recency: nothing to say
    assert trust_lines(10632.0, 10475.0, 0.90, 0.86) == []
    assert len(trust_lines(539.0, 468.0, 0.90, 0.86)) == 1  # +15.2%: off
    assert trust_lines(538.0, 468.0, 0.90, 0.86) == []  # +14.96%: within
    # worse by less than the second decimal shows: as many decimals as tell them apart, never
    # "0.93 against 0.93"
    close = trust_lines(500.0, 500.0, 0.9312, 0.9318)
    assert len(close) == 1 and "AUC 0.931 for" in close[0] and "against 0.932 for" in close[0]
    assert auc_texts(0.93124, 0.93121) == ("0.9312", "0.9312")  # 4 decimals at most
    assert auc_texts(0.36, 0.86) == ("0.36", "0.86")


def test_the_recency_curve_recovers_planted_coefficients_and_refuses_what_recency_cannot_rank() -> None:
    rng = np.random.default_rng(1)
    recency = rng.integers(0, 700, 200_000)
    bought = rng.random(len(recency)) < special_expit(1.5 - 0.6 * np.log1p(recency))
    logit = churn.fit_recency_logit(recency, bought)
    assert (logit.intercept, logit.slope) == (pytest.approx(1.5, abs=0.03), pytest.approx(-0.6, abs=0.01))
    # grouped by day (as the fit does it): the same curve
    days, at = np.unique(recency, return_inverse=True)
    grouped = churn.fit_recency_logit(days, np.bincount(at, weights=bought), np.bincount(at))
    assert grouped.intercept == pytest.approx(logit.intercept, rel=1e-6)
    assert grouped.slope == pytest.approx(logit.slope, rel=1e-6)
    # the score is 1 - P(a purchase) on that curve, falling with every day
    assert churn.recency_churn_score(logit, [0, 8]) == pytest.approx(
        [1 - special_expit(logit.intercept), 1 - special_expit(logit.intercept + logit.slope * np.log(9))]
    )
    # buyers longer gone (a slope above 0), one recency for all, nobody bought: no curve
    assert churn.fit_recency_logit(recency, rng.random(len(recency)) < recency / 700) is None
    assert churn.fit_recency_logit([5, 5, 5], [True, False, True]) is None
    assert churn.fit_recency_logit([1, 5, 9], [False, False, False]) is None


def test_the_churn_score_is_recency_s_only_where_the_model_ranks_worse_on_the_holdout() -> None:
    """Decision 0156: the published churn score ranks at least as well as recency on the holdout."""
    rng = np.random.default_rng(7)
    recency = rng.integers(0, 400, 5_000).astype(float)
    bought = rng.random(len(recency)) < special_expit(1.0 - 0.5 * np.log1p(recency))
    noisy = 1 - special_expit(1.0 - 0.5 * np.log1p(recency) + rng.normal(0, 2, len(recency)))  # ranks worse
    choice = churn.choose_churn_score(noisy, recency, bought)
    assert choice.model == "recency" and choice.auc_bgnbd < choice.auc_recency
    published = churn.recency_churn_score(choice.recency_logit, recency)
    assert churn.auc(-published, bought) == pytest.approx(choice.auc_recency, abs=1e-12)  # ranks as recency
    # a model that ranks better than recency stays
    sharper = 1 - special_expit(1.0 - 0.5 * np.log1p(recency) + 3.0 * (bought - 0.5))
    kept = churn.choose_churn_score(sharper, recency, bought)
    assert kept.model == "bgnbd" and kept.recency_logit is None and kept.auc_bgnbd > kept.auc_recency


def test_the_fit_publishes_recency_s_score_in_both_fits_and_keeps_bgnbd_s_beside_it() -> None:
    from orchestration.predict.fit import FitOutcome, _fits_frame, choose_churn_score

    rng = np.random.default_rng(3)
    n = 3_000
    cal = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "x": 0.0,
            "t_x": 0.0,
            "big_t": rng.integers(1, 400, n).astype(float),
        }
    )
    cal["holdout_purchases"] = (rng.random(n) < special_expit(1.0 - 0.5 * np.log1p(cal.big_t))).astype(int)
    worse = 1 - special_expit(rng.normal(0, 1, n))  # a score that ranks nothing

    def fitted(fit: str, frame: pd.DataFrame) -> FitOutcome:
        outcome = FitOutcome(fit, "fitted", "converged", n, 0, bgnbd=(0.2, 30.0, 100.0, 150.0))
        outcome.scores = frame.drop(columns="holdout_purchases", errors="ignore").assign(churn_score=worse)
        return outcome

    full, calibration = fitted("full", cal.assign(big_t=cal.big_t + 180)), fitted("calibration", cal)
    choose_churn_score(full, calibration, cal)
    assert full.churn is calibration.churn and full.churn.model == "recency"
    for outcome in (full, calibration):
        assert outcome.scores.bgnbd_churn_score.tolist() == pytest.approx(worse.tolist())
        recency = (outcome.scores.big_t - outcome.scores.t_x).to_numpy()
        assert outcome.scores.churn_score.tolist() == pytest.approx(
            churn.recency_churn_score(full.churn.recency_logit, recency).tolist()
        )
    rows = _fits_frame(pd.Timestamp("2025-06-30").date(), [full, calibration])
    assert rows.churn_score_model.tolist() == ["recency", "recency"]
    assert rows.recency_logit_slope.iloc[0] == full.churn.recency_logit.slope < 0
    # without a fitted calibration there is nothing to choose on: BG/NBD's score, as fitted
    full = fitted("full", cal)
    choose_churn_score(full, FitOutcome("calibration", "too_little_data", "few", n, 0), cal)
    assert full.churn.model == "bgnbd" and full.scores.churn_score.tolist() == pytest.approx(worse.tolist())


def test_the_summary_says_when_the_churn_score_is_recency_s() -> None:
    from orchestration.predict.validation import recency_line

    line = recency_line(0.8914, 0.8972)
    assert "days since the last purchase" in line and "AUC 0.89 against 0.90" in line


def special_expit(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
