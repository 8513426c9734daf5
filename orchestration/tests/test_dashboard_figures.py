"""The dashboard's figures that need no browser: proper intervals at 0% and 100% (Wilson,
Newcombe), cohort cells on too few customers, and the model-health sentence from the ranking
columns of clv_model_validation (a hand-built frame: the sentence appears once the mart has them)."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import pages
from dashboard.stats import newcombe, wilson


def test_wilson_stays_inside_0_and_1_and_is_not_empty_at_the_ends():
    low, high = wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)  # the Wald interval would be [0, 0]
    low, high = wilson(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == pytest.approx(1.0)
    assert wilson(3, 0) is None


def test_newcombe_reproduces_the_published_example_and_is_proper_when_nobody_converted():
    # Newcombe (1998), Statistics in Medicine 17, example (a): 56/70 - 48/80 -> 0.0524 .. 0.3339
    low, high = newcombe(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    low, high = newcombe(0, 40, 0, 5)  # neither group converted: an interval, not [0, 0]
    assert low == pytest.approx(-wilson(0, 5)[1]) and high == pytest.approx(wilson(0, 40)[1])
    assert newcombe(1, 10, 0, 0) is None


def test_a_cohort_cell_on_too_few_customers_shows_only_its_count():
    assert pages.cohort_cell(0.5, 29, 30) == "(n=29)"
    assert pages.cohort_cell(0.5, 30, 30) == "50.0% (n=30)"
    assert pages.cohort_cell(None, 0, 30) == ""
    assert pages.cohort_cell(1234.5, 1200, 30, pages.yen) == "¥1,234 (n=1,200)"


def validation(**all_row) -> pd.DataFrame:
    buckets = [{"frequency_bucket": b, "bucket_order": i} for i, b in enumerate(["0", "1", "7+"], 1)]
    return pd.DataFrame([*buckets, {"frequency_bucket": "all", "bucket_order": 9, **all_row}])


def test_the_model_health_sentence_appears_only_with_the_ranking_columns(monkeypatch):
    monkeypatch.setattr(pages, "language", lambda: "ja")
    assert pages.model_health_sentence(validation(mean_actual=0.25)) is None
    good = validation(
        auc_churn_score=0.81, auc_recency_baseline=0.78, spearman_purchases=0.42, is_worse_than_baseline=False
    )
    assert pages.model_health_sentence(good) == (
        "離脱スコアの順位付けは AUC 0.81 で、最終購入からの日数だけの基準（AUC 0.78）以上です（購入数の順位相関 0.42）。 "
        "The churn score ranks with AUC 0.81, at least as well as recency alone (AUC 0.78); "
        "rank correlation of purchases 0.42."
    )
    bad = validation(
        auc_churn_score=0.36, auc_recency_baseline=0.86, spearman_purchases=None, is_worse_than_baseline=True
    )
    sentence = pages.model_health_sentence(bad)
    assert sentence.startswith("注意: 離脱スコアの順位付け（AUC 0.36）は") and "（AUC 0.86）より悪く" in sentence
    assert "順位相関 —" in sentence
    monkeypatch.setattr(pages, "language", lambda: "en")
    assert pages.model_health_sentence(bad).startswith("Caution: the churn score ranks worse (AUC 0.36)")
    # worse by less than two decimals show: the decimals that tell them apart
    close = validation(
        auc_churn_score=0.9312, auc_recency_baseline=0.9318, spearman_purchases=0.5, is_worse_than_baseline=True
    )
    assert pages.model_health_sentence(close).startswith(
        "Caution: the churn score ranks worse (AUC 0.931) than recency alone (AUC 0.932)"
    )
    # the run published recency's score (decision 0156): which, and why
    chose_recency = validation(
        auc_churn_score=0.8972,
        auc_recency_baseline=0.8972,
        spearman_purchases=0.5,
        is_worse_than_baseline=False,
        auc_bgnbd_churn_score=0.8914,
        churn_score_model="recency",
    )
    assert pages.model_health_sentence(chose_recency) == (
        "The churn score ranks by the days since the last purchase (AUC 0.90): BG/NBD's score ranked worse "
        "on the holdout (AUC 0.89); rank correlation of purchases 0.50."
    )


def test_the_holdout_total_is_said_in_words_beyond_15_percent(monkeypatch):
    monkeypatch.setattr(pages, "language", lambda: "en")
    over = pd.Series({"actual_purchases_holdout": 175.0, "predicted_purchases_holdout": 215.0})
    assert pages.calibration_sentence(over).startswith("Caution: the model over-predicts holdout purchases by 22.9%")
    close = pd.Series({"actual_purchases_holdout": 100.0, "predicted_purchases_holdout": 110.0})
    assert "within 15%" in pages.calibration_sentence(close)
