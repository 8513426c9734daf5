"""The morning digest reaches the team: a real SMTP server (aiosmtpd) and a real HTTP receiver,
both started here, get the digest of the shared warehouse's published day; its figures are
kpi_daily's and today's audience entries'; a planted 50% revenue drop raises the alert; a run that
fails (`crm run` on a damaged warehouse) sends the failure."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest
import yaml
from aiosmtpd.controller import Controller

from orchestration import settings as settings_module
from orchestration.publish.digest import compose, compose_failure, send, write, yen
from orchestration.publish.labels import audience_ja
from orchestration.publish.publish import publish
from orchestration.settings import PROJECT_DIR, DigestDelivery
from orchestration.tests.conftest import query


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: every message received, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default_policy)))
        return "250 Message accepted for delivery"


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture(scope="module")
def webhook():
    posts = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000", posts
    server.shutdown()


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("published_digest")
    publish(warehouse.db, out, warehouse.as_of)
    return out


def delivery(smtp_port: int) -> DigestDelivery:
    return DigestDelivery(
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        mail_from="crm@shop.example",
        mail_to=("team@shop.example", "owner@shop.example"),
        webhook_url_env="CRM_TEST_DIGEST_WEBHOOK",
    )


def mail_text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def baseline_days(as_of: str) -> list[date]:
    day = date.fromisoformat(as_of)
    return [day - timedelta(days=7 * k) for k in (1, 2, 3, 4)]


def plant_revenue(source, target, as_of: str, share_of_baseline: float) -> float:
    """A copy of the published file whose as_of revenue is ``share`` x the 4 same weekdays' mean."""
    shutil.copy(source, target)
    with duckdb.connect(str(target)) as con:
        days = ", ".join(f"date '{d}'" for d in baseline_days(as_of))
        base = con.execute(f"select avg(revenue) from marts.kpi_daily where date_day in ({days})").fetchone()[0]
        con.execute(
            "update marts.kpi_daily set revenue = ? where date_day = ?",
            [base * share_of_baseline, date.fromisoformat(as_of)],
        )
    return base


def test_the_digest_reaches_mail_and_webhook_with_the_marts_figures(warehouse, published, smtp, webhook, monkeypatch):
    port, inbox = smtp
    url, posts = webhook
    monkeypatch.setenv("CRM_TEST_DIGEST_WEBHOOK", url)
    db = published / "crm_marts.duckdb"
    as_of = warehouse.as_of
    digest = compose(db, as_of, ["WARN marts/kpi_daily :: row_count"])
    before_mail, before_posts = len(inbox.messages), len(posts)
    outcome = send(digest, delivery(port))
    assert outcome == [
        "e-mail sent to 2 address(es) via 127.0.0.1",
        "webhook posted ($CRM_TEST_DIGEST_WEBHOOK)",
    ]
    assert url not in " ".join(outcome)  # the webhook address is a secret
    (rcpts, message), *_ = inbox.messages[before_mail:]
    assert rcpts == ["team@shop.example", "owner@shop.example"]
    content_type, payload = posts[before_posts]
    assert content_type.startswith("application/json") and set(payload) == {"text"}
    mail, chat = mail_text(message), payload["text"]
    assert message["Subject"] == digest.subject and as_of in digest.subject

    # yesterday's figures and the same weekday's 4-week baseline, from kpi_daily
    row = query(db, f"select * from marts.kpi_daily where date_day = date '{as_of}'").iloc[0]
    days = ", ".join(f"date '{d}'" for d in baseline_days(as_of))
    base = query(
        db, f"select avg(revenue) as r, avg(count_orders) as o from marts.kpi_daily where date_day in ({days})"
    )
    change = (row["revenue"] - base["r"][0]) / base["r"][0]
    revenue_line = f"売上: {yen(row['revenue'])}（前4週の月曜平均 {yen(base['r'][0])}、{change * 100:+.1f}%）"
    assert date.fromisoformat(as_of).weekday() == 0  # the shared shop's as_of is a Monday
    assert f"注文数: {int(row['count_orders'])}件" in mail
    # today's sends: the audience entries the exports carry
    sends = query(
        db,
        "select audience, count(*) as n from marts.customer_audiences "
        "where is_entry and not is_holdout and channel is not null group by 1",
    )
    assert len(sends) > 0
    for text in (mail, chat):
        assert revenue_line in text
        for r in sends.itertuples():
            assert f"{audience_ja(r.audience)}: {r.n:,}人" in text
        assert f"今日の配信 {int(sends['n'].sum()):,}人" in text
        assert "未通過: WARN marts/kpi_daily :: row_count" in text
    # always written into the published folder
    path = write(digest, published)
    assert path.read_text(encoding="utf-8").count(yen(row["revenue"])) >= 1
    assert (published / "digest" / "latest.html").exists()


def test_a_planted_half_revenue_day_raises_the_alert_and_a_normal_day_does_not(warehouse, published, smtp, tmp_path):
    port, inbox = smtp
    as_of = warehouse.as_of
    normal = tmp_path / "normal.duckdb"
    plant_revenue(published / "crm_marts.duckdb", normal, as_of, 1.0)
    assert not [a for a in compose(normal, as_of).alerts if a.startswith("売上")]

    dropped = tmp_path / "dropped.duckdb"
    base = plant_revenue(published / "crm_marts.duckdb", dropped, as_of, 0.5)
    digest = compose(dropped, as_of)
    alert = f"売上が前4週の月曜平均から50.0%減少 ({yen(base * 0.5)} / 平均 {yen(base)})。しきい値 30.0%"
    assert alert in digest.alerts
    before = len(inbox.messages)
    send(digest, DigestDelivery(smtp_host="127.0.0.1", smtp_port=port, mail_from="a@b.c", mail_to=("t@b.c",)))
    assert alert in mail_text(inbox.messages[before][1]) and "アラート" in inbox.messages[before][1]["Subject"]


def test_a_failed_run_sends_the_failure(tmp_path, smtp, webhook):
    """`crm run` on a damaged warehouse stops before any work and says so, by mail and webhook."""
    port, inbox = smtp
    url, posts = webhook
    (tmp_path / "landing" / "orders").mkdir(parents=True)
    (tmp_path / "warehouse.duckdb").write_bytes(b"this is not a database" * 1000)
    config = tmp_path / "shop.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "landing_dir": "landing",
                "warehouse_path": "warehouse.duckdb",
                "publish_dir": "published",
                "logs_dir": "logs",
                "dagster_home": "dagster_home",
                "digest": {
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "mail_from": "crm@shop.example",
                    "mail_to": ["team@shop.example"],
                    "webhook_url_env": "CRM_TEST_DIGEST_WEBHOOK",
                },
            }
        )
    )
    before_mail, before_posts = len(inbox.messages), len(posts)
    env = {k: v for k, v in os.environ.items() if k not in settings_module.ENV_KEYS}
    env["CRM_TEST_DIGEST_WEBHOOK"] = url
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--config", str(config), "--as-of", "2025-06-30"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    deadline = time.time() + 10
    while len(inbox.messages) == before_mail and time.time() < deadline:
        time.sleep(0.2)
    subject = inbox.messages[before_mail][1]["Subject"]
    assert subject == "[CRM] 2025-06-30 の実行が失敗しました: 公開されていません"
    assert "damaged" in mail_text(inbox.messages[before_mail][1])
    assert posts[before_posts][1]["text"].startswith(subject)
    assert (tmp_path / "published" / "digest" / "digest-2025-06-30-failed.html").exists()
    assert url not in proc.stdout + proc.stderr


def test_a_delivery_that_fails_is_reported_without_the_secret(monkeypatch):
    monkeypatch.setenv("CRM_TEST_DIGEST_WEBHOOK", "http://127.0.0.1:9/secret-token")
    closed = free_port()
    outcome = send(
        compose_failure("2025-06-30", ["x"]),
        DigestDelivery(
            smtp_host="127.0.0.1",
            smtp_port=closed,
            mail_from="a@b.c",
            mail_to=("t@b.c",),
            webhook_url_env="CRM_TEST_DIGEST_WEBHOOK",
        ),
    )
    assert outcome[0].startswith("e-mail NOT sent (127.0.0.1): ConnectionRefusedError")
    assert outcome[1].startswith("webhook NOT posted ($CRM_TEST_DIGEST_WEBHOOK)")
    assert "secret-token" not in " ".join(outcome)


def test_the_failure_sensor_sends_a_daemon_runs_failure_and_leaves_in_process_runs_to_crm_run(
    tmp_path, smtp, monkeypatch
):
    import dagster as dg

    from orchestration.pipeline.recovery import TAG_PID
    from orchestration.pipeline.sensors import failure_digest

    port, inbox = smtp
    config = tmp_path / "shop.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "publish_dir": "published",
                "digest": {"smtp_host": "127.0.0.1", "smtp_port": port, "mail_from": "a@b.c", "mail_to": ["t@b.c"]},
            }
        )
    )
    for name in settings_module.ENV_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CRM_CONFIG", str(config))
    settings_module.refresh()

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2025-06-01"))
    def landing_to_raw():
        raise RuntimeError("landing folder /srv/shop/landing is not readable")

    def failed_run(tags: dict) -> dg.RunFailureSensorContext:
        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize(
            [landing_to_raw], partition_key="2025-06-30", instance=instance, raise_on_error=False, tags=tags
        )
        assert not result.success
        return dg.build_run_status_sensor_context(
            sensor_name="failure_digest",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()

    try:
        before = len(inbox.messages)
        failure_digest(failed_run({TAG_PID: "12345"}))  # `crm run` sends its own
        assert len(inbox.messages) == before
        failure_digest(failed_run({}))  # launched by the daemon: the sensor sends it
        deadline = time.time() + 10
        while len(inbox.messages) == before and time.time() < deadline:
            time.sleep(0.2)
        message = inbox.messages[before][1]
        assert message["Subject"] == "[CRM] 2025-06-30 の実行が失敗しました: 公開されていません"
        assert "landing_to_raw: " in mail_text(message) and "is not readable" in mail_text(message)
        assert (tmp_path / "published" / "digest" / "digest-2025-06-30-failed.html").exists()
    finally:
        settings_module.refresh()


def test_cac_above_limit_cpo_alerts_only_where_enough_customers_give_the_limit(published, warehouse, tmp_path):
    planted = tmp_path / "cac.duckdb"
    shutil.copy(published / "crm_marts.duckdb", planted)
    with duckdb.connect(str(planted)) as con:
        limit_cohort = con.execute(
            "select max(cohort_month) from marts.channel_acquisition "
            "where acquisition_channel = 'paid_search' and limit_cpo is not null"
        ).fetchone()[0]
        con.execute(
            "update marts.channel_acquisition set limit_cpo = 1000, count_eligible_365d = 40 "
            "where acquisition_channel = 'paid_search' and cohort_month = ?",
            [limit_cohort],
        )
        cac, month = con.execute(
            "select cac, cohort_month from marts.channel_acquisition where acquisition_channel = 'paid_search' "
            "and count_new_customers > 0 and spend > 0 order by cohort_month desc limit 1"
        ).fetchone()
        small = con.execute(  # the shared shop's real limits rest on a handful of customers each
            "select max(count_eligible_365d) from marts.channel_acquisition where acquisition_channel <> 'paid_search'"
        ).fetchone()[0]
    assert cac > 1000 and small < 30
    alerts = compose(planted, warehouse.as_of).alerts
    assert f"検索広告のCAC {yen(cac)} が限界CPO ¥1,000 を超えています（{month}）" in alerts
    assert [a for a in alerts if "限界CPO" in a] == [a for a in alerts if a.startswith("検索広告")]
