"""Delivery of a logged day's lists, each part optional and set in the shop's settings (``delivery:``,
docs/settings.md; docs/decisions/0131-delivery.md):

- ``files``: an upload-ready CSV per channel (``<as_of>-email.csv`` with ``email``,
  ``<as_of>-line.csv`` with ``line_user_id``), the contact key joined from ``raw.customers`` now,
  written outside the published folder, readable by its owner only (0600), removed after
  ``keep_days``;
- ``klaviyo``: e-mail entries added to one Klaviyo list per audience (the official SDK,
  ``klaviyo-api``): a bulk profile import job per batch (at most 10,000 profiles) with the list as
  its relationship and the offers' product names and the send time as profile properties;
- ``line``: LINE entries uploaded to one audience per day and audience (the official
  ``line-bot-sdk``, ManageAudience): the audience is created with the first batch of user IDs and
  the next batches are added to it (at most 10,000 IDs a request).

Only the day's contact-log rows that are not held out are considered. Consent is checked now, from
the customer's newest row (``staging.stg_shop__customers``: load order, a tie fails safe); a
customer who withdrew since the list was made is not sent (``skipped_no_consent``). Each batch that
the API accepts is marked ``sent`` in the log at once, so a rerun (or the run after a crash between
two batches) sends only what has not gone out. A 429 or 5xx answer is retried with backoff
(``Retry-After`` honoured) up to ``delivery.max_attempts``; a 4xx (or retries used up) stops that
channel with the API's message (personal values masked), its rows ``failed``; the other channel
goes on. Secrets are read from the environment variables the settings name and are never logged or
written. No e-mail address or LINE user ID is written anywhere but the files of ``files.dir``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import urllib3

from orchestration.activation.contact_log import LOG, SCHEMA, save_copy
from orchestration.privacy.consent import is_consent, unknown_consent_is_consent
from orchestration.settings import Delivery, Settings

CHANNEL_KEY = {"email": "email", "line": "line_user_id"}
FILE_COLUMNS = [
    "customer_id",
    "audience",
    "send_date",
    "send_hour",
    "offer_1_product_name",
    "offer_2_product_name",
    "reason",
]
RETRY_BASE_SECONDS = 1.0
_PERSONAL = re.compile(r"[^\s\"'<>@,;:]+@[^\s\"'<>@,;:]+|\bU[0-9a-fA-F]{32}\b")

# the rows of a day to deliver: not held out; consent and the contact key as they are now
ROWS_SQL = f"""
select
    l.customer_id, l.audience, l.channel, l.send_date, l.send_hour, l.delivery_status,
    p1.product_name as offer_1_product_name, p2.product_name as offer_2_product_name,
    a.reason,
    c.customer_id is not null as is_known, c.email_opt_in, c.line_opt_in,
    r.email, r.line_user_id
from {SCHEMA}.{LOG} as l
left join staging.stg_shop__customers as c on l.customer_id = c.customer_id
left join staging.base_shop__customers as b on l.customer_id = b.customer_id and b.row_outcome = 'kept'
left join raw.customers as r on r._source_file = b._source_file and r._row_number = b._row_number
left join staging.stg_shop__products as p1 on l.offer_1_product_id = p1.product_id
left join staging.stg_shop__products as p2 on l.offer_2_product_id = p2.product_id
left join seeds.activation_audiences as a on l.audience = a.audience
where l.entry_date = ? and not l.is_holdout and not l.is_reconstructed
order by l.channel, l.audience, l.customer_id
"""


class StopChannel(Exception):
    """An answer that stops a channel: a 4xx, or a 429/5xx after the last attempt."""


def mask(text: str) -> str:
    """``text`` without anything that looks like an e-mail address or a LINE user ID."""
    return _PERSONAL.sub("[masked]", text)


@dataclass
class Delivered:
    """What a delivery run did: per channel, entries sent / skipped / failed, and why a channel stopped."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    removed_files: int = 0

    def add(self, channel: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(channel, {"sent": 0, "skipped": 0, "failed": 0})[what] += n

    def summary(self) -> str:
        if not self.counts and not self.files:
            return "no delivery set"
        return "; ".join(
            f"{channel}: {c['sent']} sent, {c['skipped']} skipped, {c['failed']} failed"
            for channel, c in sorted(self.counts.items())
        )

    def lines(self) -> list[str]:
        out = [f"delivery: {self.summary()}"]
        out += [f"delivery stopped for {channel}: {why}" for channel, why in sorted(self.stopped.items())]
        out += [f"upload file written: {name}" for name in self.files]
        if self.removed_files:
            out.append(f"{self.removed_files} upload files older than their keep_days removed")
        return out


def consented_now(row, unknown_is_consent: bool) -> bool:
    value = row.line_opt_in if row.channel == "line" else row.email_opt_in
    value = None if pd.isna(value) else bool(value)
    return bool(row.is_known) and (is_consent(value) or (value is None and unknown_is_consent))


def _read_rows(database: str | Path, day: date) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(ROWS_SQL, [day]).df()


def _mark(database: str | Path, day: date, channel: str, audience: str, ids: list[str], status: str, detail: str):
    if not ids:
        return
    with duckdb.connect(str(database)) as con:
        con.execute(
            f"update {SCHEMA}.{LOG} set delivery_status = ?, delivery_detail = ? "
            f"where entry_date = ? and channel = ? and audience = ? and not is_reconstructed "
            f"and customer_id in ({', '.join('?' for _ in ids)})",
            [status, mask(detail)[:500], day, channel, audience, *ids],
        )


def send_at(row, tz: ZoneInfo) -> str | None:
    """The send time as an ISO timestamp in the business time zone (the hour, else 09:00)."""
    if row.send_date is None or pd.isna(row.send_date):
        return None
    hour = 9 if pd.isna(row.send_hour) else int(row.send_hour)
    day = pd.Timestamp(row.send_date).date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=tz).isoformat()


def with_retry(call: Callable, attempts: int, channel: str):
    """``call()``; a 429 or 5xx answer is tried again after Retry-After (else 1, 2, 4 ... s) up to
    ``attempts`` times; any other error answer raises StopChannel with the API's message."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:  # the SDKs' ApiException: status, headers, body
            status = getattr(exc, "status", None)
            if status is None:
                if not isinstance(exc, OSError | urllib3.exceptions.HTTPError):
                    raise
                if attempt < attempts:  # no answer (refused, reset, timed out): as a 5xx
                    time.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
                    continue
                raise StopChannel(
                    f"{channel} API did not answer after {attempt} attempts: {type(exc).__name__}"
                ) from None
            message = api_message(exc)
            if (status == 429 or status >= 500) and attempt < attempts:
                headers = getattr(exc, "headers", None) or {}
                wait = headers.get("Retry-After") or headers.get("retry-after")
                try:
                    seconds = float(wait) if wait is not None else RETRY_BASE_SECONDS * 2 ** (attempt - 1)
                except ValueError:
                    seconds = RETRY_BASE_SECONDS * 2 ** (attempt - 1)
                time.sleep(min(seconds, 300))
                continue
            tried = f" after {attempt} attempts" if attempt > 1 else ""
            raise StopChannel(f"{channel} API answered HTTP {status}{tried}: {message}") from None
    raise AssertionError("unreachable")


def api_message(exc: Exception) -> str:
    """The API's own words from an error answer (Klaviyo: errors[].detail; LINE: message, details)."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body or "")
    except (TypeError, ValueError):
        return mask(str(body or getattr(exc, "reason", "") or "no message"))[:300]
    parts: list[str] = []
    if isinstance(data, dict):
        for error in data.get("errors") or []:
            parts.append(str(error.get("detail") or error.get("title") or error.get("code")))
        if data.get("message"):
            parts.append(str(data["message"]))
        for detail in data.get("details") or []:
            parts.append(f"{detail.get('property', '')}: {detail.get('message', '')}".strip(": "))
    return mask("; ".join(p for p in parts if p) or str(data))[:300]


# ---- the senders: one per channel's tool ------------------------------------------------------------


class KlaviyoSender:
    """Profiles into one Klaviyo list per audience, through the official SDK."""

    channel = "email"

    def __init__(self, cfg, attempts: int):
        from klaviyo_api import KlaviyoAPI

        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise StopChannel(f"the environment variable {cfg.api_key_env} (delivery.klaviyo.api_key_env) is not set")
        # no retries inside the SDK: with_retry applies the one policy (5xx too, Retry-After)
        self.api = KlaviyoAPI(key, max_delay=1, max_retries=0, test_host=cfg.base_url or "")
        self.cfg, self.attempts = cfg, attempts
        self.lists: dict[str, str] = {}

    def target(self, audience: str, day: date) -> str:
        """The list of ``audience`` (found by its name, else created); one list per audience."""
        name = f"{self.cfg.list_prefix}{audience}"
        if name not in self.lists:
            found = with_retry(
                lambda: self.api.Lists.get_lists(filter=f'equals(name,"{name}")', options=_DICTS),
                self.attempts,
                "email",
            )
            data = _data(found)
            if data:
                self.lists[name] = data[0]["id"]
            else:
                created = with_retry(
                    lambda: self.api.Lists.create_list(
                        {"data": {"type": "list", "attributes": {"name": name}}}, options=_DICTS
                    ),
                    self.attempts,
                    "email",
                )
                self.lists[name] = _data(created)["id"]
        return self.lists[name]

    def send(self, audience: str, day: date, batch: pd.DataFrame, tz: ZoneInfo) -> str:
        list_id = self.target(audience, day)
        profiles = [
            {
                "type": "profile",
                "attributes": {
                    "email": row.email,
                    "properties": {
                        name: value
                        for name, value in (
                            ("crm_audience", audience),
                            ("crm_offer_1", _text(row.offer_1_product_name)),
                            ("crm_offer_2", _text(row.offer_2_product_name)),
                            ("crm_send_at", send_at(row, tz)),
                        )
                        if value is not None
                    },
                },
            }
            for row in batch.itertuples()
        ]
        body = {
            "data": {
                "type": "profile-bulk-import-job",
                "attributes": {"profiles": {"data": profiles}},
                "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
            }
        }
        job = with_retry(lambda: self.api.Profiles.bulk_import_profiles(body, options=_DICTS), self.attempts, "email")
        return f"klaviyo list {list_id}, import job {_data(job).get('id')}"


class LineSender:
    """User IDs into one LINE upload audience per day and audience, through the official SDK."""

    channel = "line"

    def __init__(self, cfg, attempts: int):
        from linebot.v3.audience import ApiClient, Configuration, ManageAudience

        token = os.environ.get(cfg.channel_access_token_env)
        if not token:
            raise StopChannel(
                f"the environment variable {cfg.channel_access_token_env} "
                "(delivery.line.channel_access_token_env) is not set"
            )
        self.api = ManageAudience(ApiClient(Configuration(access_token=token)))
        if cfg.base_url:
            self.api.line_base_path = cfg.base_url
        self.cfg, self.attempts = cfg, attempts
        self.groups: dict[str, int] = {}

    def name(self, audience: str, day: date) -> str:
        return f"{self.cfg.audience_prefix}{day.isoformat()} {audience}"[:120]

    def existing(self, name: str) -> int | None:
        page = 1
        while True:
            found = with_retry(
                lambda page=page: self.api.get_audience_groups(
                    page=page, description=name, size=40, create_route="MESSAGING_API"
                ),
                self.attempts,
                "line",
            )
            for group in found.audience_groups or []:
                if group.description == name:
                    return group.audience_group_id
            if not found.has_next_page:
                return None
            page += 1

    def send(self, audience: str, day: date, batch: pd.DataFrame, tz: ZoneInfo) -> str:
        from linebot.v3.audience import AddAudienceToAudienceGroupRequest, Audience, CreateAudienceGroupRequest

        name = self.name(audience, day)
        ids = [Audience(id=i) for i in batch.line_user_id]
        if name not in self.groups:
            found = self.existing(name)
            if found is None:
                created = with_retry(
                    lambda: self.api.create_audience_group(
                        CreateAudienceGroupRequest(
                            description=name, is_ifa_audience=False, upload_description=name, audiences=ids
                        )
                    ),
                    self.attempts,
                    "line",
                )
                self.groups[name] = created.audience_group_id
                return f"line audience {created.audience_group_id}"
            self.groups[name] = found
        group = self.groups[name]
        with_retry(
            lambda: self.api.add_audience_to_audience_group(
                AddAudienceToAudienceGroupRequest(audience_group_id=group, upload_description=name, audiences=ids)
            ),
            self.attempts,
            "line",
        )
        return f"line audience {group}"


_DICTS = {"USE_DICTIONARY_FOR_RESPONSE_DATA": True}  # openapi_client.api_arg_options: plain JSON answers


def _data(response) -> dict | list:
    if isinstance(response, dict):
        return response.get("data") or {}
    return getattr(response, "data", None) or {}


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


# ---- files ------------------------------------------------------------------------------------------


def write_files(rows: pd.DataFrame, day: date, cfg, result: Delivered) -> None:
    """One CSV per channel with the day's consented entries and their contact key (mode 0600)."""
    cfg.dir.mkdir(parents=True, exist_ok=True)
    os.chmod(cfg.dir, 0o700)
    encoding = "cp932" if cfg.encoding == "shift_jis" else "utf-8"
    for channel, key in CHANNEL_KEY.items():
        part = rows[rows.channel == channel]
        path = cfg.dir / f"{day.isoformat()}-{channel}.csv"
        if part.empty:
            path.unlink(missing_ok=True)
            continue
        buffer = io.StringIO()
        part[[key, *FILE_COLUMNS]].to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        data = buffer.getvalue().encode(encoding, errors="replace")
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        result.files.append(path.name)
    cutoff = day - timedelta(days=cfg.keep_days)
    for old in cfg.dir.glob("*.csv"):
        match = re.match(r"^(\d{4}-\d{2}-\d{2})-(email|line)\.csv$", old.name)
        if match and date.fromisoformat(match.group(1)) < cutoff:
            old.unlink()
            result.removed_files += 1


# ---- the run ------------------------------------------------------------------------------------------


def deliver(database: str | Path, as_of: str, settings: Settings, senders: dict | None = None) -> Delivered:
    """Deliver the day ``as_of`` of the contact log as ``settings.delivery`` says (module docstring)."""
    cfg: Delivery = settings.delivery
    result = Delivered()
    if not cfg.is_set:
        return result
    day = date.fromisoformat(str(as_of))
    tz = settings.tz()
    rows = _read_rows(database, day)
    unknown = unknown_consent_is_consent()
    rows["consented"] = [consented_now(r, unknown) for r in rows.itertuples()]
    rows["contact_key"] = [r.email if r.channel == "email" else r.line_user_id for r in rows.itertuples()]
    has_key = rows.contact_key.notna() & rows.contact_key.astype("string").str.strip().ne("")
    ready = rows[rows.consented & has_key]
    if cfg.files:
        write_files(ready, day, cfg.files, result)
    tools = {"email": (cfg.klaviyo, KlaviyoSender), "line": (cfg.line, LineSender)}
    for channel, (tool_cfg, sender_class) in tools.items():
        if tool_cfg is None and not cfg.files:
            continue  # no delivery set for this channel: its rows stay not_delivered
        mine = rows[rows.channel == channel]
        withdrawn = mine[~mine.consented & mine.delivery_status.ne("sent")]
        for audience, part in withdrawn.groupby("audience"):
            _mark(
                database,
                day,
                channel,
                audience,
                list(part.customer_id),
                "skipped_no_consent",
                "no consent at send time",
            )
        result.add(channel, "skipped", len(withdrawn))
        if tool_cfg is None:
            continue
        todo = mine[mine.consented & mine.delivery_status.ne("sent")]
        already = int(mine.delivery_status.eq("sent").sum())
        no_key = todo[~has_key.loc[todo.index]]
        for audience, part in no_key.groupby("audience"):
            key = CHANNEL_KEY[channel]
            _mark(database, day, channel, audience, list(part.customer_id), "failed", f"no {key} in raw.customers")
        result.add(channel, "failed", len(no_key))
        todo = todo[has_key.loc[todo.index]]
        result.counts.setdefault(channel, {"sent": 0, "skipped": 0, "failed": 0})
        if already:
            result.counts[channel]["already_sent"] = already
        if todo.empty:
            continue
        try:
            sender = (senders or {}).get(channel) or sender_class(tool_cfg, cfg.max_attempts)
            for audience, part in todo.groupby("audience", sort=True):
                for start in range(0, len(part), tool_cfg.batch_size):
                    batch = part.iloc[start : start + tool_cfg.batch_size]
                    detail = sender.send(audience, day, batch, tz)
                    _mark(database, day, channel, audience, list(batch.customer_id), "sent", detail)
                    result.add(channel, "sent", len(batch))
        except StopChannel as stop:
            result.stopped[channel] = str(stop)
            left = _read_rows(database, day)
            left = left[(left.channel == channel) & left.delivery_status.isin(["not_delivered", "failed"])]
            left = left[left.customer_id.isin(todo.customer_id)]
            for audience, part in left.groupby("audience"):
                _mark(database, day, channel, audience, list(part.customer_id), "failed", str(stop))
            result.add(channel, "failed", len(left))
    save_copy(database)
    return result
