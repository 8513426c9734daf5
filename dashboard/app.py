"""CRM dashboard: `python -m orchestration.cli dashboard` (or `streamlit run dashboard/app.py`).

Reads the published marts read-only (dashboard/data.py); works offline. One page per subject,
labels in Japanese and English. A page whose mart is missing or empty says why.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import pages

st.set_page_config(page_title="CRM ダッシュボード Dashboard", layout="wide")

navigation = st.navigation(
    [
        st.Page(pages.kpis, title="KPI 主要指標", url_path="kpis", default=True),
        st.Page(pages.portfolio, title="顧客ポートフォリオ CPM", url_path="portfolio"),
        st.Page(pages.f2, title="F2転換 Second purchase", url_path="f2"),
        st.Page(pages.channels, title="チャネル Channels", url_path="channels"),
        st.Page(pages.funnel, title="ファネル Funnel", url_path="funnel"),
        st.Page(pages.loyalty, title="ロイヤル顧客 Loyalty tiers", url_path="loyalty"),
        st.Page(pages.products, title="商品 Products", url_path="products"),
        st.Page(pages.predictions, title="予測 Predictions", url_path="predictions"),
        st.Page(pages.today, title="今日の配信 Today's sends", url_path="today"),
        st.Page(pages.audiences, title="オーディエンス Audiences", url_path="audiences"),
        st.Page(pages.subscriptions, title="定期 Subscriptions", url_path="subscriptions"),
    ]
)
pages.sidebar()
navigation.run()
# rendered last: a browser (the headless test) knows the page finished without raising
st.html('<div id="crm-page-ready"></div>')
