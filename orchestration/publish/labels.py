"""Japanese names of the codes the marts carry without one (channels, audiences, churn bands, PPM
quadrants), for the dashboard and the morning digest. Codes the marts name themselves (CPM states,
loyalty tiers: cpm_state_ja, loyalty_tier_ja) are read from the marts instead."""

from __future__ import annotations

CHANNELS_JA = {
    "paid_search": "検索広告",
    "paid_social": "SNS広告",
    "affiliate": "アフィリエイト",
    "email": "メール",
    "line": "LINE",
    "organic": "自然検索",
    "direct": "直接",
    "referral": "紹介",
    "other": "その他",
    "unknown": "不明",
    "all": "全体",
}
AUDIENCES_JA = {
    "cart_follow_up": "カゴ落ちフォロー",
    "second_purchase_nurture": "2回目購入育成",
    "move_up": "引上げ",
    "loyal_at_risk": "離脱予兆の優良客",
    "win_back": "休眠掘り起こし",
    "subscription_upsell": "定期引上げ",
}


def channel_ja(code: str | None) -> str:
    return CHANNELS_JA.get(code or "", code or "—")


def audience_ja(code: str) -> str:
    return AUDIENCES_JA.get(code, code)


CHURN_RISK_JA = {"low": "低", "medium": "中", "high": "高"}
CHURN_RISK_ORDER = ["high", "medium", "low"]
PPM_JA = {"star": "花形", "cash_cow": "金のなる木", "question_mark": "問題児", "dog": "負け犬"}


def label(names: dict[str, str], code: str | None, language: str = "ja") -> str:
    """A code as the dashboard shows it: Japanese with the code beside (ja), or the code (en)."""
    if code is None:
        return "—"
    if language == "en":
        return str(code)
    ja = names.get(code)
    return f"{ja} {code}" if ja and ja != code else str(code)
