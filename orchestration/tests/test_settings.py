"""One settings file per shop: typed, validated before any work, one value for every consumer."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from orchestration import settings as settings_module
from orchestration.ingest.load import first_partition_day
from orchestration.settings import PROJECT_DIR, SettingsError, read_settings


def _write(tmp_path, text: str):
    path = tmp_path / "shop.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in settings_module.ENV_KEYS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_without_a_file(monkeypatch):
    monkeypatch.setattr(settings_module, "DEFAULT_CONFIG", PROJECT_DIR / "no-such-shop.yml")
    s = read_settings()
    assert s.source is None
    assert s.business_timezone == "Asia/Tokyo"
    assert s.warehouse_path == PROJECT_DIR / "data" / "warehouse.duckdb"
    assert s.keep_days == 30
    assert s.var("cpm_lapse_days") == 240  # dbt_project.yml's default
    assert s.dbt_vars() == {"business_timezone": "Asia/Tokyo"}


def test_a_file_sets_paths_relative_to_itself_and_vars_reach_dbt(tmp_path):
    s = read_settings(
        _write(
            tmp_path,
            """
landing_dir: shop-data
warehouse_path: /srv/crm/warehouse.duckdb
business_timezone: America/New_York
history_start: 1997-01-01
keep_days: 7
vars:
  cpm_steady_revenue: 100
  earliest_valid_date: 1997-01-01
  activation_unknown_consent_is_consent: false
""",
        )
    )
    assert s.landing_dir == tmp_path / "shop-data"
    assert str(s.warehouse_path) == "/srv/crm/warehouse.duckdb"
    assert s.history_start == date(1997, 1, 1)
    assert s.dbt_vars() == {
        "business_timezone": "America/New_York",
        "cpm_steady_revenue": 100,
        "earliest_valid_date": "1997-01-01",
        "activation_unknown_consent_is_consent": False,
    }
    assert first_partition_day(s) == date(1997, 1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'vars:\n  activation_unknown_consent_is_consent: "false"\n',
            "vars.activation_unknown_consent_is_consent: must be true or false (unquoted), not 'false'",
        ),
        (
            "vars:\n  cpm_lapse_days: -240\n",
            "vars.cpm_lapse_days: must be a whole number > 0, not -240",
        ),
        (
            "vars:\n  activation_holdout_share: -0.5\n",
            "vars.activation_holdout_share: must be a number from 0 to 1",
        ),
        (
            'vars:\n  max_quantity: "1万"\n',
            "vars.max_quantity: must be a whole number > 0, not '1万'",
        ),
        (
            "vars:\n  f2_horizons_days: [90, 30]\n",
            "vars.f2_horizons_days: must be a list of whole numbers > 0",
        ),
        (
            "vars:\n  earliest_valid_date: soon\n",
            "vars.earliest_valid_date: must be a date YYYY-MM-DD",
        ),
        ("vars:\n  cpm_lapse_dayz: 10\n", "vars.cpm_lapse_dayz: unknown var"),
        ("vars:\n  raw_contract: {}\n", "vars.raw_contract: unknown var"),
        ("warehouse: x.duckdb\n", "warehouse: unknown setting"),
        ("business_timezone: Tokio\n", "business_timezone: unknown time zone 'Tokio'"),
        ("keep_days: 0\n", "keep_days: must be a whole number of days > 0, not 0"),
        (
            "history_start: 1990-01-01\n",
            "history_start: 1990-01-01 is before vars.earliest_valid_date",
        ),
        (
            "vars:\n  clv_churn_high_below: 0.8\n",
            "vars.clv_churn_high_below: 0.8 must not be above",
        ),
        ("- a list\n", "must be a mapping"),
        ("dashboard_language: fr\n", "dashboard_language: must be one of ja, en, not 'fr'"),
        ("vars:\n  dashboard_min_customers: 0\n", "vars.dashboard_min_customers: must be a whole number > 0"),
        (
            "vars:\n  digest_alert_change_threshold: 30\n",
            "vars.digest_alert_change_threshold: must be a number from 0 to 1",
        ),
        ("digest: yes\n", "digest: must be a mapping"),
        ("target: postgres\n", "target: must be one of duckdb, spark, not 'postgres'"),
        ("spark:\n  master: localhost\n", "spark.master: must be a Spark master URL"),
        ("spark:\n  executor_memory: 8GB\n", "spark.executor_memory: must be an amount such as 512m or 4g"),
        ("spark:\n  endpoint: localhost:10000\n", "spark.endpoint: must be thrift://host:port"),
        ("spark:\n  cores: 4\n", "spark.cores: unknown setting"),
        ("digest:\n  smtp_hots: x\n", "digest.smtp_hots: unknown key"),
        ("digest:\n  smtp_host: mail.example\n", "digest.smtp_host: e-mail needs digest.mail_from and digest.mail_to"),
        ("digest:\n  smtp_port: 99999\n", "digest.smtp_port: must be a port number"),
        ("digest:\n  mail_to: team\n", "digest.mail_to: must be an e-mail address"),
        (
            "digest:\n  webhook_url_env: https://hooks.example/T0/B0/secret\n",
            "digest.webhook_url_env: must be the NAME of an environment variable",
        ),
        (
            "digest:\n  smtp_password_env: CRM_SMTP_PASSWORD\n",
            "digest.smtp_password_env: a password needs digest.smtp_user",
        ),
    ],
)
def test_a_bad_value_names_its_key_and_what_is_allowed(tmp_path, text, message):
    with pytest.raises(SettingsError) as caught:
        read_settings(_write(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_digest_delivery_and_the_dashboard_language_are_read(tmp_path, monkeypatch):
    s = read_settings(
        _write(
            tmp_path,
            """
dashboard_language: en
digest:
  smtp_host: mail.example
  smtp_port: 587
  smtp_starttls: true
  smtp_user: crm
  smtp_password_env: CRM_SMTP_PASSWORD
  mail_from: crm@shop.example
  mail_to: team@shop.example
  webhook_url_env: CRM_DIGEST_WEBHOOK
""",
        )
    )
    assert s.dashboard_language == "en"
    assert s.digest == settings_module.DigestDelivery(
        smtp_host="mail.example",
        smtp_port=587,
        smtp_starttls=True,
        smtp_user="crm",
        smtp_password_env="CRM_SMTP_PASSWORD",
        mail_from="crm@shop.example",
        mail_to=("team@shop.example",),
        webhook_url_env="CRM_DIGEST_WEBHOOK",
    )
    monkeypatch.setenv("CRM_DASHBOARD_LANGUAGE", "ja")
    assert read_settings(tmp_path / "shop.yml").dashboard_language == "ja"


def test_the_environment_overrides_a_key_of_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path, "business_timezone: Europe/Berlin\nkeep_days: 9\n")
    monkeypatch.setenv("CRM_KEEP_DAYS", "3")
    s = read_settings(path)
    assert (s.business_timezone, s.keep_days) == ("Europe/Berlin", 3)
    monkeypatch.setenv("CRM_KEEP_DAYS", "3d")
    with pytest.raises(SettingsError, match="CRM_KEEP_DAYS"):
        read_settings(path)


def test_the_first_day_is_found_from_the_order_files(tmp_path):
    orders = tmp_path / "landing" / "orders"
    orders.mkdir(parents=True)
    for name in ("2003-05-02.csv", "2004-01.csv", "notes.csv"):
        (orders / name).write_text("order_id\n")
    s = read_settings(_write(tmp_path, "landing_dir: landing\n"))
    assert first_partition_day(s) == date(2003, 5, 2)
    (orders / "1970-01-01.csv").write_text("order_id\n")  # a placeholder date: never before the floor
    assert first_partition_day(s) == date(2000, 1, 1)


def test_a_bad_setting_stops_the_run_command_before_any_work(tmp_path):
    path = _write(tmp_path, "landing_dir: landing\nvars:\n  activation_unknown_consent_is_consent: 'false'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "run", "--config", str(path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "[settings] vars.activation_unknown_consent_is_consent: must be true or false (unquoted), not 'false'"
    )
    assert not (tmp_path / "landing").exists()  # no sample shop written, nothing run


def test_every_setting_and_tunable_var_is_documented():
    doc = (PROJECT_DIR / "docs" / "settings.md").read_text(encoding="utf-8")
    for key in settings_module.ALLOWED_KEYS:
        assert f"`{key}`" in doc, key
    for name in set(settings_module.project_vars()) - settings_module.FIXED_VARS:
        assert f"`{name}`" in doc, name


def test_the_spark_target_and_its_cluster_are_read_and_reach_dbt(tmp_path, monkeypatch):
    from orchestration.dbt import spark_env

    path = _write(
        tmp_path,
        "target: spark\nspark:\n  master: spark://m:7077\n  executor_memory: 8g\n"
        "  endpoint: thrift://thrift-host:10001\n  warehouse_dir: sparkdir\n",
    )
    s = read_settings(path)
    assert (s.target, s.spark.master, s.spark.executor_memory) == ("spark", "spark://m:7077", "8g")
    assert s.spark.warehouse_dir == tmp_path / "sparkdir"
    assert (s.spark.thrift, s.spark.connect) == (("thrift-host", 10001), None)
    monkeypatch.setenv("CRM_CONFIG", str(path))
    settings_module.refresh()
    try:
        env = spark_env()
        assert env["CRM_TARGET"] == "spark_thrift"
        assert (env["CRM_SPARK_HOST"], env["CRM_SPARK_PORT"]) == ("thrift-host", "10001")
        assert env["CRM_SPARK_EXECUTOR_MEMORY"] == "8g"
        monkeypatch.setenv("CRM_WAREHOUSE_TARGET", "duckdb")  # the environment overrides the file
        assert spark_env() == {"CRM_TARGET": "duckdb"}
    finally:
        monkeypatch.delenv("CRM_CONFIG")
        monkeypatch.delenv("CRM_WAREHOUSE_TARGET")
        settings_module.refresh()
