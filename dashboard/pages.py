"""The dashboard's pages. Each reads marts through dashboard/data.py and shows why when a mart is
missing or empty. Figures are the marts' own columns: no metric is re-derived here."""

from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import data

FONT = {"family": "Noto Sans CJK JP, Noto Sans JP, sans-serif"}


def yen(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"¥{float(x):,.0f}"


def pct(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x) * 100:.1f}%"


def count(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{int(x):,}"


def _show(fig: go.Figure) -> None:
    fig.update_layout(font=FONT, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, use_container_width=True)


def _problem(m: data.Mart) -> bool:
    """Show why a mart has no rows; True when the page section must stop."""
    if m.problem:
        st.info(m.problem)
        return True
    return False


def sidebar() -> None:
    st.sidebar.caption(f"公開データ Published: `{data.database()}`")
    as_of = data.manifest_as_of()
    if as_of:
        st.sidebar.caption(f"基準日 as_of_date: {as_of}")


# ---- KPIs ----------------------------------------------------------------------------------------


def kpis() -> None:
    st.title("KPI 主要指標 / Key metrics")
    st.caption(
        "kpi_monthly (definitions: macros/kpi_rollup.sql and the semantic layer "
        "models/marts/semantic/_semantic__metrics.yml)"
    )
    m = data.mart("kpi_monthly", "select * from marts.kpi_monthly order by month_start_date")
    if _problem(m):
        return
    df = m.df
    months = [d.strftime("%Y-%m") for d in pd.to_datetime(df["month_start_date"])]
    chosen = st.selectbox("期間 Period (month)", months, index=len(months) - 1)
    row = df.iloc[months.index(chosen)]
    c = st.columns(4)
    c[0].metric("売上 Revenue", yen(row["revenue"]))
    c[1].metric("注文数 Orders", count(row["count_orders"]))
    c[2].metric("客単価 AOV", yen(row["aov"]))
    c[3].metric("CAC (CPO)", yen(row["cac"]))
    c = st.columns(4)
    c[0].metric("新規顧客 New customers", count(row["count_new_customers"]))
    c[1].metric("リピート顧客 Repeat customers", count(row["count_repeat_customers"]))
    c[2].metric("CVR 購入率", pct(row["conversion_rate"]))
    c[3].metric("カゴ落ち率 Cart abandonment", pct(row["cart_abandonment_rate"]))
    c = st.columns(4)
    c[0].metric("前月比 MoM", pct(row["revenue_growth_mom"]))
    c[1].metric("前年比 YoY", pct(row["revenue_growth_yoy"]))
    c[2].metric("広告費 Spend", yen(row["spend"]))
    c[3].metric("リピート売上 Repeat revenue", yen(row["repeat_revenue"]))
    df = df.assign(month=months)
    _show(px.bar(df, x="month", y="revenue", title="月次売上 Monthly revenue (JPY)"))
    long = df.melt(
        id_vars="month",
        value_vars=["count_new_customers", "count_repeat_customers"],
        var_name="kind",
        value_name="customers",
    )
    long["kind"] = long["kind"].map({"count_new_customers": "新規 New", "count_repeat_customers": "リピート Repeat"})
    _show(
        px.bar(
            long,
            x="month",
            y="customers",
            color="kind",
            barmode="group",
            title="新規とリピート New vs repeat customers",
        )
    )


# ---- CPM portfolio -------------------------------------------------------------------------------


def _state_label(df: pd.DataFrame, ja: str = "cpm_state_ja", key: str = "cpm_state") -> pd.Series:
    return df[ja] + " " + df[key]


def portfolio() -> None:
    """CPM states, this month's transitions and movements, and the 12-month forecast: states, their
    names and order from dim_cpm_states, movements from portfolio_transitions.movement, the
    forecast from portfolio_forecast (definitions in those models, not here)."""
    st.title("顧客ポートフォリオ CPM / Customer portfolio")
    states = data.mart("dim_cpm_states", "select * from marts.dim_cpm_states order by state_order")
    if _problem(states):
        return
    order = list(states.df["cpm_state"])
    labels = dict(zip(states.df["cpm_state"], _state_label(states.df), strict=True))
    m = data.mart(
        "customer_portfolio_monthly",
        "select month_end_date, cpm_state, count(*) as customers "
        "from marts.customer_portfolio_monthly group by all order by 1",
    )
    if _problem(m):
        return
    counts = m.df
    last_date = counts["month_end_date"].max()
    latest = counts[counts["month_end_date"] == last_date]
    active = latest.merge(states.df, on="cpm_state").query("cpm_status == 'active'")["customers"].sum()
    c = st.columns(3)
    c[0].metric("顧客数 Customers", count(latest["customers"].sum()))
    c[1].metric("現役客 Active", count(active))
    c[2].metric("基準日 Date", str(pd.Timestamp(last_date).date()))
    counts = counts.assign(state=counts["cpm_state"].map(labels))
    _show(
        px.area(
            counts,
            x="month_end_date",
            y="customers",
            color="state",
            category_orders={"state": [labels[s] for s in order]},
            title="状態別顧客数の推移 Customers by CPM state",
        )
    )

    t = data.mart(
        "portfolio_transitions",
        "select * from marts.portfolio_transitions where month_end_date = "
        "(select max(month_end_date) from marts.portfolio_transitions)",
    )
    if _problem(t):
        return
    this = t.df
    heat = this.pivot_table(
        index="from_state",
        columns="to_state",
        values="count_customers",
        aggfunc="sum",
        fill_value=0,
    )
    heat = heat.reindex(index=[s for s in order if s in heat.index], columns=[s for s in order if s in heat.columns])
    heat = heat.rename(index=labels, columns=labels)
    fig = px.imshow(
        heat,
        text_auto=True,
        color_continuous_scale="Blues",
        aspect="auto",
        title=f"今月の遷移 Transitions to {pd.Timestamp(this['month_end_date'].max()).date()}",
    )
    _show(fig)
    moves = movement_counts(this)
    st.caption("今月の動き Movements this month (portfolio_transitions.movement)")
    for start in range(0, len(moves), 6):
        for col, (_, r) in zip(st.columns(6), moves.iloc[start : start + 6].iterrows(), strict=False):
            col.metric(f"{r['movement_ja']} {r['movement']}", count(r["count_customers"]))

    f = data.mart("portfolio_forecast", "select * from marts.portfolio_forecast order by months_ahead")
    if _problem(f):
        return
    proj = f.df.assign(state=_state_label(f.df))
    window = int(proj["transition_window_months"].iloc[0])
    st.caption(
        f"12か月予測 (portfolio_forecast): 直近{window}か月の遷移行列と新規流入の平均で推計 / "
        f"projection with the transition matrix and mean inflow of the last {window} month ends."
    )
    _show(
        px.area(
            proj,
            x="month_end_date",
            y="projected_count_customers",
            color="state",
            category_orders={"state": [labels[s] for s in order if s in set(proj["cpm_state"])]},
            title="顧客バランスシート予測 Portfolio projection (12 months)",
        )
    )


def movement_counts(transitions: pd.DataFrame) -> pd.DataFrame:
    """Customers per movement (portfolio_transitions.movement, movement_ja) of the given rows."""
    return (
        transitions.groupby(["movement", "movement_ja"], as_index=False)["count_customers"]
        .sum()
        .sort_values("movement", ignore_index=True)
    )


# ---- F2 ------------------------------------------------------------------------------------------

HORIZONS = [30, 60, 90, 180, 365]


def f2() -> None:
    st.title("F2転換 / Second purchase")
    st.caption(
        "f2_conversion has roll-up rows ('all'): each chart fixes every dimension to 'all' "
        "or to real values, never sums across both (that would count customers twice)."
    )
    overall = data.mart(
        "f2_conversion",
        "select * from marts.f2_conversion where cohort_month = 'all' "
        "and acquisition_channel = 'all' and first_category = 'all'",
    )
    if _problem(overall):
        return
    row = overall.df.iloc[0]
    c = st.columns(3)
    c[0].metric("初回購入者 First buyers", count(row["count_first_buyers"]))
    c[1].metric("F2転換率 90日 F2 rate 90d", pct(row["f2_rate_90d"]))
    c[2].metric("F2転換率 365日 F2 rate 365d", pct(row["f2_rate_365d"]))

    def curves(where: str, by: str) -> pd.DataFrame:
        df = data.query(f"select * from marts.f2_conversion where {where}")
        long = [
            {by: r[by], "days": n, "f2_rate": r[f"f2_rate_{n}d"]}
            for _, r in df.iterrows()
            for n in HORIZONS
            if not pd.isna(r[f"f2_rate_{n}d"])
        ]
        return pd.DataFrame(long, columns=[by, "days", "f2_rate"])

    for by, where, title in (
        (
            "cohort_month",
            "cohort_month <> 'all' and acquisition_channel = 'all'",
            "コホート別F2転換率 F2 conversion by cohort",
        ),
        (
            "acquisition_channel",
            "cohort_month = 'all' and acquisition_channel <> 'all'",
            "チャネル別F2転換率 F2 conversion by channel",
        ),
    ):
        frame = curves(f"{where} and first_category = 'all'", by)
        _show(
            px.line(
                frame.sort_values([by, "days"]),
                x="days",
                y="f2_rate",
                color=by,
                markers=True,
                title=title,
            )
        )
    timing = data.mart(
        "second_purchase_timing",
        "select * from marts.second_purchase_timing where cohort_month = 'all' and acquisition_channel = 'all'",
    )
    if _problem(timing):
        return
    order = ["0", "1-7", "8-10", "11-30"] + [f"{a}-{a + 29}" for a in range(31, 361, 30)] + ["361+"]
    tdf = timing.df.assign(order=lambda d: d["days_bucket"].map({b: i for i, b in enumerate(order)}))
    _show(
        px.bar(
            tdf.sort_values("order"),
            x="days_bucket",
            y="count_customers",
            title="2回目購入までの日数 Days to second purchase",
        )
    )


# ---- channels ------------------------------------------------------------------------------------


def channels() -> None:
    st.title("チャネル / Channels: CAC vs LTV")
    m = data.mart(
        "channel_acquisition",
        "select * from marts.channel_acquisition order by cohort_month, acquisition_channel",
    )
    if _problem(m):
        return
    df = m.df
    cohorts = sorted(df["cohort_month"].unique())
    with_ltv = [c for c in cohorts if df[(df["cohort_month"] == c)]["count_eligible_365d"].sum() > 0]
    default = with_ltv[-1] if with_ltv else cohorts[-1]
    chosen = st.selectbox("獲得月 Cohort month", cohorts, index=cohorts.index(default))
    sel = df[df["cohort_month"] == chosen]
    st.metric("チャネル数 Channels", count(len(sel)))
    fig = go.Figure()
    fig.add_bar(x=sel["acquisition_channel"], y=sel["cac"], name="CAC (CPO)")
    fig.add_bar(
        x=sel["acquisition_channel"],
        y=sel["gross_profit_per_customer_365d"],
        name="365日粗利LTV realised LTV (gross profit 365d)",
    )
    fig.add_scatter(
        x=sel["acquisition_channel"],
        y=sel["limit_cpo"],
        mode="lines+markers",
        name="限界CPO limit CPO",
        line={"dash": "dash", "color": "red"},
    )
    fig.update_layout(barmode="group", title=f"CAC と LTV ({chosen})")
    _show(fig)
    st.dataframe(
        sel[
            [
                "acquisition_channel",
                "spend",
                "count_new_customers",
                "cac",
                "gross_profit_per_customer_365d",
                "ltv_to_cac_365d",
                "payback_days",
                "limit_cpo",
            ]
        ].rename(columns={"payback_days": "回収日数 payback_days", "limit_cpo": "限界CPO limit_cpo"}),
        hide_index=True,
    )


# ---- funnel --------------------------------------------------------------------------------------

STEPS = [
    "count_sessions",
    "count_product_view",
    "count_add_to_cart",
    "count_checkout_start",
    "count_purchase",
]
STEP_LABELS = [
    "セッション Sessions",
    "商品閲覧 Product view",
    "カート投入 Add to cart",
    "購入手続き Checkout",
    "購入 Purchase",
]


def funnel() -> None:
    st.title("ファネル / Funnel by device and channel")
    m = data.mart(
        "funnel_daily",
        "select device, channel, "
        + ", ".join(f"sum({s}) as {s}" for s in STEPS)
        + " from marts.funnel_daily group by all order by 1, 2",
    )
    if _problem(m):
        return
    df = m.df
    st.metric("セッション Sessions", count(df["count_sessions"].sum()))
    by = st.radio("内訳 Split by", ["device", "channel"], horizontal=True)
    g = df.groupby(by)[STEPS].sum().reset_index()
    fig = go.Figure()
    for _, r in g.iterrows():
        fig.add_trace(go.Funnel(name=str(r[by]), y=STEP_LABELS, x=[r[s] for s in STEPS]))
    fig.update_layout(title=f"ファネル Funnel by {by}")
    _show(fig)
    st.dataframe(df, hide_index=True)


# ---- loyalty -------------------------------------------------------------------------------------


def loyalty() -> None:
    st.title("ロイヤル顧客 / Loyalty tiers")
    m = data.mart("loyalty_tier_profile")
    if _problem(m):
        return
    df = m.df
    _show(
        px.bar(
            df,
            x="loyalty_tier_ja",
            y="count_customers",
            color="loyalty_tier",
            title="階層別顧客数 Customers by tier",
        )
    )
    st.subheader("ペルソナ Persona")
    cols = st.columns(len(df))
    for col, (_, r) in zip(cols, df.iterrows()):
        col.markdown(f"**{r['loyalty_tier_ja']}** ({r['loyalty_tier']})")
        col.metric("顧客数 Customers", count(r["count_customers"]))
        col.metric("客単価 AOV", yen(r["aov"]))
        col.caption(f"購入間隔中央値 median days between purchases: {r['median_days_between_purchases']}")
        col.caption(f"よく一緒に買うカテゴリ top categories: {r['top_copurchased_categories']}")


# ---- products ------------------------------------------------------------------------------------


def products() -> None:
    st.title("商品 / Products")
    latest_month = "(select max(period_start_date) from marts.product_ranking where period_grain = 'month')"
    top_ten = f"period_grain = 'month' and period_start_date = {latest_month} order by rank, product_id limit 10"
    r = data.mart("product_ranking", f"select * from marts.product_ranking where {top_ten}")
    if not _problem(r):
        top = r.df.iloc[0]
        st.metric(
            f"今月の1位 Top product ({pd.Timestamp(top['period_start_date']).strftime('%Y-%m')})",
            str(top["product_id"]),
        )
        _show(px.bar(r.df, x="product_id", y="revenue", title="売上ランキング Revenue ranking (top 10)"))
    a = data.mart(
        "product_affinity",
        "select * from marts.product_affinity order by lift desc, count_orders_together desc limit 15",
    )
    if not _problem(a):
        st.subheader("併売 Affinity (lift)")
        st.dataframe(a.df, hide_index=True)
    p = data.mart("product_portfolio")
    if not _problem(p):
        fig = px.scatter(
            p.df,
            x="revenue_share",
            y="revenue_growth",
            color="ppm_quadrant",
            hover_data=["product_id", "category"],
            title="PPM 商品ポートフォリオ",
        )
        _show(fig)


# ---- predictions, audiences, 定期 ------------------------------------------------------------


def predictions() -> None:
    st.title("予測 / Predictions (BG/NBD + Gamma-Gamma)")
    model = data.mart("clv_model")
    if _problem(model):
        return
    for _, r in model.df.iterrows():
        if r["status"] != "fitted":
            st.warning(f"{r['fit']}: {r['status']} — {r['status_reason']}")
    p = data.mart(
        "customer_predictions",
        "select churn_risk, count(*) as customers, "
        "sum(predicted_clv) as predicted_clv from marts.customer_predictions group by all order by 1",
    )
    if not _problem(p):
        st.metric("予測対象 Customers scored", count(p.df["customers"].sum()))
        _show(px.bar(p.df, x="churn_risk", y="customers", title="離脱リスク Churn risk"))
    v = data.mart(
        "clv_model_validation",
        "select * from marts.clv_model_validation where frequency_bucket <> 'all'",
    )
    if not _problem(v):
        fig = go.Figure()
        fig.add_bar(x=v.df["frequency_bucket"], y=v.df["mean_actual"], name="実績 actual")
        fig.add_bar(x=v.df["frequency_bucket"], y=v.df["mean_predicted"], name="予測 predicted")
        fig.update_layout(barmode="group", title="ホールドアウト検証 Holdout calibration (purchases per customer)")
        _show(fig)


def audiences() -> None:
    st.title("オーディエンス / Audiences and lift")
    a = data.mart(
        "customer_audiences",
        "select audience, count(*) as customers, "
        "sum(case when is_holdout then 1 else 0 end) as holdout "
        "from marts.customer_audiences group by all order by 1",
    )
    if not _problem(a):
        st.metric("対象顧客 Customers in audiences", count(a.df["customers"].sum()))
        _show(
            px.bar(
                a.df,
                x="audience",
                y="customers",
                title="オーディエンス別人数 Customers by audience",
            )
        )
    lift = data.mart("audience_lift")
    if not _problem(lift):
        df = lift.df
        fig = px.scatter(
            df,
            x="audience",
            y="lift",
            color="window_days",
            symbol="entry_month",
            error_y=df["lift_ci_high"] - df["lift"],
            error_y_minus=df["lift"] - df["lift_ci_low"],
            title="リフト Lift (contacted vs holdout)",
        )
        _show(fig)
        st.dataframe(df, hide_index=True)


def subscriptions() -> None:
    st.title("定期 / Subscription retention")
    m = data.mart(
        "subscription_retention",
        "select * from marts.subscription_retention where "
        "acquisition_channel = 'all' and product_id = 'all' and offer_code = 'all' "
        "order by cohort_month, delivery_number",
    )
    if _problem(m):
        return
    df = m.df
    overall = df[df["cohort_month"] == "all"]
    if not overall.empty:
        second = overall[overall["delivery_number"] == 2]
        if not second.empty:
            st.metric("2回目継続率 Retention to delivery 2", pct(second.iloc[0]["retention_rate"]))
    _show(
        px.line(
            df,
            x="delivery_number",
            y="retention_rate",
            color="cohort_month",
            markers=True,
            line_dash="is_projected",
            title="継続率 Retention by delivery",
        )
    )
