"""Sample-data generator: a realistic Japanese D2C (通販) shop in JPY, written as the raw contract's
landing layout (``<out>/<table>/<YYYY-MM-DD>.parquet`` or ``.csv``).

Everything is vectorised with numpy and pyarrow, so 1,000,000 customers over three years generate
in minutes on two cores. The same ``--seed`` always gives byte-identical rows.

What is planted (and recorded in ``<out>/_planted.json`` so tests can check that the marts
recover it):
- eight acquisition channels that differ in cost per new customer (CPA) and in repeat behaviour
  (paid_social buys many cheap customers who rarely come back);
- with ``--customer-heterogeneity``, per-customer dropout: the chance of buying again after each
  purchase is drawn per customer from a Beta with the channel's expected repeat purchases
  (``REPEAT_BETA_B``), so some customers of a channel stay for years and others never return, and
  each buys at their own pace (``REPEAT_PACE_SHAPE``);
- subscription (定期) customers who reorder supplements about monthly, each with a contract in
  ``subscriptions`` (optional table) whose retention is planted per offer code and channel: a deep
  初回80%OFF offer (mostly bought through paid_social) churns after delivery 1-2, LINE subscribers
  stay longest; the per-subscriber churn probability is Beta-distributed (the sBG model), so the
  planted n回目継続率 S(n-1) = B(a, b + n - 1) / B(a, b) is recorded exactly; some subscribers are
  on a rotating course (a different supplement each delivery) and some switch flavour once, both
  within the same contract;
- seasonality (December and March peaks, a summer dip);
- a web funnel with about 70% cart abandonment, some purchases without a recorded cart event;
- store and phone orders with no web session, guest checkouts, cancellations and returns (re-sent
  as a later version of the order), late-arriving rows, a re-sent spend file;
- a small share of every kind of bad row the contract lists (see ``BAD_ROW_KINDS``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.contract import TABLE_COLUMNS

# --------------------------------------------------------------------------------------
# The shop's world. Each channel: share of new customers, planted CPA (JPY per new customer),
# probability that a customer buys again after each purchase, mean days between purchases,
# raw acquisition_source written as source/medium, and the share whose first order is web/app.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Channel:
    name: str
    share: float
    cpa: float
    p_repeat: float
    mean_gap_days: float
    source: str
    medium: str
    web_share: float


CHANNELS: tuple[Channel, ...] = (
    Channel("line", 0.10, 8000.0, 0.62, 50.0, "line", "social", 0.95),
    Channel("email", 0.06, 2500.0, 0.58, 55.0, "newsletter", "email", 0.95),
    Channel("paid_search", 0.20, 12000.0, 0.45, 70.0, "google", "cpc", 0.97),
    # paid_social sells a discounted trial (お試し) first order: cheap per new customer, but the
    # customers rarely come back, so its LTV/CAC is the worst of the paid channels.
    Channel("paid_social", 0.22, 6000.0, 0.12, 120.0, "instagram", "paid_social", 0.97),
    Channel("affiliate", 0.10, 9000.0, 0.25, 90.0, "a8", "affiliate", 0.97),
    Channel("organic", 0.14, 0.0, 0.50, 60.0, "google", "organic", 0.97),
    Channel("direct", 0.10, 0.0, 0.52, 60.0, "(direct)", "(none)", 0.90),
    Channel("store", 0.08, 0.0, 0.55, 45.0, "store", "offline", 0.0),
)
TRIAL_CHANNEL = 3  # paid_social
TRIAL_DISCOUNT = 0.75

# 定期 offers: share of each channel's subscribers who start on the deep first-order discount, and
# the Beta(a, b) of the per-renewal churn probability per (offer, channel) segment ('*' = any).
SUB_DEEP_OFFER = "FIRST80OFF"
SUB_STANDARD_OFFER = "STANDARD"
SUB_DEEP_SHARE = {"paid_social": 0.85, "affiliate": 0.5}
SUB_DEEP_SHARE_DEFAULT = 0.1
SUB_CHURN_BETA = {
    (SUB_DEEP_OFFER, "*"): (3.0, 1.5),
    (SUB_STANDARD_OFFER, "line"): (2.0, 16.0),
    (SUB_STANDARD_OFFER, "*"): (2.0, 10.0),
}
SUB_INTERVAL_DAYS = 30
# 定期便 product changes (their own random stream): a share of subscribers is on a rotating course
# (each delivery the next of three supplements), another share switches flavour once, at a random
# delivery after the first; a product change is not a cancellation
SUB_ROTATING_SHARE = 0.2
SUB_SWITCH_SHARE = 0.15
SUB_COURSE_LENGTH = 3
# per-customer dropout: the chance p of buying again after each purchase is Beta(a, b) per customer,
# so customers of one channel differ (the BG/NBD's assumption). b is this constant and a = (b - 1) x
# p_repeat / (1 - p_repeat), which keeps the channel's expected repeat purchases per customer,
# E[p / (1 - p)] = a / (b - 1), at p_repeat / (1 - p_repeat): the shop's volume stays as it was
REPEAT_BETA_B = 3.0
# per-customer pace: a customer's mean gap between purchases is the channel's times a Gamma factor of
# mean 1 and this shape, so buyers of one channel differ in how often they buy too
REPEAT_PACE_SHAPE = 2.0
SUB_CANCEL_REASONS = {
    SUB_DEEP_OFFER: ["初回だけのつもりだった", "価格が高い", "効果を感じない"],
    SUB_STANDARD_OFFER: ["商品が余っている", "効果を感じない", "価格が高い", "引っ越し"],
}

# category, price range (JPY), share of products, cost rate
CATEGORIES = (
    ("skincare", (2200, 8800), 0.34, 0.25),
    ("supplements", (2980, 6480), 0.22, 0.22),
    ("haircare", (1500, 4400), 0.18, 0.30),
    ("apparel", (3900, 12800), 0.18, 0.45),
    ("outerwear", (16800, 39800), 0.08, 0.50),  # one-off: a coat is not bought twice
)
N_PRODUCTS = 60
STATUS_P = {"completed": 0.91, "cancelled": 0.035, "returned": 0.03, "pending": 0.025}
DEVICES = np.array(["desktop", "mobile", "tablet", "app"])
DEVICE_P = np.array([0.33, 0.52, 0.05, 0.10])
PREFECTURES = np.array(
    [
        "東京都",
        "神奈川県",
        "大阪府",
        "愛知県",
        "埼玉県",
        "千葉県",
        "兵庫県",
        "北海道",
        "福岡県",
        "静岡県",
    ]
)
BAD_ROW_KINDS = {
    "orders": [
        "missing order_id",
        "missing ordered_at",
        "unparseable ordered_at",
        "unknown status",
        "negative order_total",
        "unparseable order_total",
        "negative discount_total",
        "negative shipping_fee",
    ],
    "order_items": [
        "non-positive quantity",
        "negative unit_price",
        "missing product_id",
        "unparseable line_number",
        "orphan order_id",
    ],
    "customers": ["missing customer_id", "unparseable registered_at"],
    "products": ["missing product_name", "negative unit_cost"],
    "events": ["unknown event_type", "missing session_id", "unparseable occurred_at"],
    "marketing_spend": ["negative spend", "missing utm_source", "unparseable spend_date"],
    "subscriptions": ["missing customer_id", "unparseable started_at", "unknown status"],
}
SECONDS_PER_DAY = 86_400


def _log(msg: str, t0: float) -> None:
    print(f"[generate {time.perf_counter() - t0:6.1f}s] {msg}", flush=True)


def _seasonal_day_weights(start: date, n_days: int) -> np.ndarray:
    days = np.arange(n_days)
    dates = np.datetime64(start) + days
    month = (dates.astype("datetime64[M]").astype(int) % 12) + 1
    weight = np.ones(n_days)
    weight[month == 12] *= 1.6  # year-end gifting
    weight[month == 3] *= 1.25  # spring skincare
    weight[(month == 7) | (month == 8)] *= 0.8
    weekday = (dates.astype("datetime64[D]").astype(int) + 3) % 7  # 0 = Monday
    weight[weekday >= 5] *= 1.15
    # gentle growth over the period
    weight *= np.linspace(0.8, 1.2, n_days)
    return weight / weight.sum()


def _ts_strings(epoch_seconds: np.ndarray, rng: np.random.Generator, offset_share: float) -> pa.Array:
    """Business-time (JST) wall-clock seconds -> ISO strings. Most are naive (read in the business
    time zone); ``offset_share`` are written in UTC with a ``Z`` or as JST with ``+09:00``."""
    pick = rng.random(len(epoch_seconds)) if offset_share > 0 else None
    return _ts_strings_picked(epoch_seconds, pick, offset_share)


def _ts_strings_picked(epoch_seconds: np.ndarray, pick: np.ndarray | None, offset_share: float) -> pa.Array:
    """_ts_strings with its uniform draws (``pick``, one per value) made beforehand."""
    ts = pa.array(epoch_seconds.astype("datetime64[s]"))
    naive = pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S")
    if offset_share <= 0:
        return naive
    utc = pc.strftime(pa.array((epoch_seconds - 9 * 3600).astype("datetime64[s]")), format="%Y-%m-%dT%H:%M:%SZ")
    plus9 = pc.binary_join_element_wise(naive, pa.scalar("+09:00"), "")
    out = pc.if_else(pa.array(pick < offset_share / 2), utc, naive)
    return pc.if_else(pa.array((pick >= offset_share / 2) & (pick < offset_share)), plus9, out)


_IDS_CHUNK = 8_000_000  # utf8_lpad sizes its output for 4-byte characters: keep it under 2 GiB


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    if len(numbers) > _IDS_CHUNK:  # an event-heavy shop: pad in pieces, then one array again
        return pa.concat_arrays(
            [_ids(prefix, numbers[i : i + _IDS_CHUNK], width) for i in range(0, len(numbers), _IDS_CHUNK)]
        )
    return pc.binary_join_element_wise(
        pa.scalar(prefix), pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0"), ""
    )


def _take(values, idx: np.ndarray) -> pa.Array:
    """values[idx] as an Arrow string array without materialising numpy unicode arrays."""
    return pc.take(pa.array(list(values), pa.string()), pa.array(idx))


def _money(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.round(values).astype(np.int64)), pa.string())


def _pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Indices of about share*n rows, at least one when n > 0 and share > 0."""
    if n == 0 or share <= 0:
        return np.array([], dtype=np.int64)
    k = max(1, round(n * share))
    return rng.choice(n, size=min(k, n), replace=False)


def _tri_state(rng: np.random.Generator, n: int, p_true: float, p_false: float) -> pa.Array:
    """'true' / 'false' / null (unknown) text with the given shares."""
    draw = rng.random(n)
    values = np.where(draw < p_true, "true", np.where(draw < p_true + p_false, "false", ""))
    return pc.if_else(pa.array(values == ""), pa.nulls(n, pa.string()), pa.array(values))


_EVENTS_CHUNK = 4_000_000  # events whose text columns are built at once


class Generator:
    def __init__(
        self,
        customers: int,
        start: date,
        end: date,
        seed: int,
        bad_share: float,
        subscription_ids_on_orders: bool = True,
        dropouts: int = 0,
        browse_per_order: float = 2.0,
        campaign_response: float = 0.0,
        customer_heterogeneity: bool = False,
    ) -> None:
        self.n_customers = customers
        # per-customer dropout and pace (REPEAT_BETA_B, REPEAT_PACE_SHAPE); off: every customer of a
        # channel has its chance of buying again and its pace (the shop the sample tests were set on)
        self.customer_heterogeneity = customer_heterogeneity
        # browse-only sessions (no cart) per web order; 2.0 is the default shop, a larger value
        # makes an event-heavy shop (the scale benchmark) without changing anything else's shape
        self.browse_per_order = browse_per_order
        self.subscription_ids_on_orders = subscription_ids_on_orders
        # subscription draws come from their own stream (offer, churn, contract fields)
        self.sub_rng = np.random.default_rng([seed, 13])
        self.start = start
        self.end = end
        self.n_days = (end - start).days + 1
        self.seed = seed
        self.dropouts = dropouts
        self.campaign_response = campaign_response
        self.rng = np.random.default_rng(seed)
        self.bad_share = bad_share
        self.start_epoch = int(datetime(start.year, start.month, start.day).timestamp()) - int(
            datetime(1970, 1, 1).timestamp()
        )
        self.end_epoch = self.start_epoch + self.n_days * SECONDS_PER_DAY
        self.planted: dict = {}

    # ---- products ----------------------------------------------------------------
    def products(self) -> pa.Table:
        rng = self.rng
        cat_names = np.array([c[0] for c in CATEGORIES])
        cat_share = np.array([c[2] for c in CATEGORIES])
        counts = np.maximum(1, np.round(cat_share * N_PRODUCTS).astype(int))
        cat_of = np.repeat(np.arange(len(CATEGORIES)), counts)
        n = len(cat_of)
        lo = np.array([CATEGORIES[c][1][0] for c in cat_of])
        hi = np.array([CATEGORIES[c][1][1] for c in cat_of])
        price = np.round((lo + rng.random(n) * (hi - lo)) / 10) * 10
        cost = price * np.array([CATEGORIES[c][3] for c in cat_of]) * rng.uniform(0.8, 1.2, n)
        self.product_price = price
        self.product_cat = cat_of
        self.cat_names = cat_names
        cost_str = _money(cost)
        cost_str = pc.if_else(pa.array(rng.random(n) < 0.1), pa.nulls(n, pa.string()), cost_str)
        launched = self.start_epoch - rng.integers(30, 900, n) * SECONDS_PER_DAY
        names = [f"{cat_names[c]} item {i + 1:02d}" for i, c in enumerate(cat_of)]
        return pa.table(
            {
                "product_id": _ids("P", np.arange(1, n + 1), 4),
                "product_name": pa.array(names),
                "category": pa.array(cat_names[cat_of]),
                "unit_cost": cost_str,
                "launched_at": _ts_strings(launched, rng, 0.0),
                "updated_at": pa.nulls(n, pa.string()),
            }
        )

    # ---- customers and orders ----------------------------------------------------
    def customers_and_orders(self) -> tuple[pa.Table, dict]:
        rng, n = self.rng, self.n_customers
        shares = np.array([c.share for c in CHANNELS])
        chan = rng.choice(len(CHANNELS), size=n, p=shares / shares.sum())
        day_w = _seasonal_day_weights(self.start, self.n_days)
        reg_day = rng.choice(self.n_days, size=n, p=day_w)
        hour_p = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 8, 7, 6, 6, 6, 7, 8, 9, 10, 10, 8, 4.0])
        reg_sec = rng.choice(24, size=n, p=hour_p / hour_p.sum()) * 3600 + rng.integers(0, 3600, n)
        reg_epoch = self.start_epoch + reg_day * SECONDS_PER_DAY + reg_sec

        buys = rng.random(n) < 0.88  # some register and never buy
        first_delay = np.where(rng.random(n) < 0.8, 0, rng.geometric(0.15, n)) * SECONDS_PER_DAY
        first_epoch = reg_epoch + first_delay + rng.integers(60, 3600, n)
        p_repeat = np.array([c.p_repeat for c in CHANNELS])[chan]
        if self.customer_heterogeneity:
            # per-customer chance of buying again, the channel's expected repeat purchases kept (own
            # stream: the draws of the other streams stay where they were)
            repeat_rng = np.random.default_rng([self.seed, 12])
            repeat_a = (REPEAT_BETA_B - 1) * p_repeat / (1 - p_repeat)
            p_repeat = np.clip(repeat_rng.beta(repeat_a, REPEAT_BETA_B), 0.0, 0.98)
        subscriber = buys & (rng.random(n) < 0.09)
        extra = rng.geometric(1 - p_repeat) - 1
        rng.geometric(0.12, n)  # drawn (and unused) to keep the stream of the other customers
        # 定期: offer by channel, churn probability ~ Beta(a, b) of the (offer, channel) segment,
        # deliveries ~ geometric(theta): the sBG model, so S(n-1) is the planted n回目継続率
        srng = self.sub_rng
        chan_names = np.array([c.name for c in CHANNELS])
        deep_share = np.array([SUB_DEEP_SHARE.get(c.name, SUB_DEEP_SHARE_DEFAULT) for c in CHANNELS])[chan]
        sub_offer = np.where(srng.random(n) < deep_share, SUB_DEEP_OFFER, SUB_STANDARD_OFFER)
        seg_a, seg_b = np.empty(n), np.empty(n)
        for ci, c in enumerate(CHANNELS):
            for offer in (SUB_DEEP_OFFER, SUB_STANDARD_OFFER):
                mask = (chan == ci) & (sub_offer == offer)
                seg_a[mask], seg_b[mask] = _churn_beta(offer, c.name)
        theta = srng.beta(seg_a, seg_b)
        sub_deliveries = srng.geometric(np.clip(theta, 1e-6, 1.0))
        extra = np.where(subscriber, sub_deliveries - 1, extra)
        extra = np.where(buys, np.minimum(extra, 60), -1)
        # planted dropouts (off by default, so the default output is unchanged): frequent buyers
        # who make 6 purchases about 20 days apart and then never buy again, the last at least
        # 365 days before the end; a separate random stream picks them
        drop_rng = np.random.default_rng([self.seed, 10])
        eligible = np.flatnonzero(buys & ~subscriber & (first_epoch < self.end_epoch - (365 + 160) * SECONDS_PER_DAY))
        dropout = np.zeros(n, dtype=bool)
        if self.dropouts > 0:
            dropout[drop_rng.choice(eligible, size=min(self.dropouts, len(eligible)), replace=False)] = True
            extra = np.where(dropout, 5, extra)
        n_orders = extra + 1  # 0 for those who never buy

        cust_of = np.repeat(np.arange(n), n_orders)
        total = len(cust_of)
        group_start = np.repeat(np.cumsum(n_orders) - n_orders, n_orders)
        order_idx_in_cust = np.arange(total) - group_start
        # per-customer pace (own stream): the channel's mean gap times the customer's factor
        pace = (
            np.random.default_rng([self.seed, 15]).gamma(REPEAT_PACE_SHAPE, 1.0 / REPEAT_PACE_SHAPE, n)
            if self.customer_heterogeneity
            else np.ones(n)
        )
        mean_gap = np.array([c.mean_gap_days for c in CHANNELS])[chan][cust_of] * pace[cust_of]
        gaps = rng.gamma(2.0, mean_gap / 2.0) * SECONDS_PER_DAY
        sub = subscriber[cust_of]
        gaps = np.where(sub, (30 + rng.integers(-3, 4, total)) * SECONDS_PER_DAY, gaps)
        if self.dropouts > 0:
            gaps = np.where(dropout[cust_of], (20 + drop_rng.integers(-4, 5, total)) * SECONDS_PER_DAY, gaps)
        same_day = rng.random(total) < 0.01  # two orders on one day
        gaps = np.where(same_day & ~sub, rng.integers(600, 7200, total), gaps)
        gaps[order_idx_in_cust == 0] = 0
        cum = np.cumsum(gaps)
        starts = np.minimum(np.cumsum(n_orders) - n_orders, max(total - 1, 0))  # non-buyers repeat 0 times
        cum -= np.repeat(cum[starts], n_orders) if total else cum
        epoch = (first_epoch[cust_of] + cum).astype(np.int64)
        keep = epoch < self.end_epoch
        cust_of, epoch, sub, order_idx_in_cust = (
            cust_of[keep],
            epoch[keep],
            sub[keep],
            order_idx_in_cust[keep],
        )

        # guest checkouts: about 3% extra orders with no customer
        n_guest = int(len(cust_of) * 0.03)
        guest_epoch = self.start_epoch + rng.choice(self.n_days, n_guest, p=day_w) * SECONDS_PER_DAY
        guest_epoch += rng.integers(8 * 3600, 23 * 3600, n_guest)
        cust_of = np.concatenate([cust_of, np.full(n_guest, -1)])
        epoch = np.concatenate([epoch, guest_epoch])
        sub = np.concatenate([sub, np.zeros(n_guest, bool)])
        order_idx_in_cust = np.concatenate([order_idx_in_cust, np.zeros(n_guest, int)])
        order_sort = np.lexsort((cust_of, epoch))
        cust_of, epoch, sub, order_idx_in_cust = (
            cust_of[order_sort],
            epoch[order_sort],
            sub[order_sort],
            order_idx_in_cust[order_sort],
        )
        n_ord = len(epoch)

        # order channel: store customers buy in store, otherwise web/app with some phone and line
        cust_chan = np.where(cust_of >= 0, chan[np.maximum(cust_of, 0)], 6)
        web_share = np.array([c.web_share for c in CHANNELS])[cust_chan]
        u = rng.random(n_ord)
        order_channel = np.where(
            u < web_share * 0.86,
            "web",
            np.where(
                u < web_share,
                "app",
                np.where(u < web_share + (1 - web_share) * 0.7, "store", "phone"),
            ),
        )
        order_channel = np.where(cust_chan == 7, np.where(u < 0.8, "store", "phone"), order_channel)
        order_channel = np.where(cust_of < 0, "web", order_channel)
        order_channel = np.where((rng.random(n_ord) < 0.03) & (order_channel == "web"), "line", order_channel)

        status_names = np.array(list(STATUS_P))
        status = rng.choice(status_names, size=n_ord, p=np.array(list(STATUS_P.values())))
        recent = epoch > self.end_epoch - 5 * SECONDS_PER_DAY
        status = np.where((status == "pending") & ~recent, "completed", status)
        status = np.where(recent & (rng.random(n_ord) < 0.3), "pending", status)
        status_drawn = status
        # a 定期 delivery is never cancelled (its contract is, in the subscriptions table)
        status = np.where(sub & (status == "cancelled"), "completed", status)

        # items: 1-3 lines; the first line from the customer's favourite category
        n_lines = rng.choice([1, 2, 3], size=n_ord, p=[0.62, 0.28, 0.10])
        fav_cat = rng.choice(len(CATEGORIES), size=n, p=[0.36, 0.22, 0.18, 0.18, 0.06])
        line_order = np.repeat(np.arange(n_ord), n_lines)
        line_no = np.arange(len(line_order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
        n_items = len(line_order)
        prod_by_cat = [np.flatnonzero(self.product_cat == c) for c in range(len(CATEGORIES))]
        line_cat = np.where(
            line_no == 1,
            np.where(cust_of[line_order] >= 0, fav_cat[np.maximum(cust_of[line_order], 0)], 0),
            rng.choice(len(CATEGORIES), size=n_items, p=[0.34, 0.26, 0.2, 0.16, 0.04]),
        )
        line_cat = np.where(sub[line_order] & (line_no == 1), 1, line_cat)
        product = np.empty(n_items, dtype=np.int64)
        for c, members in enumerate(prod_by_cat):
            mask = line_cat == c
            product[mask] = members[rng.integers(0, len(members), mask.sum())]
        # a subscriber starts on one supplement (the contract's product); a rotating course moves to
        # the next supplement each delivery, a switcher changes once at a random delivery >= 2
        supplements = prod_by_cat[1]
        sub_product = supplements[np.arange(n) % len(supplements)]
        change_rng = np.random.default_rng([self.seed, 14])
        kind = change_rng.random(n)
        rotating = subscriber & (kind < SUB_ROTATING_SHARE)
        switcher = subscriber & ~rotating & (kind < SUB_ROTATING_SHARE + SUB_SWITCH_SHARE)
        switch_at = change_rng.integers(1, 6, n)  # delivery index (0-based) of the switch
        sub_line = sub[line_order] & (line_no == 1)
        line_cust = cust_of[line_order][sub_line]
        delivery_idx = order_idx_in_cust[line_order][sub_line]
        start_pos = np.arange(n) % len(supplements)
        step = np.where(rotating[line_cust], delivery_idx % SUB_COURSE_LENGTH, 0)
        step = np.where(switcher[line_cust] & (delivery_idx >= switch_at[line_cust]), 1, step)
        product[sub_line] = supplements[(start_pos[line_cust] + step) % len(supplements)]
        quantity = rng.choice([1, 2, 3], size=n_items, p=[0.8, 0.15, 0.05])
        unit_price = self.product_price[product]
        unit_price = np.where(sub_line, np.round(unit_price * 0.8 / 10) * 10, unit_price)  # 定期 discount
        line_value = quantity * unit_price
        subtotal = np.bincount(line_order, weights=line_value, minlength=n_ord)
        discount = np.where(rng.random(n_ord) < 0.15, np.round(subtotal * 0.1 / 10) * 10, 0.0)
        trial = (order_idx_in_cust == 0) & (cust_chan == TRIAL_CHANNEL) & (cust_of >= 0)
        discount = np.where(trial, np.round(subtotal * TRIAL_DISCOUNT / 10) * 10, discount)
        deep_first = sub & (order_idx_in_cust == 0) & (sub_offer[np.maximum(cust_of, 0)] == SUB_DEEP_OFFER)
        discount = np.where(deep_first, np.round(subtotal * 0.8 / 10) * 10, discount)  # 初回80%OFF
        shipping = np.where((subtotal - discount) < 5000, 550.0, 0.0)
        shipping = np.where(order_channel == "store", 0.0, shipping)
        order_total = subtotal - discount + shipping

        order_number = np.arange(1, n_ord + 1)
        self.orders_np = {
            "epoch": epoch,
            "cust_of": cust_of,
            "status": status,
            "order_channel": order_channel,
            "order_number": order_number,
            "idx_in_cust": order_idx_in_cust,
        }
        self.items_np = {"line_order": line_order, "line_no": line_no, "product": product}
        self.cust_np = {"chan": chan, "reg_epoch": reg_epoch, "first_epoch": first_epoch}
        self.rotating, self.switcher = rotating, switcher

        cust_ids = _ids("C", np.arange(1, n + 1), 7)
        order_ids = _ids("O", order_number, 9)
        cust_id_of_order = pc.if_else(
            pa.array(cust_of >= 0),
            pc.take(cust_ids, pa.array(np.maximum(cust_of, 0))),
            pa.scalar(""),
        )
        order_tbl = pa.table(
            {
                "order_id": order_ids,
                "customer_id": cust_id_of_order,
                "ordered_at": _ts_strings(epoch, rng, 0.1),
                "status": pa.array(status),
                "order_total": _money(order_total),
                "discount_total": pc.if_else(pa.array(discount > 0), _money(discount), pa.nulls(n_ord, pa.string())),
                "shipping_fee": _money(shipping),
                "order_channel": pa.array(order_channel),
                "is_subscription": pa.array(np.where(sub, "true", "false")),
                "updated_at": pa.nulls(n_ord, pa.string()),
            }
        )
        sub_ids = _ids("S", np.arange(1, n + 1), 7)
        if self.subscription_ids_on_orders:
            order_tbl = order_tbl.add_column(
                order_tbl.schema.get_field_index("updated_at"),
                "subscription_id",
                pc.if_else(
                    pa.array(sub),
                    pc.take(sub_ids, pa.array(np.maximum(cust_of, 0))),
                    pa.nulls(n_ord, pa.string()),
                ),
            )
        file_epoch = epoch.copy()
        # late-arriving rows: 1% of orders (with their items) land 1-5 days later
        late = rng.random(n_ord) < 0.01
        file_epoch[late] += rng.integers(1, 6, late.sum()) * SECONDS_PER_DAY
        file_epoch = np.minimum(file_epoch, self.end_epoch - 1)  # no file is dated after the period
        item_tbl = pa.table(
            {
                "order_id": pc.take(order_ids, pa.array(line_order)),
                "line_number": pc.cast(pa.array(line_no), pa.string()),
                "product_id": pc.take(_ids("P", np.arange(1, len(self.product_price) + 1), 4), pa.array(product)),
                "quantity": pc.cast(pa.array(quantity), pa.string()),
                "unit_price": _money(unit_price),
            }
        )
        # returns and cancellations re-sent: the first version was 'completed', a later file
        # carries the new status with a later updated_at.
        changed = np.flatnonzero(np.isin(status_drawn, ["returned", "cancelled"]) & (rng.random(n_ord) < 0.7))
        delay = rng.integers(2, 15, len(changed)) * SECONDS_PER_DAY
        upd_epoch = epoch[changed] + delay
        in_range = upd_epoch < self.end_epoch
        changed, upd_epoch = changed[in_range], upd_epoch[in_range]
        first_versions = order_tbl.take(pa.array(changed)).set_column(
            3, "status", pa.array(np.full(len(changed), "completed"))
        )
        new_versions = order_tbl.take(pa.array(changed)).set_column(
            order_tbl.schema.get_field_index("updated_at"),
            "updated_at",
            _ts_strings(upd_epoch, rng, 0.0),
        )
        # consent (own random stream, so the rest of the shop does not change with it): e-mail
        # opt-in 60% yes / 25% no / 15% unknown; LINE friend 40% yes / 45% no / 15% unknown
        consent_rng = np.random.default_rng([self.seed, 9])
        email_opt_in = _tri_state(consent_rng, n, 0.60, 0.25)
        line_opt_in = _tri_state(consent_rng, n, 0.40, 0.45)
        untouched = np.setdiff1d(np.arange(n_ord), changed)
        orders_all = pa.concat_tables([order_tbl.take(pa.array(untouched)), first_versions, new_versions])
        orders_file_epoch = np.concatenate([file_epoch[untouched], file_epoch[changed], upd_epoch])
        items_file_epoch = file_epoch[line_order]
        if self.campaign_response > 0:  # off by default: the default shop is unchanged
            extra_orders, extra_items, extra_epoch = self._campaign_orders(
                epoch, cust_of, status, fav_cat, cust_ids, email_opt_in, line_opt_in, order_tbl.schema, n_ord
            )
            orders_all = pa.concat_tables([orders_all, extra_orders])
            orders_file_epoch = np.concatenate([orders_file_epoch, extra_epoch])
            item_tbl = pa.concat_tables([item_tbl, extra_items])
            items_file_epoch = np.concatenate([items_file_epoch, extra_epoch])

        # customers: registered within the period; a few update their prefecture later
        birth = rng.integers(1950, 2006, n)
        src = np.array([c.source for c in CHANNELS])[chan]
        med = np.array([c.medium for c in CHANNELS])[chan]
        acq = np.char.add(np.char.add(src.astype(str), "/"), med.astype(str))
        acq_arr = pc.if_else(pa.array(rng.random(n) < 0.05), pa.nulls(n, pa.string()), pa.array(acq))
        cust_tbl = pa.table(
            {
                "customer_id": cust_ids,
                "registered_at": _ts_strings(reg_epoch, rng, 0.05),
                "acquisition_source": acq_arr,
                "email": pc.binary_join_element_wise(cust_ids, pa.scalar("@example.jp"), ""),
                "full_name": pc.binary_join_element_wise(pa.scalar("顧客 "), cust_ids, ""),
                "email_opt_in": email_opt_in,
                "line_opt_in": line_opt_in,
                # a LINE user ID where the customer added the shop as a friend (derived from the id:
                # no draw from the random streams, so every other planted value stays as it was)
                "line_user_id": pc.if_else(
                    pc.fill_null(pc.equal(line_opt_in, "true"), False),
                    pc.binary_join_element_wise(pa.scalar("U0000"), pc.utf8_lpad(cust_ids, 28, "0"), ""),
                    pa.nulls(n, pa.string()),
                ),
                "prefecture": pa.array(PREFECTURES[rng.integers(0, len(PREFECTURES), n)]),
                "birth_year": pc.cast(pa.array(birth), pa.string()),
                "updated_at": pa.nulls(n, pa.string()),
            }
        )
        ch_counts = np.bincount(chan[buys & (first_epoch < self.end_epoch)], minlength=len(CHANNELS))
        self.planted = {
            "channels": {
                c.name: {
                    "cpa": c.cpa,
                    "p_repeat": c.p_repeat,
                    **(
                        {
                            "repeat_beta": [(REPEAT_BETA_B - 1) * c.p_repeat / (1 - c.p_repeat), REPEAT_BETA_B],
                            "pace_gamma_shape": REPEAT_PACE_SHAPE,
                        }
                        if self.customer_heterogeneity
                        else {}
                    ),
                    "acquisition_source": f"{c.source}/{c.medium}",
                    "new_customers": int(ch_counts[i]),
                }
                for i, c in enumerate(CHANNELS)
            },
            "customers": int(n),
            "orders": int(n_ord),
            "guest_orders": int(n_guest),
        }
        if self.campaign_response > 0:
            self.planted["campaign"] = self.campaign_planted
        subs_tbl, subs_epoch = self._subscriptions(
            subscriber, sub_offer, chan_names[chan], sub_ids, cust_ids, sub_product, epoch, cust_of, sub, status
        )
        if self.dropouts > 0:
            self.planted["dropouts"] = {
                "customer_ids": [f"C{i + 1:07d}" for i in np.flatnonzero(dropout)],
                "purchases": 6,
                "last_purchase_at_least_days_before_end": 365,
            }
        return cust_tbl, {
            "orders": (orders_all, orders_file_epoch),
            "order_items": (item_tbl, items_file_epoch),
            "customers": (cust_tbl, reg_epoch),
            "subscriptions": (subs_tbl, subs_epoch),
        }

    # ---- a planted campaign response (One-to-One activation) ------------------------------------

    def _campaign_orders(
        self,
        epoch,
        cust_of,
        status,
        fav_cat,
        cust_ids,
        email_opt_in,
        line_opt_in,
        order_schema: pa.Schema,
        n_ord: int,
    ):
        """Customers who enter the second-purchase nurture audience (one completed purchase, none
        in the 7 days after it: the audience's rule) with a consented channel and outside the
        holdout (orchestration/activation/exports.py::holdout_bucket) buy once more, with probability
        ``campaign_response``, 1-6 days after their entry day; held-out customers do not. One order
        of one line per buyer, numbered after every other order; its own random stream."""
        from orchestration.activation.exports import holdout_bucket

        crng = np.random.default_rng([self.seed, 11])
        audience = "second_purchase_nurture"
        day = epoch // SECONDS_PER_DAY
        pos = np.flatnonzero(cust_of >= 0)
        ordered = pos[np.lexsort((epoch[pos], cust_of[pos]))]  # by customer, then time
        by_cust = cust_of[ordered]
        starts = np.flatnonzero(np.r_[True, by_cust[1:] != by_cust[:-1]])
        custs, first = by_cust[starts], ordered[starts]
        has_next = np.diff(np.r_[starts, len(ordered)]) > 1
        second = ordered[np.minimum(starts + 1, len(ordered) - 1)]
        next_day = np.where(has_next, day[second], np.iinfo(np.int64).max)
        entry_day = day[first] + 7
        consent = np.array([(line_opt_in[c].as_py() == "true") or (email_opt_in[c].as_py() == "true") for c in custs])
        ids = [cust_ids[c].as_py() for c in custs]
        held_out = np.array([holdout_bucket(i, audience) < 1000 for i in ids])
        enters = (
            (status[first] == "completed") & (next_day > entry_day) & (entry_day * SECONDS_PER_DAY < self.end_epoch)
        )
        buys = crng.random(len(custs)) < self.campaign_response
        buy_epoch = (entry_day + crng.integers(1, 7, len(custs))) * SECONDS_PER_DAY + crng.integers(
            10, 21, len(custs)
        ) * 3600
        chosen = np.flatnonzero(enters & consent & ~held_out & buys & (buy_epoch < self.end_epoch))
        self.campaign_planted = {
            "audience": audience,
            "response_probability": self.campaign_response,
            "window_days": 7,
            "entries_with_consent": int((enters & consent).sum()),
            "held_out_with_consent": int((enters & consent & held_out).sum()),
            "extra_orders": len(chosen),
        }
        k = len(chosen)
        numbers = np.arange(n_ord + 1, n_ord + 1 + k)
        order_ids = _ids("O", numbers, 9)
        prod_by_cat = [np.flatnonzero(self.product_cat == c) for c in range(len(CATEGORIES))]
        product = np.array(
            [prod_by_cat[fav_cat[custs[i]]][crng.integers(0, len(prod_by_cat[fav_cat[custs[i]]]))] for i in chosen],
            dtype=np.int64,
        )
        price = self.product_price[product] if k else np.zeros(0)
        shipping = np.where(price < 5000, 550.0, 0.0)
        columns = {
            "order_id": order_ids,
            "customer_id": pa.array(ids[i] for i in chosen) if k else pa.array([], pa.string()),
            "ordered_at": _ts_strings(buy_epoch[chosen], crng, 0.0),
            "status": pa.array(["completed"] * k, pa.string()),
            "order_total": _money(price + shipping),
            "discount_total": pa.nulls(k, pa.string()),
            "shipping_fee": _money(shipping),
            "order_channel": pa.array(["web"] * k, pa.string()),
            "is_subscription": pa.array(["false"] * k, pa.string()),
            "subscription_id": pa.nulls(k, pa.string()),
            "updated_at": pa.nulls(k, pa.string()),
        }
        orders = pa.table({f.name: columns[f.name] for f in order_schema})
        items = pa.table(
            {
                "order_id": order_ids,
                "line_number": pa.array(["1"] * k, pa.string()),
                "product_id": pc.take(_ids("P", np.arange(1, len(self.product_price) + 1), 4), pa.array(product)),
                "quantity": pa.array(["1"] * k, pa.string()),
                "unit_price": _money(price),
            }
        )
        return orders, items, buy_epoch[chosen]

    # ---- 定期 contracts -----------------------------------------------------------------
    def _subscriptions(
        self,
        subscriber,
        offer,
        chan_name,
        sub_ids,
        cust_ids,
        sub_product,
        epoch,
        cust_of,
        sub,
        status,
    ) -> tuple[pa.Table, np.ndarray]:
        """One contract per subscriber with a delivery in the period: started at the first
        delivery, cancelled 5-25 days after the last one when that falls in the period (re-sent as
        a later version), else active. Records the planted retention per segment."""
        srng = self.sub_rng
        n = len(subscriber)
        delivered = sub & (status != "cancelled")
        first = np.full(n, np.iinfo(np.int64).max)
        last = np.full(n, -1, dtype=np.int64)
        np.minimum.at(first, cust_of[delivered], epoch[delivered])
        np.maximum.at(last, cust_of[delivered], epoch[delivered])
        who = np.flatnonzero(subscriber & (last >= 0))
        k = len(who)
        cancel_epoch = last[who] + srng.integers(5, 26, k) * SECONDS_PER_DAY
        cancelled = cancel_epoch < self.end_epoch
        reasons = np.array([srng.choice(SUB_CANCEL_REASONS[str(o)]) for o in offer[who]]) if k else np.array([])
        product_ids = _ids("P", np.arange(1, len(self.product_price) + 1), 4)
        base = pa.table(
            {
                "subscription_id": pc.take(sub_ids, pa.array(who)),
                "customer_id": pc.take(cust_ids, pa.array(who)),
                "product_id": pc.take(product_ids, pa.array(sub_product[who])),
                "started_at": _ts_strings(first[who], srng, 0.0),
                "interval_days": pa.array([str(SUB_INTERVAL_DAYS)] * k, pa.string()),
                "status": pa.array(["active"] * k, pa.string()),
                "cancelled_at": pa.nulls(k, pa.string()),
                "cancel_reason": pa.nulls(k, pa.string()),
                "offer_code": pa.array(offer[who].astype(str).tolist(), pa.string()),
                "updated_at": pa.nulls(k, pa.string()),
            }
        )
        c = np.flatnonzero(cancelled)
        resent = base.take(pa.array(c))
        resent = resent.set_column(5, "status", pa.array(["cancelled"] * len(c), pa.string()))
        cancel_ts = _ts_strings(cancel_epoch[c], srng, 0.0)
        resent = resent.set_column(6, "cancelled_at", cancel_ts)
        resent = resent.set_column(7, "cancel_reason", pa.array(reasons[c].tolist(), pa.string()))
        resent = resent.set_column(9, "updated_at", cancel_ts)
        tbl = pa.concat_tables([base, resent])
        file_epoch = np.concatenate([first[who], cancel_epoch[c]])
        segments = {}
        for (seg_offer, seg_chan), (a, b) in SUB_CHURN_BETA.items():
            segments[f"{seg_offer}|{seg_chan}"] = {
                "offer_code": seg_offer,
                "acquisition_channel": seg_chan,
                "alpha": a,
                "beta": b,
                "retention": [float(x) for x in _sbg_retention(a, b, 13)],
            }
        self.planted["subscriptions"] = {
            "contracts": int(k),
            "cancelled": len(c),
            "interval_days": SUB_INTERVAL_DAYS,
            "deep_offer": SUB_DEEP_OFFER,
            "deep_offer_share": {**{ch.name: SUB_DEEP_SHARE.get(ch.name, SUB_DEEP_SHARE_DEFAULT) for ch in CHANNELS}},
            "segments": segments,
            "churn_beta_rule": "(offer, channel) else (offer, '*')",
            "rotating_course_share": SUB_ROTATING_SHARE,
            "rotating_course_length": SUB_COURSE_LENGTH,
            "switch_share": SUB_SWITCH_SHARE,
            "rotating_customer_ids": [f"C{i + 1:07d}" for i in np.flatnonzero(self.rotating & (last >= 0))],
            "switcher_customer_ids": [f"C{i + 1:07d}" for i in np.flatnonzero(self.switcher & (last >= 0))],
        }
        return tbl, file_epoch

    # ---- events ----------------------------------------------------------------
    def events(self) -> tuple[pa.Table, np.ndarray]:
        rng = self.rng
        o = self.orders_np
        chan = self.cust_np["chan"]
        web = np.isin(o["order_channel"], ["web", "app"])
        ord_idx = np.flatnonzero(web)
        n_buy = len(ord_idx)
        cust = o["cust_of"][ord_idx]
        # session channel: a first purchase comes through the acquisition channel; repeats
        # mostly through CRM channels (email, line) and direct.
        first = (o["idx_in_cust"][ord_idx] == 0) & (cust >= 0)
        repeat_src = rng.choice([1, 0, 6, 5, 2], size=n_buy, p=[0.3, 0.25, 0.25, 0.1, 0.1])
        sess_chan = np.where(first, chan[np.maximum(cust, 0)], repeat_src)
        sess_chan = np.where(cust < 0, rng.choice([2, 3, 5, 6], size=n_buy), sess_chan)
        sess_chan = np.where(sess_chan == 7, 6, sess_chan)  # store customers online come direct
        device = np.where(o["order_channel"][ord_idx] == "app", 3, rng.choice(3, n_buy, p=[0.37, 0.57, 0.06]))
        start = o["epoch"][ord_idx] - rng.integers(120, 1800, n_buy)

        # abandoned sessions (cart but no purchase): about 70% of carts are abandoned
        n_ab = int(n_buy * 2.35)
        n_browse = int(n_buy * self.browse_per_order)
        n_extra = n_ab + n_browse
        any_cust = rng.integers(0, self.n_customers, n_extra)
        known = rng.random(n_extra) < 0.55
        x_cust = np.where(known, any_cust, -1)
        x_start = self.start_epoch + rng.integers(0, self.n_days * SECONDS_PER_DAY - 3600, n_extra)
        x_chan = rng.choice(7, size=n_extra, p=[0.12, 0.1, 0.25, 0.25, 0.08, 0.1, 0.1])
        x_device = rng.choice(len(DEVICES), size=n_extra, p=DEVICE_P)

        s_cust = np.concatenate([cust, x_cust])
        s_start = np.concatenate([start, x_start])
        s_chan = np.concatenate([sess_chan, x_chan])
        s_device = np.concatenate([device, x_device])
        kind = np.concatenate([np.full(n_buy, 2), np.full(n_ab, 1), np.full(n_browse, 0)])
        n_sess = len(kind)
        s_order = np.concatenate([o["order_number"][ord_idx], np.zeros(n_extra, np.int64)])

        # steps reached: 0 page_view, 1 product_view, 2 add_to_cart, 3 checkout_start, 4 purchase
        has_pv = np.where(kind == 0, rng.random(n_sess) < 0.55, True)
        has_cart = kind >= 1
        no_cart_record = (kind == 2) & (rng.random(n_sess) < 0.04)  # purchase, cart not tracked
        has_cart = has_cart & ~no_cart_record
        has_checkout = (kind == 2) | ((kind == 1) & (rng.random(n_sess) < 0.35))
        has_purchase = kind == 2
        steps = np.stack([np.ones(n_sess, bool), has_pv, has_cart, has_checkout, has_purchase], axis=1)
        per_sess = steps.sum(axis=1)
        # per-event arrays in the narrowest type that holds them (48M events at 1M customers)
        ev_sess = np.repeat(np.arange(n_sess, dtype=np.int32), per_sess)
        ev_type_idx = np.nonzero(steps)[1].astype(np.int8)
        n_ev = len(ev_sess)
        step_offset = ev_type_idx * rng.integers(20, 240, n_ev)
        ev_epoch = s_start[ev_sess] + step_offset
        del step_offset
        # a purchase session stays on its order's business date, its purchase event at order time
        order_epoch = o["epoch"][ord_idx]
        buy_ev = ev_sess < n_buy
        day_start = (order_epoch // SECONDS_PER_DAY) * SECONDS_PER_DAY
        ev_epoch[buy_ev] = np.clip(ev_epoch[buy_ev], day_start[ev_sess[buy_ev]], order_epoch[ev_sess[buy_ev]])
        ev_epoch[buy_ev & (ev_type_idx == 4)] = order_epoch[ev_sess[buy_ev & (ev_type_idx == 4)]]
        ev_types = np.array(["page_view", "product_view", "add_to_cart", "checkout_start", "purchase"])
        is_landing = np.r_[True, ev_sess[1:] != ev_sess[:-1]]

        sess_ids = _ids("S", np.arange(1, n_sess + 1), 10)
        cust_ids = _ids("C", np.arange(1, self.n_customers + 1), 7)
        ev_cust = s_cust.astype(np.int32)[ev_sess]
        # visitors are known from checkout on, or when logged in (half the time)
        logged_in = (rng.random(n_sess) < 0.5)[ev_sess]
        show_cust = (ev_cust >= 0) & (logged_in | (ev_type_idx >= 3))
        del logged_in
        anon = np.where(s_cust >= 0, s_cust, -(np.arange(n_sess) + 1)).astype(np.int32)[ev_sess]
        ev_product = np.where(
            np.isin(ev_type_idx, [1, 2]), rng.integers(1, len(self.product_price) + 1, n_ev), 0
        ).astype(np.int32)
        ts_pick = rng.random(n_ev)  # the draws of _ts_strings(ev_epoch, rng, 0.05), made here
        # an abandoned cart holds the product that was viewed; a purchase session its first line
        ev_chan = s_chan.astype(np.int8)[ev_sess]
        direct = (ev_chan == 6) | ~is_landing
        sources = [c.source for c in CHANNELS]
        mediums = [c.medium for c in CHANNELS]
        campaigns = [f"{c.name}_always_on" for c in CHANNELS]

        def column(build) -> pa.Array:
            """One text column, built _EVENTS_CHUNK events at a time: the strings of 48M events at
            once held several copies of each column (the generator peaked at 20 GB at 1M customers)."""
            parts = [build(slice(lo, lo + _EVENTS_CHUNK)) for lo in range(0, n_ev, _EVENTS_CHUNK)]
            return pa.concat_arrays(parts) if len(parts) != 1 else parts[0]

        def nulls_where(mask: np.ndarray, values: pa.Array) -> pa.Array:
            return pc.if_else(pa.array(mask), pa.nulls(len(mask), pa.string()), values)

        tbl = pa.table(
            {
                "event_id": column(lambda sl: _ids("E", np.arange(sl.start + 1, min(sl.stop, n_ev) + 1), 11)),
                "session_id": column(lambda sl: pc.take(sess_ids, pa.array(ev_sess[sl]))),
                "anonymous_id": column(
                    lambda sl: pc.if_else(
                        pa.array(anon[sl] >= 0), _ids("A", np.abs(anon[sl]), 8), _ids("G", np.abs(anon[sl]), 10)
                    )
                ),
                "customer_id": column(
                    lambda sl: nulls_where(~show_cust[sl], pc.take(cust_ids, pa.array(np.maximum(ev_cust[sl], 0))))
                ),
                "event_type": column(lambda sl: _take(ev_types, ev_type_idx[sl])),
                "occurred_at": column(lambda sl: _ts_strings_picked(ev_epoch[sl], ts_pick[sl], 0.05)),
                "product_id": column(lambda sl: nulls_where(ev_product[sl] <= 0, _ids("P", ev_product[sl], 4))),
                "order_id": column(lambda sl: nulls_where(ev_type_idx[sl] != 4, _ids("O", s_order[ev_sess[sl]], 9))),
                "utm_source": column(lambda sl: nulls_where(direct[sl], _take(sources, ev_chan[sl]))),
                "utm_medium": column(lambda sl: nulls_where(direct[sl], _take(mediums, ev_chan[sl]))),
                "utm_campaign": column(lambda sl: nulls_where(direct[sl], _take(campaigns, ev_chan[sl]))),
                "device": column(lambda sl: _take(DEVICES, s_device[ev_sess[sl]])),
            }
        )
        return tbl, ev_epoch

    # ---- marketing spend ---------------------------------------------------------
    def spend(self) -> tuple[pa.Table, np.ndarray]:
        """Daily spend per paid channel = planted CPA x that day's new customers (with noise),
        plus a source no rule maps (shown as `other`) and a re-sent day."""
        rng = self.rng
        chan, first_epoch = self.cust_np["chan"], self.cust_np["first_epoch"]
        orders = self.orders_np
        # new customers per channel per day, from who actually made a first purchase
        firsts = orders["cust_of"][(orders["idx_in_cust"] == 0) & (orders["cust_of"] >= 0)]
        first_day = (first_epoch[firsts] - self.start_epoch) // SECONDS_PER_DAY
        rows_day, rows_src, rows_med, rows_camp, rows_spend = [], [], [], [], []
        for ci, c in enumerate(CHANNELS):
            if c.cpa <= 0:
                continue
            counts = np.bincount(first_day[chan[firsts] == ci], minlength=self.n_days)[: self.n_days]
            spend = np.round(counts * c.cpa * rng.uniform(0.9, 1.1, self.n_days))
            rows_day.append(np.arange(self.n_days))
            rows_src.append(np.full(self.n_days, c.source))
            rows_med.append(np.full(self.n_days, c.medium))
            rows_camp.append(np.full(self.n_days, f"{c.name}_always_on"))
            rows_spend.append(spend)
        # an unmapped source: spend that no default rule maps (reported as `other`)
        rows_day.append(np.arange(0, self.n_days, 7))
        k = len(rows_day[-1])
        rows_src.append(np.full(k, "tiktok"))
        rows_med.append(np.full(k, "video"))
        rows_camp.append(np.full(k, "brand_video"))
        rows_spend.append(np.round(rng.uniform(3000, 9000, k)))
        day = np.concatenate(rows_day)
        tbl = pa.table(
            {
                "spend_date": pc.strftime(
                    pa.array((np.datetime64(self.start) + day).astype("datetime64[s]")),
                    format="%Y-%m-%d",
                ),
                "utm_source": pa.array(np.concatenate(rows_src)),
                "utm_medium": pa.array(np.concatenate(rows_med)),
                "utm_campaign": pa.array(np.concatenate(rows_camp)),
                "spend": _money(np.concatenate(rows_spend)),
            }
        )
        self.planted["spend_total"] = float(np.concatenate(rows_spend).sum())
        return tbl, self.start_epoch + day * SECONDS_PER_DAY

    # ---- bad rows ------------------------------------------------------------------
    def bad_rows(self, table: str, tbl: pa.Table, file_epoch: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        """Append a small share of rows of every bad kind: copies of good rows, broken, written to
        the same file as the row they copy."""
        rng = self.rng
        out, epochs, counts = [tbl], [file_epoch], {}
        for kind in BAD_ROW_KINDS[table]:
            idx = _pick(rng, tbl.num_rows, self.bad_share)
            if len(idx) == 0:
                continue
            bad = tbl.take(pa.array(idx))
            n = bad.num_rows
            col, value = kind.split()[-1], _BAD_VALUES.get(kind)
            if kind.startswith("missing"):
                arr = pa.nulls(n, pa.string()) if rng.random() < 0.5 else pa.array([""] * n)
            elif kind == "orphan order_id":
                arr = _ids("OX", rng.integers(1, 10**8, n), 9)
            elif kind.startswith("negative"):
                positive = pc.if_else(pc.equal(pc.fill_null(bad[col], "0"), "0"), pa.scalar("550"), bad[col])
                arr = pc.binary_join_element_wise(pa.scalar("-"), positive, "")
            else:
                arr = pa.array([value] * n)
            out.append(bad.set_column(bad.schema.get_field_index(col), col, arr))
            epochs.append(file_epoch[idx])
            counts[kind] = n
        self.planted.setdefault("bad_rows", {})[table] = counts
        return pa.concat_tables(out), np.concatenate(epochs)


# The text a bad row of each kind carries where the kind needs one (the column is the kind's last
# word; "missing", "negative" and "orphan" rows are made from the column's own values).
_BAD_VALUES = {
    "unparseable ordered_at": "2025-13-45T99:00:00",
    "unknown status": "shipped?",
    "unparseable order_total": "12,3oo",
    "non-positive quantity": "0",
    "unparseable line_number": "one",
    "unparseable registered_at": "yesterday",
    "unknown event_type": "scroll_depth",
    "unparseable occurred_at": "not a time",
    "unparseable spend_date": "2025/02/30",
    "unparseable started_at": "next month",
}


def _churn_beta(offer: str, channel: str) -> tuple[float, float]:
    return SUB_CHURN_BETA.get((offer, channel), SUB_CHURN_BETA[(offer, "*")])


def _sbg_retention(a: float, b: float, max_delivery: int) -> list[float]:
    """Planted share reaching delivery n = 1..max_delivery: prod_{i<n} (b + i - 1) / (a + b + i - 1)."""
    out, s = [], 1.0
    for n in range(1, max_delivery + 1):
        out.append(s)
        s *= (b + n - 1) / (a + b + n - 1)
    return out


def write_partitioned(tbl: pa.Table, file_epoch: np.ndarray, out_dir: Path, fmt: str, grain: str) -> int:
    """Write one file per day (or month) of ``file_epoch``, each file's rows in table order; returns
    the number of files. The rows are taken from each record batch on its own: a sorted copy of the
    whole table doubled the peak (48M events at 1M customers), and a take from the table's chunked
    columns concatenated every chunk again for each file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    days = np.datetime64("1970-01-01") + (file_epoch // SECONDS_PER_DAY).astype("timedelta64[D]")
    keys = days.astype(f"datetime64[{'M' if grain == 'month' else 'D'}]")
    pieces: dict[np.datetime64, list[tuple[pa.RecordBatch, np.ndarray]]] = {}
    offset = 0
    for batch in tbl.to_batches():
        batch_keys = keys[offset : offset + batch.num_rows]
        order = np.argsort(batch_keys, kind="stable")
        uniq, first_idx = np.unique(batch_keys[order], return_index=True)
        bounds = [*first_idx, batch.num_rows]
        for i, key in enumerate(uniq):
            pieces.setdefault(key, []).append((batch, order[bounds[i] : bounds[i + 1]]))
        offset += batch.num_rows
    for key in sorted(pieces):
        part = pa.Table.from_batches([batch.take(pa.array(idx)) for batch, idx in pieces[key]]).combine_chunks()
        name = str(key)
        if fmt == "parquet":
            pq.write_table(part, out_dir / f"{name}.parquet", compression="zstd")
        else:
            pacsv.write_csv(part, out_dir / f"{name}.csv")
    return len(pieces)


def generate(
    out: Path,
    customers: int = 3000,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
    seed: int = 42,
    fmt: str = "parquet",
    grain: str = "day",
    bad_share: float = 0.002,
    tables: tuple[str, ...] = tuple(TABLE_COLUMNS),
    subscription_ids_on_orders: bool = True,
    dropouts: int = 0,
    browse_per_order: float = 2.0,
    campaign_response: float = 0.0,
    customer_heterogeneity: bool = False,
) -> dict:
    """Generate the landing directory; returns the planted facts (also written to _planted.json)."""
    t0 = time.perf_counter()
    if end < start:
        raise SystemExit(f"--end {end} is before --start {start}: give an end date on or after the start")
    gen = Generator(
        customers,
        start,
        end,
        seed,
        bad_share,
        subscription_ids_on_orders,
        dropouts,
        browse_per_order=browse_per_order,
        campaign_response=campaign_response,
        customer_heterogeneity=customer_heterogeneity,
    )
    products = gen.products()
    _log(f"products: {products.num_rows}", t0)
    _, parts = gen.customers_and_orders()
    _log(f"customers: {customers:,}, orders: {gen.planted['orders']:,}", t0)
    events, ev_epoch = gen.events()
    _log(f"events: {events.num_rows:,}", t0)
    spend, sp_epoch = gen.spend()
    plan = {
        "products": (products, np.full(products.num_rows, gen.start_epoch)),
        **parts,
        "events": (events, ev_epoch),
        "marketing_spend": (spend, sp_epoch),
    }
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for table in tables:
        tbl, file_epoch = plan[table]
        tbl, file_epoch = gen.bad_rows(table, tbl, file_epoch)
        target = out / table
        if target.exists():
            shutil.rmtree(target)
        files[table] = write_partitioned(tbl, file_epoch, target, fmt, grain)
        gen.planted.setdefault("rows", {})[table] = tbl.num_rows
        _log(f"wrote {table}: {tbl.num_rows:,} rows in {files[table]} files", t0)
    if "marketing_spend" in tables:
        # a re-sent spend file for the first day: the same keys with corrected amounts, named to
        # sort after the original so that it replaces it
        first_day = pc.equal(pa.array(sp_epoch), pa.scalar(int(sp_epoch.min())))
        resend = spend.filter(first_day)
        resend = resend.set_column(4, "spend", pc.cast(pa.array(np.full(resend.num_rows, 1000)), pa.string()))
        first = min((out / "marketing_spend").iterdir())
        name = first.stem + "~resend" + first.suffix
        if fmt == "parquet":
            pq.write_table(resend, first.parent / name)
        else:
            pacsv.write_csv(resend, first.parent / name)
        gen.planted["rows"]["marketing_spend"] += resend.num_rows
        gen.planted["resent_spend_rows"] = resend.num_rows
    gen.planted.update({"seed": seed, "start": str(start), "end": str(end), "format": fmt, "files": files})
    (out / "_planted.json").write_text(json.dumps(gen.planted, indent=2, ensure_ascii=False))
    _log(f"done: {out}", t0)
    return gen.planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm-generate",
        description="Generate realistic sample landing data for a Japanese D2C shop (JPY), "
        "deterministic for a seed, in the raw contract's layout.",
    )
    parser.add_argument("--customers", type=int, default=3000, help="registered customers (default 3000)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1), help="first day, YYYY-MM-DD")
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31), help="last day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--out", type=Path, default=Path("data/landing"), help="landing directory to write")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument(
        "--files-per",
        choices=["day", "month"],
        default="day",
        dest="grain",
        help="one file per day (default) or per month",
    )
    parser.add_argument(
        "--bad-share",
        type=float,
        default=0.002,
        help="share of rows of each bad kind (default 0.002)",
    )
    parser.add_argument(
        "--no-subscription-ids",
        action="store_false",
        dest="subscription_ids_on_orders",
        help="do not write subscription_id on orders (deliveries then matched by customer+product)",
    )
    parser.add_argument(
        "--tables",
        default=",".join(TABLE_COLUMNS),
        help="comma-separated tables to write (orders is the only required one)",
    )
    parser.add_argument(
        "--dropouts",
        type=int,
        default=0,
        help="plant this many customers who buy 6 times ~20 days apart, then stop (default 0)",
    )
    parser.add_argument(
        "--browse-per-order",
        type=float,
        default=2.0,
        help="browse-only web sessions per web order (default 2.0; the scale "
        "benchmark uses more to reach ~50 events per customer)",
    )
    parser.add_argument(
        "--campaign-response",
        type=float,
        default=0.0,
        help="plant a campaign effect: contacted second-purchase-nurture entries (not held out, "
        "with consent) buy again within 7 days with this probability (default 0: none)",
    )
    parser.add_argument(
        "--customer-heterogeneity",
        action="store_true",
        help="plant per-customer dropout and pace: each customer's chance of buying again and mean gap "
        "between purchases vary around their channel's (the BG/NBD's assumption)",
    )
    args = parser.parse_args(argv)
    tables = tuple(t.strip() for t in args.tables.split(",") if t.strip())
    unknown = set(tables) - set(TABLE_COLUMNS)
    if unknown:
        parser.error(f"unknown tables {sorted(unknown)}; choose from {list(TABLE_COLUMNS)}")
    generate(
        args.out,
        args.customers,
        args.start,
        args.end,
        args.seed,
        args.format,
        args.grain,
        args.bad_share,
        tables,
        args.subscription_ids_on_orders,
        args.dropouts,
        browse_per_order=args.browse_per_order,
        campaign_response=args.campaign_response,
        customer_heterogeneity=args.customer_heterogeneity,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
