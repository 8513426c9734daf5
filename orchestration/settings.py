"""One settings object for a shop: read once, validated before any work, used by everything.

A shop writes one YAML file (docs/settings.md lists every key). It is found by ``crm run --config``,
else the environment variable ``CRM_CONFIG``, else ``data/shop.yml`` when it exists; without one the
project's defaults apply. Relative paths in the file are relative to the file's folder. Environment
variables (``CRM_DUCKDB_PATH``, ``CRM_LANDING_DIR``, ...) override single keys for a deployment.

The dbt vars a shop may tune are written under ``vars:``; their defaults and documentation stay in
the project's ``dbt_project.yml``. Every value is typed: an unknown key, a wrong type or an
impossible value stops with one line naming the key and what is allowed (``SettingsError``). The
dbt models get the shop's vars through ``--vars`` (``dbt_vars()``); Dagster's partitions, the CLI,
the dashboard and the exports read the same object, so the business time zone is one value.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from orchestration.ingest.mapping import MappingError, load_mapping
from orchestration.project import PROJECT_DIR, project_vars

DEFAULT_CONFIG = PROJECT_DIR / "data" / "shop.yml"
CONFIG_ENV = "CRM_CONFIG"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the key and what is allowed."""


# Vars that are the project's own structure, not a shop's tuning: never set from a settings file.
FIXED_VARS = frozenset(
    {
        "raw_contract",
        "model_fits_tables",
        "contact_log_tables",
        "activation_number_features",
        "activation_text_features",
        "as_of_date",
        "business_timezone",
    }
)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rule(name: str) -> tuple[str, Any]:
    """What a var may hold, from its name and its default: (description, check)."""
    default = project_vars()[name]
    if isinstance(default, bool):
        return "true or false (unquoted)", lambda v: isinstance(v, bool)
    if name.endswith(("_share", "_quantile", "_rate", "_below", "_threshold")):
        nullable = default is None
        return (
            "a number from 0 to 1" + (" or null" if nullable else ""),
            lambda v: (v is None and nullable) or (_is_number(v) and 0 <= v <= 1),
        )
    if isinstance(default, list):
        return (
            "a list of whole numbers > 0 in increasing order",
            lambda v: (
                isinstance(v, list)
                and v
                and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)
                and all(a < b for a, b in itertools.pairwise(v))
            ),
        )
    if name.endswith(("_date",)):
        return (
            "a date YYYY-MM-DD",
            lambda v: isinstance(v, date) or (isinstance(v, str) and bool(_DATE.match(v))),
        )
    if isinstance(default, int):
        return (
            "a whole number > 0",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        )
    if isinstance(default, float):
        return "a number >= 0", lambda v: _is_number(v) and v >= 0
    if isinstance(default, str):
        return "text", lambda v: isinstance(v, str) and v.strip() != ""
    return "a value like the default", lambda v: True


def check_var(name: str, value: Any) -> Any:
    """The var's value if it is allowed; else SettingsError naming ``vars.<name>``."""
    if name in FIXED_VARS or name not in project_vars():
        tunable = sorted(set(project_vars()) - FIXED_VARS)
        raise SettingsError(f"vars.{name}: unknown var; a shop may set: {', '.join(tunable)}")
    allowed, check = _rule(name)
    if not check(value):
        raise SettingsError(f"vars.{name}: must be {allowed}, not {value!r}")
    if isinstance(value, date):
        value = value.isoformat()
    return value


# key: (environment override, description, default under the project)
PATH_KEYS = {
    "landing_dir": ("CRM_LANDING_DIR", "data/landing"),
    "warehouse_path": ("CRM_DUCKDB_PATH", "data/warehouse.duckdb"),
    "publish_dir": ("CRM_PUBLISH_DIR", "data/published"),
    "gx_dir": ("CRM_GX_DIR", "data/gx"),
    "logs_dir": ("CRM_LOGS_DIR", "data/logs"),
    "temp_dir": ("CRM_DUCKDB_TEMP_DIR", "tmp beside the warehouse"),
    "dagster_home": ("DAGSTER_HOME", "data/dagster_home"),
}
OTHER_KEYS = {
    "business_timezone": "CRM_BUSINESS_TIMEZONE",
    "history_start": "CRM_PARTITIONS_START",
    "keep_days": "CRM_KEEP_DAYS",
    "dashboard_language": "CRM_DASHBOARD_LANGUAGE",
    "target": "CRM_WAREHOUSE_TARGET",
}
ALLOWED_KEYS = (*PATH_KEYS, *OTHER_KEYS, "vars", "sources", "shopify_api", "digest", "delivery", "spark")
TARGETS = ("duckdb", "spark")
LANGUAGES = ("ja", "en")


# ---- delivery of the day's lists (orchestration/activation/delivery.py), each part optional ----
FILE_ENCODINGS = ("utf-8", "shift_jis")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DigestDelivery:
    """Where the morning digest goes besides the published folder (docs/settings.md, `digest`).
    Secrets are never in the file: the password and the webhook address are read from the
    environment variables named here, at send time."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    mail_from: str | None = None
    mail_to: tuple[str, ...] = ()
    webhook_url_env: str | None = None


def _digest(raw: Any) -> DigestDelivery:
    if raw is None:
        return DigestDelivery()
    if not isinstance(raw, dict):
        raise SettingsError("digest: must be a mapping (smtp_host, mail_to, webhook_url_env, ...)")
    allowed = DigestDelivery.__dataclass_fields__
    values = dict(raw)
    if isinstance(values.get("mail_to"), str):
        values["mail_to"] = [values["mail_to"]]
    for key, value in values.items():
        if key not in allowed:
            raise SettingsError(f"digest.{key}: unknown key; allowed: {', '.join(allowed)}")
        if key == "smtp_port":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
                raise SettingsError(f"digest.smtp_port: must be a port number 1..65535, not {value!r}")
        elif key == "smtp_starttls":
            if not isinstance(value, bool):
                raise SettingsError(f"digest.smtp_starttls: must be true or false (unquoted), not {value!r}")
        elif key == "mail_to":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and "@" in v for v in value):
                raise SettingsError(f"digest.mail_to: must be an e-mail address or a list of them, not {value!r}")
        elif key.endswith("_env"):
            if not isinstance(value, str) or not _ENV_NAME.match(value):
                raise SettingsError(
                    f"digest.{key}: must be the NAME of an environment variable that holds the secret "
                    f"(e.g. CRM_SMTP_PASSWORD), not {value!r}"
                )
        elif not isinstance(value, str) or not value.strip():
            raise SettingsError(f"digest.{key}: must be text, not {value!r}")
    if "mail_to" in values:
        values["mail_to"] = tuple(values["mail_to"])
    delivery = DigestDelivery(**values)
    if delivery.smtp_host and not (delivery.mail_from and delivery.mail_to):
        raise SettingsError("digest.smtp_host: e-mail needs digest.mail_from and digest.mail_to as well")
    if delivery.smtp_password_env and not delivery.smtp_user:
        raise SettingsError("digest.smtp_password_env: a password needs digest.smtp_user as well")
    return delivery


def _language(value: Any, key: str) -> str:
    if value not in LANGUAGES:
        raise SettingsError(f"{key}: must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return value


@dataclass(frozen=True)
class DeliveryFiles:
    """Upload-ready CSV per channel with the contact key, outside the published folder."""

    dir: Path
    encoding: str = "utf-8"
    keep_days: int = 7


@dataclass(frozen=True)
class DeliveryKlaviyo:
    """E-mail entries: profiles added to one Klaviyo list per audience."""

    api_key_env: str
    list_prefix: str = "CRM "
    batch_size: int = 10000  # profiles per bulk import job (the API's limit)
    base_url: str | None = None  # None: the SDK's host


@dataclass(frozen=True)
class DeliveryLine:
    """LINE entries: one upload audience per day and audience (Messaging API)."""

    channel_access_token_env: str
    audience_prefix: str = "CRM "
    batch_size: int = 10000  # user IDs per request (the API's limit)
    base_url: str | None = None  # None: the SDK's host


@dataclass(frozen=True)
class Delivery:
    files: DeliveryFiles | None = None
    klaviyo: DeliveryKlaviyo | None = None
    line: DeliveryLine | None = None
    max_attempts: int = 5  # per request, for a 429 or 5xx answer

    @property
    def is_set(self) -> bool:
        return any((self.files, self.klaviyo, self.line))


# ---- the Spark target (orchestration/pipeline/engine.py) ------------------------------------------
_MEMORY = re.compile(r"^[1-9][0-9]*[kmgt]$")
_MASTER = re.compile(r"^(local(\[([1-9][0-9]*|\*)\])?|(spark|yarn|k8s|mesos)(://\S+)?)$")
_ENDPOINT = re.compile(r"^(thrift|sc)://[^\s:/]+:[0-9]{1,5}/?$")
SPARK_KEYS = ("master", "executor_memory", "driver_memory", "endpoint", "warehouse_dir", "shuffle_partitions")


@dataclass(frozen=True)
class SparkSettings:
    """Where the Spark target runs (docs/settings.md, `spark`)."""

    warehouse_dir: Path  # the local metastore and warehouse folder (and what the job keeps beside them)
    master: str = "local[2]"
    executor_memory: str = "2g"
    driver_memory: str = "4g"
    endpoint: str | None = None  # thrift://host:port (dbt) or sc://host:port (Spark Connect, the Python steps)
    shuffle_partitions: int = 4

    @property
    def thrift(self) -> tuple[str, int] | None:
        """(host, port) of a Thrift server that dbt builds on, or None (dbt runs Spark in its own process)."""
        if self.endpoint and self.endpoint.startswith("thrift://"):
            host, port = self.endpoint.removeprefix("thrift://").rstrip("/").split(":")
            return host, int(port)
        return None

    @property
    def connect(self) -> str | None:
        """The Spark Connect address the Python steps use, or None (a session of ``master``)."""
        return self.endpoint if self.endpoint and self.endpoint.startswith("sc://") else None


def _spark(raw: Any, base: Path) -> SparkSettings:
    raw = _mapping(raw, "spark", SPARK_KEYS)
    folder = _env_text("CRM_SPARK_DIR") or raw.get("warehouse_dir")
    if folder is None:
        path = PROJECT_DIR / "data" / "spark"
    elif not isinstance(folder, str) or not folder.strip():
        raise SettingsError(f"spark.warehouse_dir: must be a path, not {folder!r}")
    else:
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else (base if raw.get("warehouse_dir") == folder else Path.cwd()) / path
    master = _env_text("CRM_SPARK_MASTER") or raw.get("master", "local[2]")
    if not isinstance(master, str) or not _MASTER.match(master):
        raise SettingsError(
            f"spark.master: must be a Spark master URL (local[2], local[*], spark://host:7077, yarn, "
            f"k8s://https://host:443), not {master!r}"
        )
    memory = {}
    for key, env, default in (
        ("executor_memory", "CRM_SPARK_EXECUTOR_MEMORY", "2g"),
        ("driver_memory", "CRM_SPARK_DRIVER_MEMORY", "4g"),
    ):
        value = _env_text(env) or raw.get(key, default)
        if not isinstance(value, str) or not _MEMORY.match(value):
            raise SettingsError(f"spark.{key}: must be an amount such as 512m or 4g, not {value!r}")
        memory[key] = value
    endpoint = _env_text("CRM_SPARK_ENDPOINT") or raw.get("endpoint")
    if endpoint is not None and (not isinstance(endpoint, str) or not _ENDPOINT.match(endpoint)):
        raise SettingsError(
            f"spark.endpoint: must be thrift://host:port (a Thrift server) or sc://host:port (Spark Connect), "
            f"not {endpoint!r}"
        )
    partitions = _count(raw.get("shuffle_partitions", 4), "spark.shuffle_partitions", 100000)
    return SparkSettings(path, master, memory["executor_memory"], memory["driver_memory"], endpoint, partitions)


def _mapping(value: Any, key: str, allowed: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError(f"{key}: must be a mapping with keys {', '.join(allowed)}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise SettingsError(f"{key}.{unknown[0]}: unknown setting; allowed: {', '.join(allowed)}")
    return value


def _count(value: Any, key: str, most: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= most:
        raise SettingsError(f"{key}: must be a whole number from 1 to {most}, not {value!r}")
    return value


def _env_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise SettingsError(
            f"{key}: must name an environment variable that holds the secret (e.g. KLAVIYO_API_KEY), "
            "never the secret itself"
        )
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{key}: must be text, not {value!r}")
    return value


def _url(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value):
        raise SettingsError(f"{key}: must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


def _delivery(raw: Any, base: Path, publish: Path) -> Delivery:
    raw = _mapping(raw, "delivery", ("files", "klaviyo", "line", "max_attempts"))
    files = klaviyo = line = None
    if raw.get("files") is not None:
        f = _mapping(raw["files"], "delivery.files", ("dir", "encoding", "keep_days"))
        if not isinstance(f.get("dir"), str) or not f["dir"].strip():
            raise SettingsError("delivery.files.dir: must be a path (a folder outside publish_dir)")
        folder = Path(f["dir"]).expanduser()
        folder = (folder if folder.is_absolute() else base / folder).resolve()
        if folder == publish.resolve() or publish.resolve() in folder.parents:
            raise SettingsError(
                f"delivery.files.dir: {folder} is inside publish_dir ({publish}); files with e-mail "
                "addresses and LINE user IDs must be kept outside what BI tools read"
            )
        encoding = f.get("encoding", "utf-8")
        if encoding not in FILE_ENCODINGS:
            raise SettingsError(
                f"delivery.files.encoding: must be one of {', '.join(FILE_ENCODINGS)}, not {encoding!r}"
            )
        files = DeliveryFiles(folder, encoding, _whole_days(f.get("keep_days", 7), "delivery.files.keep_days"))
    if raw.get("klaviyo") is not None:
        k = _mapping(raw["klaviyo"], "delivery.klaviyo", ("api_key_env", "list_prefix", "batch_size", "base_url"))
        klaviyo = DeliveryKlaviyo(
            _env_name(k.get("api_key_env"), "delivery.klaviyo.api_key_env"),
            _text(k.get("list_prefix", "CRM "), "delivery.klaviyo.list_prefix"),
            _count(k.get("batch_size", 10000), "delivery.klaviyo.batch_size", 10000),
            _url(k.get("base_url"), "delivery.klaviyo.base_url"),
        )
    if raw.get("line") is not None:
        n = _mapping(
            raw["line"], "delivery.line", ("channel_access_token_env", "audience_prefix", "batch_size", "base_url")
        )
        line = DeliveryLine(
            _env_name(n.get("channel_access_token_env"), "delivery.line.channel_access_token_env"),
            _text(n.get("audience_prefix", "CRM "), "delivery.line.audience_prefix"),
            _count(n.get("batch_size", 10000), "delivery.line.batch_size", 10000),
            _url(n.get("base_url"), "delivery.line.base_url"),
        )
    attempts = _count(raw.get("max_attempts", 5), "delivery.max_attempts", 20)
    return Delivery(files, klaviyo, line, attempts)


@dataclass(frozen=True)
class Settings:
    """A shop's settings (docs/settings.md)."""

    landing_dir: Path
    warehouse_path: Path
    publish_dir: Path
    gx_dir: Path
    logs_dir: Path
    temp_dir: Path
    dagster_home: Path
    business_timezone: str = "Asia/Tokyo"
    history_start: date | None = None  # None: found from the data (ingest.load.first_partition_day)
    keep_days: int = 30
    dashboard_language: str = "ja"  # the dashboard's first language (ja: Japanese, English beside)
    digest: DigestDelivery = field(default_factory=DigestDelivery)
    vars: dict[str, Any] = field(default_factory=dict)  # only the vars the shop set
    # the shop's own exports mapped to the contract (orchestration/ingest/mapping.py):
    # name -> {"folder": Path, "spec": the checked mapping}
    sources: dict[str, dict] = field(default_factory=dict)
    # the Shopify Admin API pulled into the landing folder (orchestration/ingest/shopify_api.py):
    # {"url", "token_env", "start"}, or None
    shopify_api: dict | None = None
    delivery: Delivery = field(default_factory=lambda: Delivery())
    target: str = "duckdb"  # where the warehouse is built: duckdb or spark
    spark: SparkSettings = field(default_factory=lambda: SparkSettings(PROJECT_DIR / "data" / "spark"))
    source: Path | None = None  # the settings file, if any
    temp_dir_set: bool = False  # temp_dir was configured (else: beside the warehouse)

    def temp_dir_for(self, database: str | Path) -> Path:
        """Where DuckDB spills for ``database``: the configured temp_dir, else tmp/ beside it."""
        return self.temp_dir if self.temp_dir_set else Path(database).parent / "tmp"

    def var(self, name: str) -> Any:
        """A dbt var's value for this shop: its setting, else the project's default."""
        if name == "business_timezone":
            return self.business_timezone
        return self.vars.get(name, project_vars()[name])

    def dbt_vars(self) -> dict[str, Any]:
        """What every dbt command of this shop gets as ``--vars``."""
        return {"business_timezone": self.business_timezone, **self.vars}

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.business_timezone)


def _env_text(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _timezone(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{key}: must be an IANA time zone name such as Asia/Tokyo, not {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{key}: unknown time zone {value!r}; use an IANA name such as Asia/Tokyo") from None
    return value


def _day(value: Any, key: str) -> date | None:
    if value is None or value == "auto":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise SettingsError(f"{key}: must be a date YYYY-MM-DD or auto (found from the data), not {value!r}")


def _whole_days(value: Any, key: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SettingsError(f"{key}: must be a whole number of days > 0, not {value!r}")
    return value


def config_path(explicit: str | Path | None = None) -> Path | None:
    """The settings file in force: ``explicit``, else $CRM_CONFIG, else data/shop.yml if present."""
    if explicit:
        return Path(explicit).resolve()
    if _env_text(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).resolve()
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def read_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the settings (file, then environment overrides). Raises SettingsError."""
    source = config_path(path)
    raw: dict[str, Any] = {}
    base = PROJECT_DIR
    if source is not None:
        if not source.exists():
            raise SettingsError(f"settings file {source} does not exist (from --config or ${CONFIG_ENV})")
        try:
            raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {source} is not valid YAML: {' '.join(str(exc).split())}") from None
        if not isinstance(raw, dict):
            raise SettingsError(f"settings file {source}: must be a mapping of keys to values")
        base = source.parent
    unknown = [k for k in raw if k not in ALLOWED_KEYS]
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting; allowed: {', '.join(ALLOWED_KEYS)}")

    paths: dict[str, Path] = {}
    for key, (env, default) in PATH_KEYS.items():
        value = _env_text(env) or raw.get(key)
        if value is None:
            # DuckDB spills beside the warehouse unless told otherwise (same disk, same owner)
            paths[key] = paths["warehouse_path"].parent / "tmp" if key == "temp_dir" else PROJECT_DIR / default
            continue
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f"{key}: must be a path, not {value!r}")
        path = Path(value).expanduser()
        paths[key] = path if path.is_absolute() else (base if raw.get(key) == value else Path.cwd()) / path

    def pick(key: str, default: Any) -> tuple[Any, str]:
        env = OTHER_KEYS[key]
        if _env_text(env) is not None:
            return os.environ[env], f"{env} (setting {key})"
        return raw.get(key, default), key

    tz = _timezone(*pick("business_timezone", "Asia/Tokyo"))
    start = _day(*pick("history_start", None))
    keep = _whole_days(*pick("keep_days", 30))
    language = _language(*pick("dashboard_language", "ja"))
    digest = _digest(raw.get("digest"))
    target, target_key = pick("target", "duckdb")
    if target not in TARGETS:
        raise SettingsError(f"{target_key}: must be one of {', '.join(TARGETS)}, not {target!r}")
    spark = _spark(raw.get("spark"), base)

    shop_vars = raw.get("vars") or {}
    if not isinstance(shop_vars, dict):
        raise SettingsError("vars: must be a mapping of dbt var names to values")
    checked = {name: check_var(name, value) for name, value in shop_vars.items()}
    earliest = checked.get("earliest_valid_date", project_vars()["earliest_valid_date"])
    if start is not None and start.isoformat() < str(earliest):
        raise SettingsError(
            f"history_start: {start} is before vars.earliest_valid_date ({earliest}), so "
            "every order of those days would be quarantined; set earliest_valid_date earlier"
        )
    low, high = (
        checked.get("clv_churn_high_below", project_vars()["clv_churn_high_below"]),
        checked.get("clv_churn_medium_below", project_vars()["clv_churn_medium_below"]),
    )
    if low > high:
        raise SettingsError(f"vars.clv_churn_high_below: {low} must not be above clv_churn_medium_below ({high})")
    temp_set = bool(_env_text(PATH_KEYS["temp_dir"][0]) or raw.get("temp_dir"))
    sources = _sources(raw.get("sources"), base)
    shopify = _shopify_api(raw.get("shopify_api"))
    delivery = _delivery(raw.get("delivery"), base, paths["publish_dir"])
    return Settings(
        **paths,
        delivery=delivery,
        business_timezone=tz,
        history_start=start,
        keep_days=keep,
        dashboard_language=language,
        digest=digest,
        vars=checked,
        source=source,
        temp_dir_set=temp_set,
        sources=sources,
        shopify_api=shopify,
        target=target,
        spark=spark,
    )


def _shopify_api(value: Any) -> dict | None:
    """``shopify_api:``: the Admin API's base URL, the environment variable holding its token, the
    first day pulled."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SettingsError("shopify_api: must be a mapping with url and token_env")
    unknown = [k for k in value if k not in ("url", "token_env", "start")]
    if unknown:
        raise SettingsError(f"shopify_api.{unknown[0]}: unknown key; allowed: url, token_env, start")
    url = value.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^/]+/admin/api/[0-9]{4}-[0-9]{2}/?$", url):
        raise SettingsError(
            f"shopify_api.url: the Admin API's base URL with its version, such as "
            f"https://your-shop.myshopify.com/admin/api/2025-01, not {url!r}"
        )
    env = value.get("token_env", "SHOPIFY_ACCESS_TOKEN")
    if not isinstance(env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        raise SettingsError(
            f"shopify_api.token_env: the name of the environment variable that holds the access token, not {env!r}"
        )
    return {"url": url, "token_env": env, "start": _day(value.get("start"), "shopify_api.start")}


def _sources(value: Any, base: Path) -> dict[str, dict]:
    """``sources:``: per source a folder of exports and its mapping (a preset, a file or inline)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingsError("sources: must be a mapping of source names to {preset or mapping, folder}")
    checked = {}
    for name, entry in value.items():
        key = f"sources.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
            raise SettingsError(f"{key}: a source name is lower-case letters, digits and _ (it names landing files)")
        if not isinstance(entry, dict):
            raise SettingsError(f"{key}: must be a mapping with folder and preset (or mapping)")
        unknown = [k for k in entry if k not in ("folder", "preset", "mapping", "files", "encoding", "timezone")]
        if unknown:
            raise SettingsError(
                f"{key}.{unknown[0]}: unknown key; allowed: folder, preset, mapping, files, encoding, timezone"
            )
        folder = entry.get("folder")
        if not isinstance(folder, str) or not folder.strip():
            raise SettingsError(f"{key}.folder: the folder the shop's exports of this source are put in")
        path = Path(folder).expanduser()
        try:
            spec = load_mapping(entry, key, base)
        except MappingError as bad:
            raise SettingsError(str(bad)) from None
        checked[name] = {"folder": path if path.is_absolute() else base / path, "spec": spec}
    return checked


@cache
def _current(environment: tuple) -> Settings:
    return read_settings(None)


SPARK_ENV_KEYS = (
    "CRM_SPARK_DIR",
    "CRM_SPARK_MASTER",
    "CRM_SPARK_EXECUTOR_MEMORY",
    "CRM_SPARK_DRIVER_MEMORY",
    "CRM_SPARK_ENDPOINT",
)
ENV_KEYS = (CONFIG_ENV, *(env for env, _ in PATH_KEYS.values()), *OTHER_KEYS.values(), *SPARK_ENV_KEYS)


def settings() -> Settings:
    """The settings of this process: the file named by $CRM_CONFIG (else data/shop.yml) and the
    environment overrides, read once for each state of those variables."""
    return _current(tuple(os.environ.get(name) for name in ENV_KEYS))


def use_config(path: str | Path | None) -> Settings:
    """Make ``path`` this process's (and its children's) settings file, validated now."""
    if path:
        os.environ[CONFIG_ENV] = str(Path(path).resolve())
    refresh()
    return settings()


def refresh() -> None:
    """Forget the settings read so far (after the environment changed: tests, ``use_config``)."""
    _current.cache_clear()


def dbt_var(name: str) -> Any:
    """A dbt var's value in force for this shop (its setting, else dbt_project.yml's default)."""
    return settings().var(name)


# Shortcuts used across the package.
def landing_dir() -> Path:
    return settings().landing_dir


def warehouse_path() -> Path:
    return settings().warehouse_path


def publish_dir() -> Path:
    return settings().publish_dir


def gx_dir() -> Path:
    return settings().gx_dir


def keep_days() -> int:
    """How many days a run's own records are kept: its detailed log and its GX validation results.
    The marts, the warehouse and the load log keep everything."""
    return settings().keep_days
