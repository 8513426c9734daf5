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
