"""What the run summary says about the prediction model's holdout check (marts.clv_model_validation,
domain.md "Predicted lifetime value and churn"): in words, when the model is off by more than 15%
in total or its churn score ranks "bought again" worse than the recency baseline."""

from __future__ import annotations

import duckdb

# the model is "off" when its total holdout prediction misses the actual by more than this share
OFF_IN_TOTAL_ABOVE = 0.15


def auc_texts(auc: float, baseline: float) -> tuple[str, str]:
    """The churn score's AUC and the recency baseline's, with the fewest decimals (2 to 4) at which
    they read differently: "worse" never reads as "0.93 against 0.93"."""
    for decimals in range(2, 5):
        texts = f"{auc:.{decimals}f}", f"{baseline:.{decimals}f}"
        if texts[0] != texts[1]:
            break
    return texts


def trust_lines(
    total_predicted: float | None, total_actual: float | None, auc: float | None, baseline: float | None
) -> list[str]:
    """The sentences for one validation `all` row (empty when the model holds on both counts)."""
    lines = []
    if total_predicted is not None and total_actual:
        off = (total_predicted - total_actual) / total_actual
        if abs(off) > OFF_IN_TOTAL_ABOVE:
            lines.append(
                f"Predictions are off: on the holdout the model predicted {total_predicted:,.0f} repeat purchase days "
                f"against {total_actual:,.0f} actual ({off:+.0%}, more than {OFF_IN_TOTAL_ABOVE:.0%}); "
                "read expected purchases and CLV as rough."
            )
    if auc is not None and baseline is not None and auc < baseline:
        auc_text, baseline_text = auc_texts(auc, baseline)
        lines.append(
            f"The churn score ranks worse than its baseline: AUC {auc_text} for bought again in the holdout, "
            f"against {baseline_text} for the days since the last purchase alone; the churn bands "
            "(and the audiences that read them) are less reliable than recency."
        )
    return lines


def recency_line(auc_bgnbd: float | None, baseline: float | None) -> str:
    """What the summary says when the run published recency's churn score (decision 0156)."""
    if auc_bgnbd is None or baseline is None:
        return "The churn score ranks by the days since the last purchase (recency's curve)."
    bgnbd_text, baseline_text = auc_texts(auc_bgnbd, baseline)
    return (
        f"The churn score ranks by the days since the last purchase: BG/NBD's score ranked bought again "
        f"worse on the holdout (AUC {bgnbd_text} against {baseline_text}), so the churn bands use recency's curve."
    )


def summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The trust sentences of the warehouse's last validation; empty when there is none."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = 'clv_model_validation'"
    ).fetchone()[0]
    if not exists:
        return []
    chosen = {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'clv_model_validation'"
        ).fetchall()
    } >= {"churn_score_model", "auc_bgnbd_churn_score"}
    row = con.execute(
        "select predicted_purchases_holdout, actual_purchases_holdout, auc_churn_score, auc_recency_baseline, "
        + ("churn_score_model, auc_bgnbd_churn_score " if chosen else "null, null ")
        + "from marts.clv_model_validation where frequency_bucket = 'all'"
    ).fetchone()
    if row is None:
        return []
    predicted, actual, auc, baseline, model, auc_bgnbd = row
    lines = trust_lines(predicted, actual, auc, baseline)
    if model == "recency":
        return [*lines, recency_line(auc_bgnbd, baseline)]
    if not lines:
        held = f"Predictions hold on the holdout: {predicted:,.0f} repeat purchase days predicted against {actual:,.0f} actual"
        if auc is not None and baseline is not None:
            auc_text, baseline_text = auc_texts(auc, baseline)
            lines = [f"{held}; churn score AUC {auc_text} (recency alone {baseline_text})."]
        else:
            lines = [
                f"Predictions on the holdout: {predicted:,.0f} repeat purchase days predicted against {actual:,.0f} actual."
            ]
    return lines
