"""The dashboard's pages. Each reads marts through dashboard/data.py and shows why when a mart is
missing or empty. Figures are the marts' own columns: no metric is re-derived here."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard import data, stats
from orchestration.activation.exports import ROWS_SQL
from orchestration.predict.validation import auc_texts
from orchestration.publish.labels import (
    AUDIENCES_JA,
    CHANNELS_JA,
    CHURN_RISK_JA,
    CHURN_RISK_ORDER,
    PPM_JA,
    label,
)

FONT = {"family": "Noto Sans CJK JP, Noto Sans JP, sans-serif"}


def missing(x) -> bool:
    return x is None or (not isinstance(x, str) and bool(pd.isna(x)))


def yen(x: float | None) -> str:
    return "—" if missing(x) else f"¥{float(x):,.0f}"


def pct(x: float | None) -> str:
    return "—" if missing(x) else f"{float(x) * 100:.1f}%"


def count(x: float | None) -> str:
    return "—" if missing(x) else f"{int(x):,}"


def day(x) -> str:
    return "—" if x is None or pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d")


def language() -> str:
    """The dashboard's first language (setting `dashboard_language`): ja (English beside) or en."""
    from orchestration.settings import settings

    return settings().dashboard_language


def t(ja: str, en: str) -> str:
    """A label: Japanese with English beside, or English only (setting `dashboard_language`)."""
    return en if language() == "en" else f"{ja} {en}"


def days_label(n: int) -> str:
    return f"{n}日" if language() == "ja" else f"{n}d"


def min_customers() -> int:
    """Fewest customers a cohort figure may rest on (var `dashboard_min_customers`)."""
    from orchestration.settings import dbt_var

    return int(dbt_var("dashboard_min_customers"))


def channel(code: str | None) -> str:
    return label(CHANNELS_JA, code, language())


def product_names() -> dict[str, str]:
    """product_id -> product name (product_ranking carries the names)."""
    if "product_ranking" not in data.published_marts():
        return {}
    df = data.query(
        "select distinct product_id, product_name from marts.product_ranking where product_name is not null"
    )
    return dict(zip(df["product_id"], df["product_name"], strict=True))


def product(code: str | None, names: dict[str, str]) -> str:
    if missing(code):
        return "—"
    return f"{names[code]} ({code})" if code in names else str(code)


def _show(fig: go.Figure, height: int | None = None) -> None:
    fig.update_layout(
        font=FONT,
        margin={"l": 10, "r": 10, "t": 80, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": {"text": ""}},
        **({"height": height} if height else {}),
    )
    st.plotly_chart(fig, use_container_width=True)


def cohort_cell(rate: float | None, n: float | None, minimum: int, fmt=None) -> str:
    """A cohort table cell: the figure with its count; below the minimum the count only, greyed."""
    fmt = fmt or pct
    if n is None or pd.isna(n) or n == 0:
        return ""
    if n < minimum:
        return f"(n={int(n):,})"
    return f"{fmt(rate)} (n={int(n):,})"


def grey_small(frame: pd.DataFrame):
    """Grey the cells that rest on too few customers (they read '(n=...)' only)."""
    return frame.style.map(lambda v: "color: #9e9e9e" if isinstance(v, str) and v.startswith("(n=") else "")


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
    st.title(t("KPI 主要指標", "Key metrics"))
    st.caption(
        "kpi_monthly (definitions: macros/kpi_rollup.sql, models/marts/kpi/kpi_monthly.sql and the semantic layer "
        "models/marts/semantic/_semantic__metrics.yml)"
    )
    m = data.mart("kpi_monthly", "select * from marts.kpi_monthly order by month_start_date")
    if _problem(m):
        return
    df = m.df
    # a month not over (月初来) is compared with the same days of earlier months: kpi_monthly's rule
    partial = df[df["is_month_to_date"].astype(bool)]
    partial_month = pd.Timestamp(partial["month_start_date"].iloc[0]).strftime("%Y-%m") if len(partial) else None
    months = [d.strftime("%Y-%m") for d in pd.to_datetime(df["month_start_date"])]
    names = [f"{mo} {t('月初来', 'month to date')}" if mo == partial_month else mo for mo in months]
    chosen = st.selectbox(t("期間", "Period (month)"), names, index=len(names) - 1)
    row = df.iloc[names.index(chosen)]
    is_partial = bool(row["is_month_to_date"])
    if is_partial:
        days = int(row["count_days"])
        st.warning(
            t(
                f"{partial_month} は月初来（1日〜{days}日、{days}日間）の途中集計です。"
                "比較は前月・前年の同じ日数と行います。",
                f"{partial_month} is month to date (days 1-{days}): compared with the same days "
                "of the previous month and year.",
            )
        )
    c = st.columns(4)
    c[0].metric(t("売上", "Revenue"), yen(row["revenue"]))
    c[1].metric(t("注文数", "Orders"), count(row["count_orders"]))
    c[2].metric(t("客単価", "AOV"), yen(row["aov"]))
    c[3].metric("CAC (CPO)", yen(row["cac"]))
    c = st.columns(4)
    c[0].metric(t("新規顧客", "New customers"), count(row["count_new_customers"]))
    c[1].metric(t("リピート顧客", "Repeat customers"), count(row["count_repeat_customers"]))
    c[2].metric(t("CVR 購入率", "Conversion rate"), pct(row["conversion_rate"]))
    c[3].metric(t("カゴ落ち率", "Cart abandonment"), pct(row["cart_abandonment_rate"]))
    c = st.columns(4)
    c[0].metric(
        t("前月同日数比", "MoM, same days") if is_partial else t("前月比", "MoM"),
        pct(row["revenue_growth_mom"]),
        help=f"{yen(row['revenue'])} / {yen(row['revenue_previous_month'])}",
    )
    c[1].metric(
        t("前年同日数比", "YoY, same days") if is_partial else t("前年比", "YoY"),
        pct(row["revenue_growth_yoy"]),
        help=f"{yen(row['revenue'])} / {yen(row['revenue_previous_year'])}",
    )
    c[2].metric(t("広告費", "Spend"), yen(row["spend"]))
    c[3].metric(t("リピート売上", "Repeat revenue"), yen(row["repeat_revenue"]))
    axis = [f"{mo} {t('月初来', 'MTD')}" if mo == partial_month else mo for mo in months]
    df = df.assign(
        month=axis,
        kind=[t("月初来", "month to date") if mo == partial_month else t("確定", "complete") for mo in months],
    )
    fig = px.bar(
        df,
        x="month",
        y="revenue",
        color="kind",
        color_discrete_sequence=["#1f77b4", "#bdbdbd"],
        title=t("月次売上", "Monthly revenue (JPY)"),
        labels={"month": t("月", "month"), "revenue": t("売上", "revenue") + " (¥)", "kind": ""},
    )
    fig.update_yaxes(tickprefix="¥", tickformat=",.0f")
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=axis)
    _show(fig)
    long = df.melt(
        id_vars="month",
        value_vars=["count_new_customers", "count_repeat_customers"],
        var_name="kind",
        value_name="customers",
    )
    long["kind"] = long["kind"].map(
        {"count_new_customers": t("新規", "New"), "count_repeat_customers": t("リピート", "Repeat")}
    )
    _show(
        px.bar(
            long,
            x="month",
            y="customers",
            color="kind",
            barmode="group",
            title=t("新規とリピート", "New vs repeat customers"),
            labels={"month": t("月", "month"), "customers": t("顧客数", "customers"), "kind": ""},
        ).update_xaxes(type="category", categoryorder="array", categoryarray=axis)
    )


# ---- CPM portfolio -------------------------------------------------------------------------------


def _state_label(df: pd.DataFrame, ja: str = "cpm_state_ja", key: str = "cpm_state") -> pd.Series:
    return df[key] if language() == "en" else df[ja] + " " + df[key]


def portfolio() -> None:
    """CPM states, this month's transitions and movements, and the 12-month forecast: states, their
    names and order from dim_cpm_states, movements from portfolio_transitions.movement, the
    forecast from portfolio_forecast (definitions in those models, not here)."""
    st.title(t("顧客ポートフォリオ CPM", "Customer portfolio (CPM)"))
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
    c[0].metric(t("顧客数", "Customers"), count(latest["customers"].sum()))
    c[1].metric(t("現役客", "Active"), count(active))
    c[2].metric(t("基準日", "Date"), day(last_date))
    counts = counts.assign(state=counts["cpm_state"].map(labels))
    _show(
        px.area(
            counts,
            x="month_end_date",
            y="customers",
            color="state",
            category_orders={"state": [labels[s] for s in order]},
            title=t("状態別顧客数の推移", "Customers by CPM state"),
            labels={
                "month_end_date": t("月末", "month end"),
                "customers": t("顧客数", "customers"),
                "projected_count_customers": t("予測顧客数", "projected customers"),
                "state": "",
            },
        )
    )

    moved = data.mart(
        "portfolio_transitions",
        "select * from marts.portfolio_transitions where month_end_date = "
        "(select max(month_end_date) from marts.portfolio_transitions)",
    )
    if _problem(moved):
        return
    this = moved.df
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
        title=f"{t('今月の遷移', 'Transitions to')} {day(this['month_end_date'].max())}",
    )
    _show(fig)
    moves = movement_counts(this)
    st.caption(t("今月の動き", "Movements this month") + " (portfolio_transitions.movement)")
    for start in range(0, len(moves), 6):
        for col, (_, r) in zip(st.columns(6), moves.iloc[start : start + 6].iterrows(), strict=False):
            col.metric(t(r["movement_ja"], r["movement"]), count(r["count_customers"]))

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
            title=t("顧客バランスシート予測", "Portfolio projection (12 months)"),
            labels={
                "month_end_date": t("月末", "month end"),
                "customers": t("顧客数", "customers"),
                "projected_count_customers": t("予測顧客数", "projected customers"),
                "state": "",
            },
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


def cohort_table(df: pd.DataFrame, by: str, rate: str, eligible: str, horizons: list[int], fmt=None) -> pd.DataFrame:
    """Rows ``by``, a column per horizon: the figure with its count, or only the count (greyed)
    where fewer than `dashboard_min_customers` customers are eligible."""
    minimum = min_customers()
    out = pd.DataFrame({by: df[by]})
    for n in horizons:
        out[days_label(n)] = [
            cohort_cell(r[rate.format(n=n)], r[eligible.format(n=n)], minimum, fmt) for _, r in df.iterrows()
        ]
    return out


def cohort_heatmap(df: pd.DataFrame, by: str, rate: str, eligible: str, horizons: list[int], title: str) -> go.Figure:
    """The cohort table as a heatmap; a cell resting on fewer than the minimum is not drawn."""
    minimum = min_customers()
    z = [
        [r[rate.format(n=n)] if (r[eligible.format(n=n)] or 0) >= minimum else None for n in horizons]
        for _, r in df.iterrows()
    ]
    text = [[pct(v) if v is not None else "" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{n}d" for n in horizons],
            y=list(df[by]),
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            hoverongaps=False,
            showscale=False,  # every cell carries its figure; the scale would take a phone's width
        )
    )
    fig.update_layout(title=title)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig


def f2() -> None:
    st.title(t("F2転換", "Second purchase"))
    st.caption(
        "f2_conversion has roll-up rows ('all'): each table fixes every dimension to 'all' "
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
    c[0].metric(t("初回購入者", "First buyers"), count(row["count_first_buyers"]))
    c[1].metric(t("F2転換率 90日", "F2 rate 90d"), pct(row["f2_rate_90d"]))
    c[2].metric(t("F2転換率 365日", "F2 rate 365d"), pct(row["f2_rate_365d"]))
    minimum = min_customers()
    cohorts = data.query(
        "select * from marts.f2_conversion where cohort_month <> 'all' and acquisition_channel = 'all' "
        "and first_category = 'all' order by cohort_month"
    )
    st.subheader(t("コホート別F2転換率（初回購入月 x 日数）", "F2 by cohort month x days"))
    st.caption(
        t(
            f"対象が{minimum}人未満のセルは人数のみ（灰色）で、図には描きません（設定 dashboard_min_customers）。",
            f"Cells resting on fewer than {minimum} customers show their count only (grey) and are not drawn "
            "(var dashboard_min_customers).",
        )
    )
    _show(
        cohort_heatmap(
            cohorts,
            "cohort_month",
            "f2_rate_{n}d",
            "count_eligible_{n}d",
            HORIZONS,
            t("コホート別F2転換率", "F2 conversion by cohort"),
        ),
        height=max(300, 22 * len(cohorts) + 120),
    )
    table = cohort_table(cohorts, "cohort_month", "f2_rate_{n}d", "count_eligible_{n}d", HORIZONS)
    st.dataframe(grey_small(table.rename(columns={"cohort_month": t("初回購入月", "cohort")})), hide_index=True)

    by_channel = data.query(
        "select * from marts.f2_conversion where cohort_month = 'all' and acquisition_channel <> 'all' "
        "and first_category = 'all' order by acquisition_channel"
    )
    by_channel["acquisition_channel"] = by_channel["acquisition_channel"].map(channel)
    st.subheader(t("チャネル別F2転換率", "F2 by acquisition channel"))
    table = cohort_table(by_channel, "acquisition_channel", "f2_rate_{n}d", "count_eligible_{n}d", HORIZONS)
    st.dataframe(
        grey_small(table.rename(columns={"acquisition_channel": t("獲得チャネル", "channel")})), hide_index=True
    )

    timing = data.mart(
        "second_purchase_timing",
        "select * from marts.second_purchase_timing where cohort_month = 'all' and acquisition_channel = 'all'",
    )
    if _problem(timing):
        return
    order = ["0", "1-7", "8-10", "11-30"] + [f"{a}-{a + 29}" for a in range(31, 361, 30)] + ["361+"]
    tdf = timing.df.assign(order=lambda d: d["days_bucket"].map({b: i for i, b in enumerate(order)}))
    median = row["median_days_to_second_purchase"]
    fig = px.bar(
        tdf.sort_values("order"),
        x="days_bucket",
        y="count_customers",
        title=t("2回目購入までの日数", "Days to second purchase")
        + (f" ({t(f'中央値 {median:.0f}日', f'median {median:.0f} days')})" if not pd.isna(median) else ""),
        labels={"days_bucket": t("日数", "days"), "count_customers": t("顧客数", "customers")},
    )
    fig.update_xaxes(type="category")
    _show(fig)


# ---- channels ------------------------------------------------------------------------------------

LTV_HORIZONS = [30, 90, 180, 365]


def channels() -> None:
    st.title(t("チャネル", "Channels") + ": CAC vs LTV")
    m = data.mart(
        "channel_acquisition",
        "select * from marts.channel_acquisition order by cohort_month, acquisition_channel",
    )
    if _problem(m):
        return
    df = m.df
    minimum = min_customers()
    cohorts = sorted(df["cohort_month"].unique())
    with_ltv = [c for c in cohorts if df[(df["cohort_month"] == c)]["count_eligible_365d"].sum() > 0]
    default = with_ltv[-1] if with_ltv else cohorts[-1]
    chosen = st.selectbox(t("獲得月", "Cohort month"), cohorts, index=cohorts.index(default))
    sel = df[df["cohort_month"] == chosen].assign(name=lambda d: d["acquisition_channel"].map(channel))
    st.metric(t("チャネル数", "Channels"), count(len(sel)))
    enough = sel["count_eligible_365d"] >= minimum
    # horizontal bars: channel names stay readable on a phone (390 px) as on a desktop
    fig = go.Figure()
    fig.add_bar(y=sel["name"], x=sel["cac"], name="CAC (CPO)", orientation="h")
    fig.add_bar(
        y=sel["name"],
        x=sel["gross_profit_per_customer_365d"].where(enough),
        name=t("365日粗利LTV", "realised LTV (gross profit 365d)"),
        orientation="h",
    )
    fig.add_scatter(
        y=sel["name"],
        x=sel["limit_cpo"].where(enough),
        mode="markers",
        marker={"symbol": "line-ns", "size": 22, "line": {"width": 3, "color": "red"}},
        name=t("限界CPO", "limit CPO"),
    )
    fig.update_layout(barmode="group", title=f"CAC {t('と', 'and')} LTV ({chosen})")
    fig.update_xaxes(tickprefix="¥", tickformat=",.0f")
    fig.update_yaxes(type="category", autorange="reversed", automargin=True)
    _show(fig, height=140 + 55 * len(sel))
    if not enough.all():
        st.caption(
            t(
                f"365日LTVと限界CPOは対象{minimum}人以上のチャネルだけ描いています。",
                f"365-day LTV and limit CPO are drawn only where at least {minimum} customers are eligible.",
            )
        )
    table = pd.DataFrame(
        {
            t("チャネル", "channel"): sel["name"],
            t("広告費", "spend"): sel["spend"].map(yen),
            t("新規顧客", "new customers"): sel["count_new_customers"].map(count),
            "CAC": sel["cac"].map(yen),
            t("365日粗利LTV", "LTV 365d"): [
                cohort_cell(v, n, minimum, yen)
                for v, n in zip(sel["gross_profit_per_customer_365d"], sel["count_eligible_365d"], strict=True)
            ],
            "LTV/CAC": [
                cohort_cell(v, n, minimum, lambda x: "—" if x is None or pd.isna(x) else f"{x:.2f}")
                for v, n in zip(sel["ltv_to_cac_365d"], sel["count_eligible_365d"], strict=True)
            ],
            t("回収日数", "payback days"): sel["payback_days"].map(count),
            t("限界CPO", "limit CPO"): [
                cohort_cell(v, n, minimum, yen)
                for v, n in zip(sel["limit_cpo"], sel["count_eligible_365d"], strict=True)
            ],
        }
    )
    st.dataframe(grey_small(table), hide_index=True)

    st.subheader(t("コホート別LTV（粗利、獲得月 x 日数）", "LTV by cohort x days (gross profit)"))
    pick = st.selectbox(t("獲得チャネル", "Channel"), sorted(df["acquisition_channel"].unique()), format_func=channel)
    rows = df[df["acquisition_channel"] == pick].sort_values("cohort_month")
    table = cohort_table(
        rows, "cohort_month", "gross_profit_per_customer_{n}d", "count_eligible_{n}d", LTV_HORIZONS, fmt=yen
    )
    st.dataframe(grey_small(table.rename(columns={"cohort_month": t("獲得月", "cohort")})), hide_index=True)


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


DEVICES_JA = {"mobile": "スマホ", "desktop": "PC", "tablet": "タブレット"}


def funnel() -> None:
    st.title(t("ファネル", "Funnel by device and channel"))
    m = data.mart(
        "funnel_daily",
        "select device, channel, "
        + ", ".join(f"sum({s}) as {s}" for s in STEPS)
        + " from marts.funnel_daily group by all order by 1, 2",
    )
    if _problem(m):
        return
    df = m.df.assign(
        device=lambda d: d["device"].map(lambda x: label(DEVICES_JA, x, language())),
        channel=lambda d: d["channel"].map(channel),
    )
    st.metric(t("セッション", "Sessions"), count(df["count_sessions"].sum()))
    by = st.radio(
        t("内訳", "Split by"),
        ["device", "channel"],
        horizontal=True,
        format_func=lambda x: t("デバイス", "device") if x == "device" else t("チャネル", "channel"),
    )
    g = df.groupby(by)[STEPS].sum().reset_index()
    steps = [t(*label_pair.split(" ", 1)) for label_pair in STEP_LABELS]
    fig = go.Figure()
    for _, r in g.iterrows():
        fig.add_trace(go.Funnel(name=str(r[by]), y=steps, x=[r[s] for s in STEPS]))
    fig.update_layout(title=t("ファネル", "Funnel"))
    _show(fig)
    table = pd.DataFrame({t("デバイス", "device"): df["device"], t("チャネル", "channel"): df["channel"]})
    for step, name in zip(STEPS, steps, strict=True):
        table[name] = df[step].map(count)
    table[t("購入率", "conversion")] = (df["count_purchase"] / df["count_sessions"]).map(pct)
    st.dataframe(table, hide_index=True)


# ---- loyalty -------------------------------------------------------------------------------------


TIER_ORDER = ["loyal", "semi_loyal", "general", "nurture"]  # rank order of seeds/loyalty_tiers.csv


def loyalty() -> None:
    st.title(t("ロイヤル顧客", "Loyalty tiers"))
    m = data.mart("loyalty_tier_profile")
    if _problem(m):
        return
    order = {tier: i for i, tier in enumerate(TIER_ORDER)}
    df = m.df.assign(rank=lambda d: d["loyalty_tier"].map(order)).sort_values("rank", ignore_index=True)
    df["tier"] = [t(ja, en) for ja, en in zip(df["loyalty_tier_ja"], df["loyalty_tier"], strict=True)]
    fig = px.bar(
        df,
        x="tier",
        y="count_customers",
        title=t("階層別顧客数", "Customers by tier"),
        labels={"tier": t("階層", "tier"), "count_customers": t("顧客数", "customers")},
    )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=list(df["tier"]))
    _show(fig)
    st.subheader(t("ペルソナ", "Persona"))
    cols = st.columns(len(df))
    for col, (_, r) in zip(cols, df.iterrows()):
        col.markdown(f"**{r['tier']}**")
        col.metric(t("顧客数", "Customers"), count(r["count_customers"]))
        col.metric(t("客単価", "AOV"), yen(r["aov"]))
        median = r["median_days_between_purchases"]
        col.caption(
            t("購入間隔中央値", "median days between purchases")
            + ": "
            + (
                t(f"{median:.0f}日", f"{median:.0f} days")
                if not pd.isna(median)
                else t("— (2回目購入なし)", "— (no repeat)")
            )
        )
        col.caption(f"{t('よく一緒に買うカテゴリ', 'top categories')}: {r['top_copurchased_categories'] or '—'}")


# ---- products ------------------------------------------------------------------------------------


def products() -> None:
    st.title(t("商品", "Products"))
    latest_month = "(select max(period_start_date) from marts.product_ranking where period_grain = 'month')"
    top_ten = f"period_grain = 'month' and period_start_date = {latest_month} order by rank, product_id limit 10"
    r = data.mart("product_ranking", f"select * from marts.product_ranking where {top_ten}")
    if not _problem(r):
        top = r.df.iloc[0]
        names = product_names()
        st.metric(
            f"{t('今月の1位', 'Top product')} ({pd.Timestamp(top['period_start_date']).strftime('%Y-%m')})",
            str(top["product_name"] or top["product_id"]),
        )
        ranked = r.df.assign(name=lambda d: [product(x, names) for x in d["product_id"]])
        fig = px.bar(
            ranked,
            x="revenue",
            y="name",
            orientation="h",
            title=t("売上ランキング", "Revenue ranking (top 10)"),
            labels={"name": "", "revenue": t("売上", "revenue") + " (¥)"},
        )
        fig.update_yaxes(type="category", autorange="reversed")
        fig.update_xaxes(tickprefix="¥", tickformat=",.0f")
        _show(fig)
    a = data.mart(
        "product_affinity",
        "select * from marts.product_affinity order by lift desc, count_orders_together desc limit 15",
    )
    if not _problem(a):
        names = product_names()
        st.subheader(t("併売", "Affinity (lift)"))
        st.dataframe(
            pd.DataFrame(
                {
                    t("商品", "product"): a.df["product_id"].map(lambda x: product(x, names)),
                    t("一緒に買われる商品", "bought with"): a.df["paired_product_id"].map(lambda x: product(x, names)),
                    t("同時注文数", "orders together"): a.df["count_orders_together"].map(count),
                    t("支持度", "support"): a.df["support"].map(pct),
                    t("確信度", "confidence"): a.df["confidence"].map(pct),
                    t("リフト", "lift"): a.df["lift"].map(lambda x: f"{x:.2f}"),
                }
            ),
            hide_index=True,
        )
    p = data.mart("product_portfolio")
    if not _problem(p):
        names = product_names()
        pdf = p.df.assign(
            quadrant=lambda d: d["ppm_quadrant"].map(lambda q: label(PPM_JA, q, language())),
            name=lambda d: d["product_id"].map(lambda x: product(x, names)),
        )
        fig = px.scatter(
            pdf,
            x="revenue_share",
            y="revenue_growth",
            color="quadrant",
            hover_data=["name", "category"],
            title=t("PPM 商品ポートフォリオ", "Product portfolio (PPM)"),
            labels={
                "revenue_share": t("売上シェア", "revenue share"),
                "revenue_growth": t("成長率", "growth"),
                "quadrant": "",
            },
        )
        fig.update_xaxes(tickformat=".0%")
        fig.update_yaxes(tickformat=".0%")
        _show(fig)


# ---- predictions, audiences, 定期 ------------------------------------------------------------


HEALTH_COLUMNS = ["auc_churn_score", "auc_recency_baseline", "spearman_purchases", "is_worse_than_baseline"]


def calibration_sentence(total: pd.Series) -> str:
    """The holdout total in words: predicted vs actual purchases, said plainly when off by > 15%."""
    actual, predicted = float(total["actual_purchases_holdout"]), float(total["predicted_purchases_holdout"])
    if not actual:
        return t("ホールドアウト期間の購入がありません。", "No purchases in the holdout period.")
    off = predicted / actual - 1
    if abs(off) <= 0.15:
        return t(
            f"ホールドアウトの購入数は予測 {predicted:,.0f} 件、実績 {actual:,.0f} 件で、差は {off * 100:+.1f}%（±15%以内）です。",
            f"Holdout purchases: predicted {predicted:,.0f}, actual {actual:,.0f} ({off * 100:+.1f}%, within 15%).",
        )
    word_ja, word = ("多く", "over") if off > 0 else ("少なく", "under")
    return t(
        f"注意: モデルはホールドアウトの購入数を {abs(off) * 100:.1f}% {word_ja}予測しています"
        f"（予測 {predicted:,.0f} 件 / 実績 {actual:,.0f} 件）。予測CLVは割り引いて読んでください。",
        f"Caution: the model {word}-predicts holdout purchases by {abs(off) * 100:.1f}% "
        f"(predicted {predicted:,.0f} vs actual {actual:,.0f}); read predicted CLV with that in mind.",
    )


def model_health_sentence(validation: pd.DataFrame) -> str | None:
    """How well the churn score ranks, in words, from clv_model_validation's `all` row; None while the
    mart does not carry the ranking columns (auc_churn_score, auc_recency_baseline, ...)."""
    if not set(HEALTH_COLUMNS) <= set(validation.columns):
        return None
    rows = validation[validation["frequency_bucket"] == "all"]
    if rows.empty or pd.isna(rows.iloc[0]["auc_churn_score"]):
        return None
    r = rows.iloc[0]
    auc, base, rho = float(r["auc_churn_score"]), float(r["auc_recency_baseline"]), r["spearman_purchases"]
    auc, base = auc_texts(auc, base)
    rho_text = "—" if pd.isna(rho) else f"{float(rho):.2f}"
    if r.get("churn_score_model") == "recency" and not pd.isna(r.get("auc_bgnbd_churn_score")):
        # decision 0156: the published score ranks as recency does, BG/NBD's ranked worse
        model, recency = auc_texts(float(r["auc_bgnbd_churn_score"]), float(r["auc_recency_baseline"]))
        return t(
            f"離脱スコアは最終購入からの日数で順位付けしています（AUC {recency}）。BG/NBDのスコア（AUC {model}）は"
            f"ホールドアウトでこれより悪かったためです（購入数の順位相関 {rho_text}）。",
            f"The churn score ranks by the days since the last purchase (AUC {recency}): BG/NBD's score ranked "
            f"worse on the holdout (AUC {model}); rank correlation of purchases {rho_text}.",
        )
    if bool(r["is_worse_than_baseline"]):
        return t(
            f"注意: 離脱スコアの順位付け（AUC {auc}）は最終購入からの日数だけの基準（AUC {base}）より悪く、"
            f"離脱リスク帯は当てになりません（購入数の順位相関 {rho_text}）。",
            f"Caution: the churn score ranks worse (AUC {auc}) than recency alone (AUC {base}); "
            f"do not rely on the churn bands (rank correlation of purchases {rho_text}).",
        )
    return t(
        f"離脱スコアの順位付けは AUC {auc} で、最終購入からの日数だけの基準（AUC {base}）以上です"
        f"（購入数の順位相関 {rho_text}）。",
        f"The churn score ranks with AUC {auc}, at least as well as recency alone (AUC {base}); "
        f"rank correlation of purchases {rho_text}.",
    )


def predictions() -> None:
    st.title(t("予測", "Predictions") + " (BG/NBD + Gamma-Gamma)")
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
    v = data.mart("clv_model_validation", "select * from marts.clv_model_validation")
    if not _problem(v):
        total = v.df[v.df["frequency_bucket"] == "all"]
        if not total.empty:
            sentence = calibration_sentence(total.iloc[0])
            (st.warning if sentence.startswith(("注意", "Caution")) else st.info)(sentence)
        health = model_health_sentence(v.df)
        if health:
            (st.warning if health.startswith(("注意", "Caution")) else st.info)(health)
    if not _problem(p):
        st.metric(t("予測対象", "Customers scored"), count(p.df["customers"].sum()))
        bands = p.df.assign(
            order=lambda d: d["churn_risk"].map({b: i for i, b in enumerate(CHURN_RISK_ORDER)}),
            band=lambda d: d["churn_risk"].map(lambda b: label(CHURN_RISK_JA, b, language())),
        ).sort_values("order")
        fig = px.bar(
            bands,
            x="band",
            y="customers",
            title=t("離脱リスク", "Churn risk"),
            labels={"band": t("離脱リスク帯", "band"), "customers": t("顧客数", "customers")},
        )
        fig.update_xaxes(type="category")
        _show(fig)
    if not v.problem:
        buckets = v.df[v.df["frequency_bucket"] != "all"].sort_values("bucket_order")
        fig = go.Figure()
        x = list(buckets["frequency_bucket"].astype(str))
        fig.add_bar(x=x, y=buckets["mean_actual"], name=t("実績", "actual"))
        fig.add_bar(x=x, y=buckets["mean_predicted"], name=t("予測", "predicted"))
        fig.update_layout(
            barmode="group",
            title=t("ホールドアウト検証（1人あたり購入数）", "Holdout calibration (purchases per customer)"),
        )
        fig.update_xaxes(
            type="category",
            categoryorder="array",
            categoryarray=x,
            title=t("校正期間の購入回数", "calibration purchases"),
        )
        _show(fig)
    if p.problem:
        return
    scores = data.query(
        "select p.customer_id, p.p_alive, p.predicted_clv, p.churn_risk, p.expected_next_purchase_date, "
        "d.cpm_state_ja, d.cpm_state, d.last_purchase_date from marts.customer_predictions p "
        "left join marts.dim_customers d using (customer_id)"
    )
    top_n = st.slider(t("表示人数", "Customers shown"), 5, 100, 20)
    st.subheader(t("価値が高く離脱リスクが高い顧客", "Valuable but at risk"))
    at_risk = scores[scores["churn_risk"] == "high"].sort_values("predicted_clv", ascending=False).head(top_n)
    st.dataframe(
        pd.DataFrame(
            {
                "customer_id": at_risk["customer_id"],
                t("予測CLV", "predicted CLV"): at_risk["predicted_clv"].map(yen),
                "P(alive)": at_risk["p_alive"].map(pct),
                t("状態", "CPM state"): [
                    t(ja, en) if isinstance(ja, str) else "—"
                    for ja, en in zip(at_risk["cpm_state_ja"], at_risk["cpm_state"], strict=True)
                ],
                t("最終購入日", "last purchase"): at_risk["last_purchase_date"].map(day),
                t("次回購入予測日", "expected next purchase"): at_risk["expected_next_purchase_date"].map(day),
            }
        ),
        hide_index=True,
    )
    fig = px.histogram(
        scores,
        x="predicted_clv",
        nbins=40,
        title=t("予測CLVの分布", "Predicted CLV distribution"),
        labels={"predicted_clv": t("予測CLV", "predicted CLV") + " (¥)"},
    )
    fig.update_xaxes(tickprefix="¥", tickformat=",.0f")
    fig.update_yaxes(title=t("顧客数", "customers"))
    _show(fig)
    nxt = scores.dropna(subset=["expected_next_purchase_date"])
    nxt = nxt.assign(week=pd.to_datetime(nxt["expected_next_purchase_date"]).dt.to_period("W").dt.start_time)
    weekly = nxt.groupby("week", as_index=False).size().head(26)
    fig = px.bar(
        weekly,
        x="week",
        y="size",
        title=t("次回購入予測日（週別、26週）", "Expected next purchase (by week, 26 weeks)"),
        labels={"week": t("週", "week"), "size": t("顧客数", "customers")},
    )
    fig.update_xaxes(tickformat="%Y-%m-%d")
    _show(fig)


def audiences() -> None:
    st.title(t("オーディエンス", "Audiences") + " / lift")
    a = data.mart(
        "customer_audiences",
        "select audience, count(*) as members, sum(case when is_entry then 1 else 0 end) as entries, "
        "sum(case when is_holdout then 1 else 0 end) as holdout "
        "from marts.customer_audiences group by all order by 1",
    )
    if not _problem(a):
        sends = data.query(f"select audience, count(*) as sends from ({ROWS_SQL}) e group by audience")
        a.df = a.df.merge(sends, on="audience", how="left").fillna({"sends": 0})
        c = st.columns(3)
        c[0].metric(t("オーディエンス在籍", "In an audience today"), count(a.df["members"].sum()))
        c[1].metric(t("今日のエントリー", "Entered today"), count(a.df["entries"].sum()))
        c[2].metric(t("今日の配信", "Sent today"), count(a.df["sends"].sum()))
        long = a.df.assign(name=lambda d: d["audience"].map(lambda x: label(AUDIENCES_JA, x, language()))).melt(
            id_vars="name", value_vars=["members", "entries", "sends"], var_name="kind", value_name="customers"
        )
        long["kind"] = long["kind"].map(
            {"members": t("在籍", "members"), "entries": t("エントリー", "entries"), "sends": t("配信", "sent")}
        )
        _show(
            px.bar(
                long,
                x="customers",
                y="name",
                color="kind",
                barmode="group",
                orientation="h",
                title=t("オーディエンス別人数", "Customers by audience"),
                labels={"name": "", "customers": t("顧客数", "customers"), "kind": ""},
            )
        )
    lift = data.mart("audience_lift")
    if not _problem(lift):
        df = lift.df.copy()
        intervals = [
            stats.newcombe(
                r.conversion_contacted * r.count_contacted,
                r.count_contacted,
                r.conversion_holdout * r.count_holdout,
                r.count_holdout,
            )
            for r in df.itertuples()
        ]
        df["low"] = [i[0] if i else None for i in intervals]
        df["high"] = [i[1] if i else None for i in intervals]
        df["name"] = df["audience"].map(lambda x: label(AUDIENCES_JA, x, language())) + " " + df["entry_month"]
        fig = px.scatter(
            df,
            x="lift",
            y="name",
            color=df["window_days"].map(days_label),
            error_x=df["high"] - df["lift"],
            error_x_minus=df["lift"] - df["low"],
            title=t("リフト（配信 − ホールドアウト、Newcombe 95%区間）", "Lift (contacted - holdout, Newcombe 95%)"),
            labels={"lift": t("リフト", "lift"), "name": "", "color": t("期間", "window")},
        )
        fig.update_xaxes(tickformat=".0%")
        _show(fig)
        st.dataframe(
            pd.DataFrame(
                {
                    t("オーディエンス", "audience"): df["name"],
                    t("期間", "window"): df["window_days"].map(days_label),
                    t("配信", "contacted"): df["count_contacted"].map(count),
                    t("ホールドアウト", "holdout"): df["count_holdout"].map(count),
                    t("購入率 配信", "conversion contacted"): df["conversion_contacted"].map(pct),
                    t("購入率 ホールドアウト", "conversion holdout"): df["conversion_holdout"].map(pct),
                    t("リフト", "lift"): df["lift"].map(pct),
                    t("95%区間", "95% interval"): [
                        f"[{pct(lo)}, {pct(hi)}]" if lo is not None else "—"
                        for lo, hi in zip(df["low"], df["high"], strict=True)
                    ],
                }
            ),
            hide_index=True,
        )


def subscriptions() -> None:
    st.title(t("定期", "Subscription retention"))
    m = data.mart(
        "subscription_retention",
        "select * from marts.subscription_retention where "
        "acquisition_channel = 'all' and product_id = 'all' and offer_code = 'all' "
        "order by cohort_month, delivery_number",
    )
    if _problem(m):
        return
    df = m.df
    minimum = min_customers()
    overall = df[df["cohort_month"] == "all"]
    if not overall.empty:
        second = overall[overall["delivery_number"] == 2]
        if not second.empty:
            st.metric(t("2回目継続率", "Retention to delivery 2"), pct(second.iloc[0]["retention_rate"]))
    projected_cohorts = sorted(set(df.loc[df["is_projected"].astype(bool), "cohort_month"]))
    shown = st.multiselect(
        t("表示する開始月", "Start months shown"),
        sorted(set(df["cohort_month"])),
        default=["all", *projected_cohorts[-3:]] if "all" in set(df["cohort_month"]) else projected_cohorts[-3:],
    )
    palette = px.colors.qualitative.Plotly
    fig = go.Figure()
    for i, cohort in enumerate(shown):
        rows = df[df["cohort_month"] == cohort]
        colour = palette[i % len(palette)]
        is_projected = rows["is_projected"].astype(bool)
        observed = rows[~is_projected & (rows["count_eligible"] >= minimum)]
        projected = rows[is_projected & rows["projected_retention_rate"].notna()]
        name = t("全体", "all") if cohort == "all" else cohort
        if not observed.empty:
            fig.add_scatter(
                x=observed["delivery_number"],
                y=observed["retention_rate"],
                mode="lines+markers",
                line={"color": colour},
                name=f"{name} {t('実績', 'observed')}",
                legendgroup=cohort,
            )
        if not projected.empty:
            # the continuation starts at the last delivery the cohort could reach, dashed
            last = rows[~is_projected].tail(1)
            fig.add_scatter(
                x=list(last["delivery_number"]) + list(projected["delivery_number"]),
                y=list(last["projected_retention_rate"]) + list(projected["projected_retention_rate"]),
                mode="lines+markers",
                marker={"symbol": "circle-open"},
                line={"dash": "dash", "color": colour},
                name=f"{name} {t('予測 (sBG)', 'projected (sBG)')}",
                legendgroup=cohort,
            )
    fig.update_layout(title=t("継続率（配送回数別）", "Retention by delivery"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title=t("継続率", "retention"))
    fig.update_xaxes(title=t("配送回数", "delivery"), dtick=1)
    _show(fig, height=480)
    st.caption(
        t(
            f"実線は実績（対象{minimum}件以上の点のみ）、破線は sBG モデルによる予測です。",
            f"Solid: observed (points with at least {minimum} eligible subscriptions); dashed: sBG projection.",
        )
    )
    st.subheader(t("継続率（開始月 x 配送回数）", "Retention by start month x delivery"))
    cells = df.assign(
        cell=[
            (f"{pct(r.projected_retention_rate)} {t('予測', 'proj.')}" if r.is_projected else "")
            if r.is_projected
            else cohort_cell(r.retention_rate, r.count_eligible, minimum)
            for r in df.itertuples()
        ]
    )
    table = cells.pivot(index="cohort_month", columns="delivery_number", values="cell").fillna("")
    table.columns = [f"{int(c)}{t('回目', '')}" if c < 13 else "13+" for c in table.columns]
    st.dataframe(
        grey_small(table.reset_index().rename(columns={"cohort_month": t("開始月", "start month")})), hide_index=True
    )
    subscription_money()
    reasons = data.mart(
        "subscription_cancel_reasons", "select * from marts.subscription_cancel_reasons order by delivery_number"
    )
    if not _problem(reasons):
        st.subheader(t("解約理由（配送回数別）", "Cancel reasons by delivery"))
        fig = px.bar(
            reasons.df,
            x="delivery_number",
            y="count_subscriptions",
            color="cancel_reason",
            title=t("解約理由", "Cancel reasons"),
            labels={
                "delivery_number": t("配送回数", "delivery"),
                "count_subscriptions": t("件数", "subscriptions"),
                "cancel_reason": "",
            },
        )
        _show(fig)


# ---- today's sends -------------------------------------------------------------------------------


def today_sql(with_predictions: bool) -> str:
    """The rows the day's exports carry (activation/exports.py ROWS_SQL: entries not held out, with a
    channel), with each customer's P(alive), predicted CLV and CPM state."""
    scores = "p.p_alive, p.predicted_clv" if with_predictions else "null as p_alive, null as predicted_clv"
    join = "left join marts.customer_predictions p using (customer_id)" if with_predictions else ""
    return (
        f"select e.*, {scores}, d.cpm_state, d.cpm_state_ja from ({ROWS_SQL}) e {join} "
        "left join marts.dim_customers d using (customer_id) "
        "order by e.audience, e.channel, e.send_hour, e.customer_id"
    )


def today() -> None:
    """Today's send list per audience and channel (the rows the exports carry), a customer_id-only
    download per channel, and one customer's history, state, predictions and offers."""
    st.title(t("今日の配信", "Today's sends"))
    audiences = data.mart("customer_audiences", "select count(*) as n from marts.customer_audiences")
    if _problem(audiences):
        return
    df = data.query(today_sql("customer_predictions" in data.published_marts()))
    names = product_names()
    st.metric(t("今日の配信", "Sent today"), count(len(df)))
    if df.empty:
        st.info(t("今日の配信対象はいません。", "Nobody is to be contacted today."))
    for (audience, chan), rows in df.groupby(["audience", "channel"], sort=True):
        st.subheader(f"{label(AUDIENCES_JA, audience, language())} · {channel(chan)} ({len(rows):,})")
        st.dataframe(
            pd.DataFrame(
                {
                    "customer_id": rows["customer_id"],
                    t("送信", "send at"): [
                        f"{day(d)} {int(h):02d}:00" if not pd.isna(h) else day(d)
                        for d, h in zip(rows["send_date"], rows["send_hour"], strict=True)
                    ],
                    t("オファー1", "offer 1"): rows["offer_1_product_id"].map(lambda x: product(x, names)),
                    t("オファー2", "offer 2"): rows["offer_2_product_id"].map(lambda x: product(x, names)),
                    "P(alive)": rows["p_alive"].map(pct),
                    t("予測CLV", "predicted CLV"): rows["predicted_clv"].map(yen),
                    t("状態", "CPM state"): [
                        t(ja, en) if isinstance(ja, str) else "—"
                        for ja, en in zip(rows["cpm_state_ja"], rows["cpm_state"], strict=True)
                    ],
                }
            ),
            hide_index=True,
        )
    for chan, rows in df.groupby("channel", sort=True):
        st.download_button(
            f"{t('ダウンロード', 'Download')} {channel(chan)} CSV (customer_id)",
            rows[["customer_id"]].to_csv(index=False).encode("utf-8-sig"),
            file_name=f"sends-{chan}.csv",
            mime="text/csv",
            key=f"download-{chan}",
        )

    st.subheader(t("顧客を調べる", "Look up a customer"))
    customer = st.text_input("customer_id", key="lookup").strip()
    if not customer:
        return
    who = data.query(
        "select customer_id, first_purchase_date, last_purchase_date, count_purchases, lifetime_revenue, "
        "acquisition_channel, loyalty_tier, loyalty_tier_ja, cpm_state, cpm_state_ja, p_alive, churn_risk, "
        "predicted_clv from marts.dim_customers where customer_id = ?",
        [customer],
    )
    if who.empty:
        st.info(t(f"{customer} は見つかりません（購入のある顧客のみ）。", f"No customer {customer} with an order."))
        return
    r = who.iloc[0]
    c = st.columns(4)
    c[0].metric(t("状態", "CPM state"), t(r["cpm_state_ja"], r["cpm_state"]) if r["cpm_state_ja"] else "—")
    c[1].metric(t("購入回数", "Purchases"), count(r["count_purchases"]))
    c[2].metric(t("累計売上", "Lifetime revenue"), yen(r["lifetime_revenue"]))
    c[3].metric(t("予測CLV", "Predicted CLV"), yen(r["predicted_clv"]))
    st.caption(
        f"{t('初回', 'first')} {day(r['first_purchase_date'])} · {t('最終', 'last')} {day(r['last_purchase_date'])} · "
        f"{channel(r['acquisition_channel'])} · {t(r['loyalty_tier_ja'], r['loyalty_tier'])} · "
        f"P(alive) {pct(r['p_alive'])} · {t('離脱リスク', 'churn risk')} {label(CHURN_RISK_JA, r['churn_risk'], language())}"
    )
    orders = data.query(
        "select order_date, status, order_total, purchase_number, order_channel from marts.fct_orders "
        "where customer_id = ? order by ordered_at desc",
        [customer],
    )
    st.dataframe(
        orders.assign(order_date=orders["order_date"].map(day), order_total=orders["order_total"].map(yen)),
        hide_index=True,
    )
    if "customer_offers" in data.published_marts():
        offers = data.query(
            "select offer_rank, product_id, reason from marts.customer_offers where customer_id = ? order by 1",
            [customer],
        )
        for o in offers.itertuples():
            st.write(f"{t('オファー', 'Offer')} {o.offer_rank}: {product(o.product_id, names)} — {o.reason}")


def subscription_money() -> None:
    """通常→定期 (subscription_conversion) and 定期 LTV against CAC (subscription_ltv), on the 定期 page."""
    minimum = min_customers()
    conv = data.mart(
        "subscription_conversion",
        "select * from marts.subscription_conversion where acquisition_channel = 'all' order by cohort_month",
    )
    if not _problem(conv):
        st.subheader(t("通常→定期 引上げ率（初回購入月 x 日数）", "One-time to subscription by cohort x days"))
        table = cohort_table(conv.df, "cohort_month", "conversion_rate_{n}d", "count_eligible_{n}d", [30, 90, 180])
        st.dataframe(grey_small(table.rename(columns={"cohort_month": t("初回購入月", "cohort")})), hide_index=True)
    ltv = data.mart("subscription_ltv", "select * from marts.subscription_ltv order by acquisition_channel, offer_code")
    if not _problem(ltv):
        df = ltv.df
        st.subheader(t("定期LTVとCAC（チャネル x オファー）", "Subscription LTV vs CAC (channel x offer)"))
        st.dataframe(
            grey_small(
                pd.DataFrame(
                    {
                        t("チャネル", "channel"): df["acquisition_channel"].map(channel),
                        t("オファー", "offer"): df["offer_code"],
                        t("定期数", "subscriptions"): df["count_subscriptions"].map(count),
                        t("実績LTV", "realised LTV"): [
                            cohort_cell(v, n, minimum, yen)
                            for v, n in zip(df["realised_ltv"], df["count_subscriptions"], strict=True)
                        ],
                        t("予測LTV", "projected LTV"): [
                            cohort_cell(v, n, minimum, yen)
                            for v, n in zip(df["projected_ltv"], df["count_subscriptions"], strict=True)
                        ],
                        "CAC": df["cac"].map(yen),
                        t("予測LTV/CAC", "projected LTV/CAC"): df["projected_ltv_to_cac"].map(
                            lambda x: "—" if missing(x) else f"{x:.2f}"
                        ),
                    }
                )
            ),
            hide_index=True,
        )
