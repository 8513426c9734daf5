"""Delivery of a logged day (orchestration/activation/delivery.py) to local servers that speak
Klaviyo's and LINE's documented shapes (orchestration/tests/fake_apis.py): only consented entries
that are not held out arrive, each once, across a 429, a 500, a crash between two batches and a
rerun; a 400 stops its channel only; consent is read at send time; the upload files are the
owner's only; no e-mail address or LINE user ID reaches the published folder, the marts or the
run's log lines."""

from __future__ import annotations

import stat
from collections import Counter
from dataclasses import replace
from pathlib import Path
from unittest import mock

import duckdb
import pandas as pd
import pytest

from orchestration.activation import delivery
from orchestration.activation.contact_log import log_day
from orchestration.activation.delivery import KlaviyoSender, deliver
from orchestration.contract import TABLE_COLUMNS
from orchestration.ingest.load import ingest
from orchestration.settings import (
    Delivery,
    DeliveryFiles,
    DeliveryKlaviyo,
    DeliveryLine,
    SettingsError,
    read_settings,
    settings,
)
from orchestration.tests.conftest import copy_warehouse, dbt, query
from orchestration.tests.fake_apis import KLAVIYO_KEY, LINE_TOKEN, Fake, Server

BATCH = 4  # the fakes refuse more per request: the batches must respect the limit


class Crash(BaseException):
    """The process stopping (not an error the delivery could handle)."""


@pytest.fixture(scope="module")
def logged_db(warehouse, tmp_path_factory) -> Path:
    """The shared shop's day logged, with one e-mail and one LINE entry whose customer withdrew
    consent after the list was made (a newer customers row, then the staging rebuilt)."""
    root = tmp_path_factory.mktemp("delivery")
    db = root / "warehouse.duckdb"
    copy_warehouse(warehouse.db, db)
    log_day(db, warehouse.as_of)
    with duckdb.connect(str(db)) as con:
        # the day has few entries in a shop this small: planted ones, so each channel takes batches
        # (known customers with consent for the channel, two audiences, a few held out)
        for channel in ("email", "line"):
            other = "line" if channel == "email" else "email"
            con.execute(
                f"""
                insert into activation.contact_log (customer_id, audience, entry_date, channel, send_date,
                    send_hour, is_holdout, is_reconstructed, delivery_status, logged_at)
                select customer_id, case when row_number() over (order by customer_id) % 2 = 0
                           then 'win_back' else 'move_up' end,
                       date '{warehouse.as_of}', '{channel}', date '2025-07-01', 20,
                       row_number() over (order by customer_id) % 7 = 0, false, 'not_delivered', current_timestamp
                from staging.stg_shop__customers
                where {channel}_opt_in and not coalesce({other}_opt_in and '{channel}' = 'email', false)
                    and customer_id not in (select customer_id from activation.contact_log
                                            where entry_date = date '{warehouse.as_of}')
                order by customer_id limit 14
                """
            )
    entries = query(db, "select * from activation.contact_log where not is_reconstructed and not is_holdout")
    withdrawn = {channel: min(entries[entries.channel == channel].customer_id) for channel in ("email", "line")}
    # a newer customers file, loaded as every landing file is (the raw rows are the raw zone's files)
    newer = root / "withdrawal" / "customers"
    newer.mkdir(parents=True)
    rows = [
        query(
            db,
            f"select * replace ('false' as {channel}_opt_in, '2025-06-30T12:00:00' as updated_at) "
            f"from raw.customers where trim(customer_id) = '{who}' order by _loaded_at desc limit 1",
        )[TABLE_COLUMNS["customers"]]
        for channel, who in withdrawn.items()
    ]
    pd.concat(rows).to_csv(newer / "zz-withdrawn.csv", index=False)
    ingest(newer.parent, db, tables=["customers"], verbose=False, map_exports=False)
    dbt(db, ["run", "--select", "base_shop__customers"], {"as_of_date": warehouse.as_of})
    (root / "withdrawn.txt").write_text(",".join(f"{c}={w}" for c, w in withdrawn.items()))
    return db


def _copy(src: Path, tmp_path: Path) -> Path:
    return copy_warehouse(src, tmp_path / "warehouse.duckdb")


def _withdrawn(db: Path) -> dict[str, str]:
    text = (db.parent / "withdrawn.txt").read_text()
    return dict(part.split("=") for part in text.split(","))


def _expected(db: Path, as_of: str) -> dict[str, set[str]]:
    """The contact keys that must arrive, computed here from the log and raw rows: the day's
    entries not held out, less the customers who withdrew."""
    entries = query(
        db,
        f"select customer_id, channel from activation.contact_log where entry_date = date '{as_of}' "
        "and not is_holdout and not is_reconstructed",
    )
    keys = query(
        db,
        "select trim(customer_id) as customer_id, max(email) as email, max(line_user_id) as line_user_id from raw.customers group by 1",
    )
    withdrawn = set(_withdrawn(db).values())
    merged = entries[~entries.customer_id.isin(withdrawn)].merge(keys, on="customer_id")
    return {
        "email": set(merged[merged.channel == "email"].email.dropna()),
        "line": set(merged[merged.channel == "line"].line_user_id.dropna()),
    }


def _settings(k: Server | None, line: Server | None, files: Path | None = None, attempts: int = 4):
    return replace(
        settings(),
        delivery=Delivery(
            files=DeliveryFiles(files, "shift_jis", 3) if files else None,
            klaviyo=DeliveryKlaviyo("TEST_KLAVIYO_KEY", "CRM ", BATCH, k.url) if k else None,
            line=DeliveryLine("TEST_LINE_TOKEN", "CRM ", BATCH, line.url) if line else None,
            max_attempts=attempts,
        ),
    )


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("TEST_KLAVIYO_KEY", KLAVIYO_KEY)
    monkeypatch.setenv("TEST_LINE_TOKEN", LINE_TOKEN)
    monkeypatch.setattr(delivery, "RETRY_BASE_SECONDS", 0.05)


def _arrived_emails(fake: Fake) -> Counter:
    return Counter(p["attributes"]["email"] for job in fake.imports for p in job["profiles"])


def _arrived_line_ids(fake: Fake) -> Counter:
    return Counter(i for g in fake.groups.values() for i in g["ids"])


def test_each_consented_entry_arrives_once_across_faults_a_crash_and_a_rerun(logged_db, warehouse, tmp_path):
    db = _copy(logged_db, tmp_path)
    (tmp_path / "withdrawn.txt").write_text((logged_db.parent / "withdrawn.txt").read_text())
    expected = _expected(db, warehouse.as_of)
    assert len(expected["email"]) > BATCH and len(expected["line"]) > BATCH  # more than one batch each
    with Server("klaviyo", Fake(batch_limit=BATCH)) as k, Server("line", Fake(batch_limit=BATCH)) as line:
        k.fake.plant("POST", "/api/profile-bulk-import-jobs", (429, {"Retry-After": "1"}, {"errors": []}))
        line.fake.plant("PUT", "/v2/bot/audienceGroup/upload", (500, {}, {"message": "Internal server error"}))
        cfg = _settings(k, line)
        # the process dies after the first e-mail batch went out
        real_send, calls = KlaviyoSender.send, []

        def crash_on_second(self, *args):
            calls.append(1)
            if len(calls) == 2:
                raise Crash("the machine stopped")
            return real_send(self, *args)

        with mock.patch.object(KlaviyoSender, "send", crash_on_second), pytest.raises(Crash):
            deliver(db, warehouse.as_of, cfg)
        before_crash = sum(_arrived_emails(k.fake).values())
        assert 0 < before_crash < len(expected["email"])
        first = deliver(db, warehouse.as_of, cfg)
        again = deliver(db, warehouse.as_of, cfg)  # a rerun of the day

        emails, line_ids = _arrived_emails(k.fake), _arrived_line_ids(line.fake)
        assert set(emails) == expected["email"] and max(emails.values()) == 1
        assert set(line_ids) == expected["line"] and max(line_ids.values()) == 1
        assert k.fake.bad_auth == 0 and line.fake.bad_auth == 0
        # one list per audience of the e-mail entries, one LINE audience per day and audience
        log = query(db, "select * from activation.contact_log where entry_date = date '2025-06-30'")
        sent = log[log.delivery_status == "sent"]
        assert set(k.fake.lists) == {f"CRM {a}" for a in sent[sent.channel == "email"].audience}
        assert sorted(g["description"] for g in line.fake.groups.values()) == sorted(
            f"CRM 2025-06-30 {a}" for a in set(sent[sent.channel == "line"].audience)
        )
        # every request kept to the documented limit (the fakes answer 400 past it)
        assert all(len(j["profiles"]) <= BATCH for j in k.fake.imports)
        # Retry-After was waited for
        posts = [t for r, t in zip(k.fake.requests, k.fake.times, strict=True) if r["path"].endswith("import-jobs")]
        assert posts[1] - posts[0] >= 1.0
        # the log says why the withdrawn customers were not sent; held-out entries never were
        withdrawn = _withdrawn(db)
        for channel, who in withdrawn.items():
            status = log[(log.customer_id == who) & (log.channel == channel)].delivery_status
            assert list(status) == ["skipped_no_consent"], (channel, who)
        assert (log[log.is_holdout].delivery_status == "not_delivered").all()
        assert first.counts["email"]["sent"] == len(expected["email"]) - before_crash
        assert first.counts["line"]["sent"] == len(expected["line"])
        assert first.counts["email"]["skipped"] == 1 and first.counts["line"]["skipped"] == 1
        assert again.counts["email"]["sent"] == 0 and again.counts["line"]["sent"] == 0


def test_a_400_stops_its_channel_with_the_apis_message_and_the_other_goes_on(logged_db, warehouse, tmp_path):
    db = _copy(logged_db, tmp_path)
    (tmp_path / "withdrawn.txt").write_text((logged_db.parent / "withdrawn.txt").read_text())
    expected = _expected(db, warehouse.as_of)
    refusal = {
        "errors": [
            {
                "id": "x",
                "status": 400,
                "code": "invalid",
                "title": "Invalid input.",
                "detail": "The list is closed to imports",
                "source": {"pointer": "/data/relationships/lists"},
            }
        ]
    }
    with Server("klaviyo", Fake(batch_limit=BATCH)) as k, Server("line", Fake(batch_limit=BATCH)) as line:
        k.fake.plant("POST", "/api/profile-bulk-import-jobs", (400, {}, refusal))
        line.fake.plant("POST", "/v2/bot/audienceGroup/upload", *[(503, {}, {"message": "busy"})] * 2)
        result = deliver(db, warehouse.as_of, _settings(k, line))
        assert "HTTP 400" in result.stopped["email"] and "The list is closed to imports" in result.stopped["email"]
        assert "line" not in result.stopped
        assert len(k.fake.imports) == 0 and set(_arrived_line_ids(line.fake)) == expected["line"]
        assert result.counts["email"] == {"sent": 0, "skipped": 1, "failed": len(expected["email"])}
        log = query(db, "select * from activation.contact_log where not is_reconstructed and channel = 'email'")
        failed = log[log.delivery_status == "failed"]
        assert len(failed) == len(expected["email"])
        detail = query(
            db, "select distinct delivery_detail from activation.contact_log where delivery_status = 'failed'"
        )
        assert list(detail.delivery_detail) == [result.stopped["email"]]
        # 5xx answers past the last attempt stop the channel too, with what the API said
        line2 = Fake(batch_limit=BATCH)
        with Server("line", line2) as down:
            (tmp_path / "second").mkdir()
            db2 = _copy(logged_db, tmp_path / "second")
            line2.plant("POST", "/v2/bot/audienceGroup/upload", *[(500, {}, {"message": "Internal error"})] * 2)
            out = deliver(db2, warehouse.as_of, _settings(None, down, attempts=2))
            assert "HTTP 500 after 2 attempts: Internal error" in out.stopped["line"]
        # a tool that does not answer at all stops its channel too, and says so
        (tmp_path / "third").mkdir()
        db3 = _copy(logged_db, tmp_path / "third")
        gone = Server("line")
        gone.httpd.server_close()  # its port answers nothing
        out = deliver(db3, warehouse.as_of, _settings(None, gone, attempts=2))
        assert out.stopped["line"].startswith("line API did not answer after 2 attempts")


def test_upload_files_are_the_owners_only_outside_the_publish_folder_and_expire(logged_db, warehouse, tmp_path):
    db = _copy(logged_db, tmp_path)
    (tmp_path / "withdrawn.txt").write_text((logged_db.parent / "withdrawn.txt").read_text())
    expected = _expected(db, warehouse.as_of)
    folder = tmp_path / "upload"
    folder.mkdir()
    stale = folder / "2025-06-20-email.csv"
    stale.write_text("old")
    kept = folder / "2025-06-29-line.csv"
    kept.write_text("recent")
    result = deliver(db, warehouse.as_of, _settings(None, None, files=folder))
    assert not stale.exists() and kept.exists() and result.removed_files == 1
    for channel, key in (("email", "email"), ("line", "line_user_id")):
        path = folder / f"2025-06-30-{channel}.csv"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        frame = pd.read_csv(path, encoding="cp932")
        assert list(frame.columns)[:2] == [key, "customer_id"]
        assert set(frame[key]) == expected[channel]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # files only: no API was set, so nothing is marked sent; the withdrawn are marked skipped
    log = query(db, "select delivery_status, count(*) as n from activation.contact_log group by 1")
    assert set(log.delivery_status) == {"not_delivered", "skipped_no_consent"}
    # a folder inside the published one is refused by the settings
    shop = tmp_path / "shop.yml"
    shop.write_text(f"publish_dir: {tmp_path / 'pub'}\ndelivery:\n  files:\n    dir: {tmp_path / 'pub' / 'lists'}\n")
    with pytest.raises(SettingsError, match=r"^delivery\.files\.dir: .* is inside publish_dir"):
        read_settings(shop)
    shop.write_text("delivery:\n  klaviyo:\n    api_key_env: pk_live_secret-value\n")
    with pytest.raises(SettingsError, match=r"^delivery\.klaviyo\.api_key_env: must name an environment variable"):
        read_settings(shop)


@pytest.mark.slow  # builds the log's marts and publishes
def test_no_contact_key_reaches_the_published_folder_the_marts_or_the_log_lines(logged_db, warehouse, tmp_path):
    """A delivery run with files and both APIs, then the exports and marts published: the e-mail
    addresses and LINE user IDs are found only in the upload files."""
    from orchestration.activation.contact_log import rebuild_marts
    from orchestration.activation.exports import write_exports
    from orchestration.publish.publish import publish

    db = _copy(logged_db, tmp_path)
    folder = tmp_path / "upload"
    with Server("klaviyo") as k, Server("line") as line:
        k.fake.plant("POST", "/api/profile-bulk-import-jobs", (400, {}, {"errors": [{"detail": "bad a@b.example"}]}))
        result = deliver(db, warehouse.as_of, _settings(k, line, files=folder))
    staged = tmp_path / "staged"
    write_exports(db, staged, warehouse.as_of)
    rebuild_marts(db, warehouse.as_of)
    published = tmp_path / "published"
    publish(db, published, warehouse.as_of, "test-run", exports_dir=staged)
    log_text = "\n".join(result.lines())
    (tmp_path / "run.log").write_text(log_text)
    keys = query(db, "select email, line_user_id from raw.customers")
    needles = {v for v in pd.concat([keys.email, keys.line_user_id]).dropna() if len(v) > 5}
    needles.add("a@b.example")
    assert len(needles) > 100
    found = []
    for path in [*published.rglob("*"), tmp_path / "run.log"]:
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {n}" for n in needles if n.encode() in data]
    assert found == []
    marts = query(db, "select * from activation.contact_log")  # the log's detail column too
    text = marts.astype(str).to_csv()
    assert not [n for n in needles if n in text]
    # while the upload files do hold them (the test finds what it looks for)
    assert any(n.encode() in (folder / "2025-06-30-email.csv").read_bytes() for n in needles)
