"""The morning digest: what the team reads without opening anything (docs/settings.md, `digest`).

After every run, in Japanese: yesterday's revenue, orders, new and repeat customers against the
mean of the same weekday over the previous ``digest_baseline_weeks`` weeks (var), F2 and CAC
against 限界CPO, today's sends per audience (the rows the exports carry), the checks that did not
pass, and alerts when revenue or orders move more than ``digest_alert_change_threshold`` (var)
from the baseline, when a channel's CAC passes its 限界CPO, or when the run failed.

Figures come from the published marts (``kpi_daily``, ``f2_conversion``, ``channel_acquisition``,
``customer_audiences``); nothing is re-derived. The digest is always written as HTML into
``<publish_dir>/digest/`` and, when configured, sent by SMTP and posted to a Slack-compatible
webhook (JSON ``{"text": ...}``). Secrets are read from the environment variables the settings
name, at send time, and never appear in a message or a log. A delivery that fails is reported,
never raised: the run's outcome does not depend on the mail server.

The Dagster job writes it in its last step (``morning_digest``); a failed run's digest is sent by
``crm run`` itself, and for runs launched by the Dagster daemon by the run-failure sensor.
"""

from __future__ import annotations

import html
import json
import os
import smtplib
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import duckdb

from orchestration.activation.exports import ROWS_SQL
from orchestration.publish.labels import audience_ja, channel_ja
from orchestration.settings import DigestDelivery, dbt_var, settings

DIGEST_DIR = "digest"
WEEKDAYS_JA = "月火水木金土日"


def yen(value: float | None) -> str:
    return "—" if value is None else f"¥{value:,.0f}"


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


@dataclass
class Digest:
    """One morning's digest: its subject, its lines (text for chat and mail), its alerts."""

    as_of: str
    ok: bool
    subject: str
    sections: list[tuple[str, list[str]]]
    alerts: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def text(self) -> str:
        parts = [self.subject]
        if self.alerts:
            parts.append("\n".join(["【アラート】", *(f"• {a}" for a in self.alerts)]))
        for title, lines in self.sections:
            parts.append("\n".join([f"【{title}】", *(f"• {line}" for line in lines)]))
        return "\n\n".join(parts)

    def html(self) -> str:
        def block(title: str, lines: list[str], colour: str = "#222") -> str:
            items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            return f'<h2 style="font-size:16px;color:{colour}">{html.escape(title)}</h2><ul>{items}</ul>'

        body = [f'<h1 style="font-size:20px">{html.escape(self.subject)}</h1>']
        if self.alerts:
            body.append(block("アラート Alerts", self.alerts, "#b00020"))
        body.extend(block(title, lines) for title, lines in self.sections)
        return (
            '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.subject)}</title></head>"
            '<body style="font-family:sans-serif;max-width:720px;margin:auto">' + "".join(body) + "</body></html>"
        )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _change(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return (value - baseline) / baseline


def compose(database: Path, as_of: str, failed_checks: list[str] | None = None) -> Digest:
    """The digest of a successful run from the published marts in ``database`` as of ``as_of``."""
    threshold = float(dbt_var("digest_alert_change_threshold"))
    weeks = int(dbt_var("digest_baseline_weeks"))
    minimum = int(dbt_var("dashboard_min_customers"))
    day = date.fromisoformat(as_of)
    same_weekdays = [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]
    alerts: list[str] = []
    figures: dict = {}
    sections: list[tuple[str, list[str]]] = []
    with duckdb.connect(str(database), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        kpi_cols = ["revenue", "count_orders", "count_new_customers", "count_repeat_customers"]
        today = _rows(con, f"select {', '.join(kpi_cols)} from marts.kpi_daily where date_day = ?", [day])
        base = _rows(
            con,
            "select " + ", ".join(f"avg({c}) as {c}" for c in kpi_cols) + ", count(*) as n "
            f"from marts.kpi_daily where date_day in ({', '.join('?' * len(same_weekdays))})",
            same_weekdays,
        )[0]
        labels = {
            "revenue": ("売上", yen),
            "count_orders": ("注文数", lambda v: f"{v:,.0f}件"),
            "count_new_customers": ("新規顧客", lambda v: f"{v:,.0f}人"),
            "count_repeat_customers": ("リピート顧客", lambda v: f"{v:,.0f}人"),
        }
        weekday = WEEKDAYS_JA[day.weekday()]
        lines = []
        if not today:
            lines.append(f"{as_of} の行が kpi_daily にありません")
        else:
            for col in kpi_cols:
                value = float(today[0][col] or 0)
                baseline = float(base[col]) if base["n"] else None
                change = _change(value, baseline)
                label, fmt = labels[col]
                figures[col] = {"value": value, "baseline": baseline, "change": change}
                lines.append(
                    f"{label}: {fmt(value)}（前{base['n']}週の{weekday}曜平均 "
                    f"{fmt(baseline) if baseline is not None else '—'}、{pct(change, signed=True)}）"
                )
                if col in ("revenue", "count_orders") and change is not None and abs(change) > threshold:
                    direction = "減少" if change < 0 else "増加"
                    alerts.append(
                        f"{label}が前{base['n']}週の{weekday}曜平均から{pct(abs(change))}{direction} "
                        f"({fmt(value)} / 平均 {fmt(baseline)})。しきい値 {pct(threshold)}"
                    )
        sections.append((f"昨日 {as_of}（{weekday}）の実績", lines))

        lines = []
        f2 = _rows(
            con,
            "select f2_rate_90d, count_eligible_90d from marts.f2_conversion where cohort_month = 'all' "
            "and acquisition_channel = 'all' and first_category = 'all'",
        )
        if f2:
            figures["f2_rate_90d"] = f2[0]["f2_rate_90d"]
            lines.append(f"F2転換率（90日）: {pct(f2[0]['f2_rate_90d'])}（対象 {f2[0]['count_eligible_90d']:,}人）")
        # per channel: the latest cohort's CAC against the 限界CPO of its latest cohort old enough for it
        channels = _rows(
            con,
            """
            with latest as (
                select acquisition_channel, cac, cohort_month,
                       row_number() over (partition by acquisition_channel order by cohort_month desc) as n
                from marts.channel_acquisition where count_new_customers > 0 and spend > 0
            ),
            limit_cpo as (
                select acquisition_channel, limit_cpo, cohort_month, count_eligible_365d,
                       row_number() over (partition by acquisition_channel order by cohort_month desc) as n
                from marts.channel_acquisition where limit_cpo is not null
            )
            select latest.acquisition_channel, latest.cohort_month, latest.cac,
                   limit_cpo.limit_cpo, limit_cpo.cohort_month as limit_cohort, limit_cpo.count_eligible_365d
            from latest left join limit_cpo
              on limit_cpo.acquisition_channel = latest.acquisition_channel and limit_cpo.n = 1
            where latest.n = 1
            order by latest.acquisition_channel
            """,
        )
        figures["cac"] = {}
        for r in channels:
            figures["cac"][r["acquisition_channel"]] = (r["cac"], r["limit_cpo"])
            name = channel_ja(r["acquisition_channel"])
            if r["limit_cpo"] is None:
                lines.append(f"{name}: CAC {yen(r['cac'])}（{r['cohort_month']}）、限界CPO はまだ出ていません")
                continue
            over = r["cac"] > r["limit_cpo"]
            # a 限界CPO resting on fewer customers than the dashboard draws is shown, never alerted on
            enough = r["count_eligible_365d"] >= minimum
            lines.append(
                f"{name}: CAC {yen(r['cac'])}（{r['cohort_month']}） / 限界CPO {yen(r['limit_cpo'])}"
                f"（{r['limit_cohort']}獲得 {r['count_eligible_365d']}人の365日粗利）"
                + ((" ⚠ 超過" if over else "") if enough else f"　※{minimum}人未満のため参考値")
            )
            if over and enough:
                alerts.append(
                    f"{name}のCAC {yen(r['cac'])} が限界CPO {yen(r['limit_cpo'])} を超えています（{r['cohort_month']}）"
                )
        sections.append(("F2とCAC 対 限界CPO", lines))

        sends: dict[str, dict[str, int]] = {}
        if "customer_audiences" in tables:
            for r in _rows(con, f"select audience, channel, count(*) as n from ({ROWS_SQL}) group by all"):
                sends.setdefault(r["audience"], {})[r["channel"]] = r["n"]
        figures["sends"] = sends
        lines = [
            f"{audience_ja(a)}: {sum(by.values()):,}人（"
            + "、".join(f"{channel_ja(c)} {n:,}" for c, n in sorted(by.items()))
            + "）"
            for a, by in sorted(sends.items())
        ] or ["今日の配信対象はありません"]
        sections.append((f"今日の配信 {sum(sum(b.values()) for b in sends.values()):,}人", lines))

    checks = list(failed_checks or [])
    sections.append(("チェック", [f"未通過: {c}" for c in checks] or ["すべて通過しました"]))
    subject = f"[CRM] {as_of} 朝のダイジェスト: 売上 {yen(figures.get('revenue', {}).get('value'))}" + (
        f"、アラート {len(alerts)}件" if alerts else ""
    )
    return Digest(as_of, True, subject, sections, alerts, figures)


def compose_failure(as_of: str, failures: list[str]) -> Digest:
    """The digest of a failed run: what failed; nothing was published."""
    lines = failures or ["原因は詳細ログを見てください"]
    return Digest(
        as_of,
        False,
        f"[CRM] {as_of} の実行が失敗しました: 公開されていません",
        [
            ("失敗した処理", lines),
            ("影響", ["BI とダッシュボードは前回公開のデータのままです。原因を直して再実行してください。"]),
        ],
        [f"{as_of} の実行が失敗しました（{len(failures)}件）"],
    )


def write(digest: Digest, publish_dir: Path) -> Path:
    """Write the digest as HTML (and JSON figures) into ``<publish_dir>/digest/``; return the file."""
    out = Path(publish_dir) / DIGEST_DIR
    out.mkdir(parents=True, exist_ok=True)
    name = f"digest-{digest.as_of}" + ("" if digest.ok else "-failed")
    path = out / f"{name}.html"
    path.write_text(digest.html(), encoding="utf-8")
    (out / "latest.html").write_text(digest.html(), encoding="utf-8")
    (out / f"{name}.json").write_text(
        json.dumps({"subject": digest.subject, "alerts": digest.alerts, "text": digest.text()}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def _secret(key: str, env_name: str) -> str:
    value = os.environ.get(env_name)
    if not value:
        raise LookupError(f"digest.{key}: environment variable {env_name} is not set")
    return value


def send(digest: Digest, delivery: DigestDelivery) -> list[str]:
    """Send the digest where ``delivery`` says; return one line per channel (sent or why not)."""
    outcome = []
    if delivery.smtp_host:
        try:
            message = EmailMessage()
            message["Subject"] = digest.subject
            message["From"] = delivery.mail_from
            message["To"] = ", ".join(delivery.mail_to)
            message.set_content(digest.text())
            message.add_alternative(digest.html(), subtype="html")
            with smtplib.SMTP(delivery.smtp_host, delivery.smtp_port, timeout=30) as smtp:
                if delivery.smtp_starttls:
                    smtp.starttls()
                if delivery.smtp_user:
                    password = _secret("smtp_password_env", delivery.smtp_password_env or "")
                    smtp.login(delivery.smtp_user, password)
                smtp.send_message(message)
            outcome.append(f"e-mail sent to {len(delivery.mail_to)} address(es) via {delivery.smtp_host}")
        except (OSError, smtplib.SMTPException, LookupError) as exc:
            outcome.append(f"e-mail NOT sent ({delivery.smtp_host}): {type(exc).__name__}: {exc}")
    if delivery.webhook_url_env:
        try:
            url = _secret("webhook_url_env", delivery.webhook_url_env)
            request = urllib.request.Request(
                url,
                data=json.dumps({"text": digest.text()}, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            outcome.append(f"webhook posted (${delivery.webhook_url_env})")
        except LookupError as exc:
            outcome.append(f"webhook NOT posted: {exc}")
        except OSError as exc:  # the address is a secret: name the variable, never the URL
            reason = getattr(exc, "code", None) or type(exc).__name__
            outcome.append(f"webhook NOT posted (${delivery.webhook_url_env}): {reason}")
    return outcome


def publish_digest(digest: Digest, publish_dir: Path | None = None) -> tuple[Path, list[str]]:
    """Write the digest into the published folder and send it as configured."""
    shop = settings()
    path = write(digest, publish_dir or shop.publish_dir)
    return path, send(digest, shop.digest)
