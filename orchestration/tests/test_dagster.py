"""The Dagster pipeline: materialize tests on generated data, partitions, checks, publishing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from unittest import mock
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.dbt import dbt_command, dbt_run_files
from orchestration.pipeline.assets import (
    PIPELINE_ASSETS,
    _dbt_target_path,
    _resumable_run,
    audience_exports,
    dbt_predictions,
    model_fits,
    published_marts,
)
from orchestration.pipeline.checks import MART_CHECKS
from orchestration.pipeline.definitions import defs
from orchestration.pipeline.recovery import TAG_HOST, TAG_PID
from orchestration.pipeline.resources import WarehouseResource, dbt_resource
from orchestration.publish.publish import built_manifest, mart_parquet, publish
from orchestration.settings import PROJECT_DIR
from orchestration.tests.conftest import docs_site_manifest, mart_snapshot, query
from orchestration.tools.generate import generate

END = "2025-06-30"
ALL = [*PIPELINE_ASSETS, *MART_CHECKS]


def _warehouse(root: Path, landing: Path) -> WarehouseResource:
    return WarehouseResource(
        database=str(root / "warehouse.duckdb"),
        landing=str(landing),
        publish=str(root / "published"),
        gx=str(root / "gx"),
    )


def _materialize(wh: WarehouseResource, partition: str, assets=ALL, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets,
        partition_key=partition,
        resources={"warehouse": wh, "dbt": dbt_resource()},
        raise_on_error=False,
        **kwargs,
    )


def _checks(result) -> dict[tuple[str, str], object]:
    return {
        (
            e.event_specific_data.asset_key.path[-1],
            e.event_specific_data.check_name,
        ): e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dagster_landing")
    # a year of history: enough for both CLV fits (full, and calibration to as_of - 180 days)
    generate(root, customers=400, start=date(2024, 7, 1), end=date(2025, 6, 30), seed=21, bad_share=0.003)
    return root


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, landing):
    root = tmp_path_factory.mktemp("dagster_run")
    wh = _warehouse(root, landing)
    # dagster-dbt's `dbt --version` is not run (decision 105): the run fails if it is
    with mock.patch(
        "dagster_dbt.core.resource.check_output",
        side_effect=AssertionError("dagster-dbt ran `dbt --version`"),
    ):
        result = _materialize(wh, END)
    return SimpleNamespace(root=root, wh=wh, result=result)


def test_definitions_load_and_validate():
    assert defs.resolve_job_def("daily_refresh") is not None
    env = dict(os.environ, DAGSTER_HOME="")
    env.pop("DAGSTER_HOME")
    proc = subprocess.run(
        [
            str(Path(os.sys.executable).with_name("dagster")),
            "definitions",
            "validate",
            "-m",
            "orchestration.pipeline.definitions",
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "passed validation" in proc.stderr + proc.stdout


def test_dbt_resource_skips_dagster_dbts_preparation_for_metadata_the_project_does_not_fetch():
    from functools import cached_property

    from dagster_dbt import DbtCliResource

    # the two members replaced (decision 105) are still dagster-dbt's, under these names
    assert isinstance(vars(DbtCliResource)["_cli_version"], cached_property)
    assert callable(vars(DbtCliResource)["_initialize_dbt_core_adapter"])
    resource = dbt_resource()
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    # the version dagster-dbt would have read from `dbt --version`
    printed = subprocess.run([resource.dbt_executable, "--version"], capture_output=True, text=True, check=True).stdout
    assert f"installed: {resource._cli_version}" in printed


def test_run_logs_older_than_the_retention_are_removed(tmp_path, monkeypatch):
    from orchestration.pipeline.logs import prune_run_logs
    from orchestration.settings import keep_days

    now = time.time()
    for name, age_days in (
        ("run-2025-01-01-a.log", 31),
        ("run-2025-01-02-b.log", 29),
        ("notes.log", 90),
    ):
        (tmp_path / name).write_text("log")
        os.utime(tmp_path / name, (now - age_days * 86400, now - age_days * 86400))
    monkeypatch.delenv("CRM_KEEP_DAYS", raising=False)
    assert keep_days() == 30
    assert prune_run_logs(tmp_path, keep_days(), now=now) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.log", "run-2025-01-02-b.log"]
    monkeypatch.setenv("CRM_KEEP_DAYS", "7")
    assert prune_run_logs(tmp_path, keep_days(), now=now) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["notes.log"]  # not a run log: never touched
    monkeypatch.setenv("CRM_KEEP_DAYS", "30d")
    with pytest.raises(ValueError, match="CRM_KEEP_DAYS .setting keep_days.: must be a whole number of days"):
        keep_days()


def test_the_run_log_has_each_line_once(tmp_path):
    # Dagster initialises a run's loggers again for its steps: the file logger wrote every line of
    # the steps twice (the detailed log of the sample shop was 380 KB)
    from orchestration.pipeline.logs import file_logger

    @dg.op
    def hello(context):
        context.log.info("hello from the step")

    @dg.job(logger_defs={"file": file_logger})
    def one_step():
        hello()

    log = tmp_path / "run.log"
    assert one_step.execute_in_process(run_config={"loggers": {"file": {"config": {"path": str(log)}}}}).success
    text = log.read_text()
    assert [text.count(event) for event in ("RUN_START", "hello from the step", "STEP_SUCCESS", "RUN_SUCCESS")] == [
        1,
        1,
        1,
        1,
    ]


def test_schedule_runs_yesterday_every_morning_in_tokyo():
    schedule = defs.get_schedule_def("daily_refresh_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "Asia/Tokyo"
    tick = datetime(2025, 7, 1, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            scheduled_execution_time=tick,
            repository_def=defs.get_repository_def(),
            instance=instance,
        ) as ctx,
    ):
        # a run whose process died (no such pid on this host) before the tick
        dead = instance.add_run(
            dg.DagsterRun(
                job_name="daily_refresh",
                status=dg.DagsterRunStatus.STARTED,
                tags={TAG_HOST: socket.gethostname(), TAG_PID: "4194303"},
            )
        )
        requests = schedule.evaluate_tick(ctx).run_requests
        # the tick marked it failed, so the new run is not blocked by it
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert [r.partition_key for r in requests] == ["2025-06-30"]


def test_materialize_runs_ingest_build_checks_and_publish(pipeline):
    result = pipeline.result
    assert result.success
    checks = _checks(result)
    # dbt tests arrive as asset checks, and all pass
    assert sum(1 for (_, name) in checks if name.startswith(("unique_", "not_null_", "accepted_values_"))) > 20
    # the scheduled build leaves the unit tests to CI (decision 90): models and data tests ran,
    # no unit test did
    ran = [
        r["unique_id"].split(".")[0]
        for r in json.loads((_dbt_target_path(result.run_id, "dbt_warehouse") / "run_results.json").read_text())[
            "results"
        ]
    ]
    assert ran.count("model") > 40 and ran.count("test") > 100 and "unit_test" not in ran

    # the second dbt step parsed nothing again: it started from the first step's saved parse (same
    # vars, profile and files; decision 103), where the first parsed the whole project
    def parse_events(step):
        return [
            json.loads(line)["info"]["name"]
            for line in (_dbt_target_path(result.run_id, step) / "dbt.log").read_text().splitlines()
            if '"PartialParsing' in line or '"UnableToPartialParse' in line
        ]

    assert "UnableToPartialParse" in parse_events("dbt_warehouse")
    assert parse_events("dbt_predictions") == ["PartialParsingEnabled", "PartialParsingSkipParsing"]
    # the mart checks pass: GX's rate bounds and the dbt tests that guard CPM conservation, one tier
    # per purchaser and spend reconciliation
    for name in (
        "rates_within_0_1",
        "assert_cpm_transitions_conserve",
        "assert_every_purchaser_in_one_tier",
        "assert_spend_reconciles",
    ):
        evaluated = [c for (mart, n), c in checks.items() if n == name]
        assert evaluated and all(c.passed for c in evaluated), name
    # the landing gate saw the planted bad rows: a visible warning with counts, and the run went on
    gate = checks[("orders", "landing_gate")]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert gate.metadata["failing_values"].value > 0
    assert any(k.startswith("failing_rows[") for k in gate.metadata)
    assert query(pipeline.wh.database_path, "select count(*) as n from quarantine.quarantine_orders")["n"][0] > 0
    # published: a DuckDB file with every mart and the same rows, Parquet per mart, a manifest
    manifest = json.loads((Path(pipeline.wh.publish) / "manifest.json").read_text())
    assert manifest["as_of_date"] == END
    published = mart_snapshot(Path(manifest["database"]))
    assert published.keys() == mart_snapshot(pipeline.wh.database_path).keys()
    # 20 marts (portfolio_forecast and dim_cpm_states among them), the time spine, five 定期, three
    # prediction, four activation marts (the contact log among them)
    assert len(published) == 33
    for mart, rows in manifest["row_counts"].items():
        assert len(published[mart]) == rows
        assert pd.read_parquet(mart_parquet(Path(manifest["parquet_dir"]), mart)).shape[0] == rows
    assert manifest["held_back"] == {}
    # the day's audience exports were published with the marts, after their consent check passed
    assert checks[("audience_exports", "exports_respect_consent")].passed
    exports = Path(manifest["exports_dir"])
    entries = published["customer_audiences"].query("is_entry and not is_holdout and channel.notna()", engine="python")
    assert sum(len(pd.read_parquet(p)) for p in exports.glob("*.parquet")) == len(entries)
    # one file per channel with entries today, none for a channel without
    assert (
        {p.stem for p in exports.glob("*.csv")} == set(entries.channel) == {p.stem for p in exports.glob("*.parquet")}
    )
    # and the day was logged: its entries, contacted and held out, and the window before it
    log = published["contact_log"]
    today = log[~log.is_reconstructed]
    assert len(today) == len(published["customer_audiences"].query("is_entry and channel.notna()", engine="python"))
    assert log.is_reconstructed.sum() > 0 and (today.delivery_status == "not_delivered").all()
    # the marts that read the log were built again in the run's own dbt folder (never the project's
    # target/, whose manifest Dagster loads), from the run's parse
    rebuilt = json.loads((_dbt_target_path(result.run_id, "contact_log_marts") / "run_results.json").read_text())
    assert {r["unique_id"] for r in rebuilt["results"] if r["unique_id"].startswith("model.")} == {
        "model.crm_warehouse.contact_log",
        "model.crm_warehouse.audience_lift",
    }
    assert parse_events("contact_log_marts") == ["PartialParsingEnabled", "PartialParsingSkipParsing"]
    # the model fits ran between the two dbt steps: dim_customers and the predictions carry them
    fit_check = checks[("clv_fits", "clv_fit_converged")]
    assert fit_check.passed and fit_check.severity == dg.AssetCheckSeverity.ERROR
    model = published["clv_model"].set_index("fit")
    assert model.loc["full", "status"] == "fitted" and model.loc["full", "r"] > 0
    assert model.loc["calibration", "status"] == "fitted"
    assert published["clv_model_validation"]["count_customers"].sum() > 0
    buyers = published["dim_customers"].query("count_purchases > 0")
    assert manifest["row_counts"]["customer_predictions"] == len(buyers) > 0  # one prediction per buyer
    assert buyers["p_alive"].notna().all()
    assert checks[("retention_fits", "retention_fits_converged")].passed
    # the dbt docs site was published beside the marts, showing the SQL each model of the run ran:
    # the run's dbt steps compiled every node between them, so the site did not compile them again
    assert built_manifest(dbt_run_files(result.run_id, "manifest.json")) is not None
    site = Path(pipeline.wh.publish) / "docs" / "index.html"
    assert "metricflow_time_spine" in site.read_text()
    shown = docs_site_manifest(site)
    models = {k: n for k, n in shown["nodes"].items() if n["resource_type"] == "model"}
    assert len(models) > 80 and all(n["compiled_code"] for n in models.values())
    assert f"cast('{manifest['as_of_date']}' as date)" in models["model.crm_warehouse.customer_rfm"]["compiled_code"]
    # GX Data Docs were written, pointing at their vendored files (readable offline)
    gx_index = Path(pipeline.wh.gx) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert "static/vendor/bootstrap.min.css" in gx_index.read_text(encoding="utf-8")
    # the morning digest of the day was written into the published folder, with kpi_daily's revenue
    with duckdb.connect(manifest["database"], read_only=True) as con:
        revenue = con.execute(
            "select revenue from marts.kpi_daily where date_day = ?", [date.fromisoformat(END)]
        ).fetchone()[0]
    digest = (Path(pipeline.wh.publish) / "digest" / f"digest-{END}.html").read_text(encoding="utf-8")
    assert f"売上: ¥{revenue:,.0f}" in digest


def test_running_a_partition_twice_changes_no_mart(pipeline):
    before = mart_snapshot(pipeline.wh.database_path)
    again = _materialize(pipeline.wh, END)
    assert again.success
    after = mart_snapshot(pipeline.wh.database_path)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], check_exact=True, obj=name)


def test_backfilled_days_give_the_same_marts_as_one_build(pipeline, landing, tmp_path):
    reference = mart_snapshot(pipeline.wh.database_path)
    # one run over a range of days (single-run backfill policy)
    ranged = _warehouse(tmp_path / "ranged", landing)
    (tmp_path / "ranged").mkdir()
    result = defs.resolve_job_def("daily_refresh").execute_in_process(
        resources={"warehouse": ranged, "dbt": dbt_resource()},
        tags={
            "dagster/asset_partition_range_start": "2025-06-28",
            "dagster/asset_partition_range_end": END,
        },
        raise_on_error=False,
    )
    assert result.success
    # day by day
    daily = _warehouse(tmp_path / "daily", landing)
    (tmp_path / "daily").mkdir()
    for day in ("2025-06-29", END):
        assert _materialize(daily, day).success
    # the staged exports of a published day are removed; the last day's stay for a re-run of publish
    assert [p.name for p in (Path(daily.publish) / ".exports-staging").iterdir()] == [END]
    for wh in (ranged, daily):
        got = mart_snapshot(wh.database_path)
        for name in reference:
            if wh is daily and name in ("contact_log", "audience_lift"):
                continue  # the log is history: day by day, 06-29 was logged as sent, not reconstructed
            pd.testing.assert_frame_equal(reference[name], got[name], check_exact=True, obj=name)
    # what 06-29's run logged is what the one build reconstructed for that day
    keys = ["customer_id", "audience", "is_holdout"]
    logged = mart_snapshot(daily.database_path)["contact_log"]
    rebuilt = reference["contact_log"]
    day = pd.Timestamp("2025-06-29")
    then = logged[(logged.entry_date == day)]
    assert not then.is_reconstructed.any() and rebuilt[rebuilt.entry_date == day].is_reconstructed.all()
    pd.testing.assert_frame_equal(
        then[keys].sort_values(keys).reset_index(drop=True),
        rebuilt[rebuilt.entry_date == day][keys].sort_values(keys).reset_index(drop=True),
    )


def test_a_failed_error_check_blocks_publishing(pipeline, tmp_path):
    root = tmp_path / "blocked"
    shutil.copytree(pipeline.root, root, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    wh = _warehouse(root, Path(pipeline.wh.landing))
    before = json.loads((root / "published" / "manifest.json").read_text())
    con = duckdb.connect(wh.database)
    con.execute("update marts.f2_conversion set f2_rate_30d = 1.5 where cohort_month = 'all'")
    con.close()
    # the checks and publish, as after a build (the marts are as the tampered build left them)
    selection = dg.AssetSelection.assets(published_marts) | dg.AssetSelection.checks(*MART_CHECKS)
    result = _materialize(wh, END, assets=ALL, selection=selection)
    assert not result.success  # the run shows why ...
    checks = _checks(result)
    rates = checks[("f2_conversion", "rates_within_0_1")]
    assert not rates.passed and rates.severity == dg.AssetCheckSeverity.ERROR
    assert rates.metadata["failing_values"].value > 0 and "f2_rate_30d" in rates.metadata["failing_sample"].value
    assert checks[("funnel_daily", "rates_within_0_1")].passed  # ... and only the broken mart is blamed
    published_steps = [
        e
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path == ["published_marts"]
    ]
    assert published_steps == []
    after = json.loads((root / "published" / "manifest.json").read_text())
    assert after == before  # BI keeps the previous marts


def test_a_failed_fit_holds_back_its_predictions_and_everything_else_publishes(pipeline, tmp_path, monkeypatch):
    from orchestration.predict import bgnbd

    root = tmp_path / "failed_fit"
    shutil.copytree(pipeline.root, root, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    wh = _warehouse(root, Path(pipeline.wh.landing))
    before = mart_snapshot(root / "published" / "crm_marts.duckdb")
    # an optimiser that does not converge (real data rarely provokes it on demand)
    monkeypatch.setattr(
        bgnbd,
        "fit_bgnbd",
        lambda *args, **kwargs: bgnbd.FitResult(
            False,
            None,
            None,
            "BG/NBD: the optimiser stopped without converging (planted by the test)",
        ),
    )
    selection = dg.AssetSelection.assets(model_fits, dbt_predictions, published_marts)
    result = _materialize(wh, END, assets=ALL, selection=selection)
    assert result.success  # an ERROR check that holds back only the predictions, not the run
    check = _checks(result)[("clv_fits", "clv_fit_converged")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "planted by the test" in check.description and "customer_predictions" in check.description
    manifest = json.loads((root / "published" / "manifest.json").read_text())
    assert manifest["run_id"] == result.run_id  # published in this run ...
    # ... except the marts of the failed fits (both fits call the failing optimiser)
    assert set(manifest["held_back"]) == {"customer_predictions", "clv_model_validation"}
    after = mart_snapshot(Path(manifest["database"]))
    for mart, held in manifest["held_back"].items():
        assert held["published"] == "previous version" and "planted by the test" in held["reason"]
        pd.testing.assert_frame_equal(after[mart], before[mart], check_exact=True)
    model = after["clv_model"].set_index("fit")  # the model table says what happened today
    assert (model["status"] == "failed").all() and model["r"].isna().all()
    assert model["status_reason"].str.contains("planted by the test").all()
    assert after["dim_customers"]["p_alive"].isna().all()  # no prediction today is shown as none
    assert after.keys() == before.keys()


def test_an_export_without_consent_blocks_publishing(pipeline, tmp_path):
    root = tmp_path / "consent"
    shutil.copytree(pipeline.root, root, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    wh = _warehouse(root, Path(pipeline.wh.landing))
    before = json.loads((root / "published" / "manifest.json").read_text())
    with duckdb.connect(wh.database) as con:  # a bug that puts a customer without consent on LINE
        victim = con.execute("""
            select c.customer_id from staging.stg_shop__customers as c
            where c.line_opt_in is distinct from true and c.customer_id not in
                (select customer_id from marts.customer_audiences)
            order by 1 limit 1""").fetchone()[0]
        con.execute(
            """insert into marts.customer_audiences (customer_id, as_of_date, audience, priority,
            is_entry, is_holdout, send_date, send_hour, send_weekday, channel, reason)
            values (?, date '2025-06-30', 'win_back', 5, true, false, date '2025-07-01', 10, 2, 'line', 'x')""",
            [victim],
        )
    selection = dg.AssetSelection.assets(audience_exports, published_marts)
    result = _materialize(wh, END, assets=ALL, selection=selection)
    check = _checks(result)[("audience_exports", "exports_respect_consent")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "line.parquet: 1 rows whose customer has no consent for its channel" in check.description
    assert victim in check.description
    assert json.loads((root / "published" / "manifest.json").read_text()) == before  # nothing published


def test_a_reader_of_the_published_file_sees_old_or_new_never_a_mix(pipeline, tmp_path):
    root = tmp_path / "reader"
    shutil.copytree(pipeline.root, root, symlinks=True, ignore=shutil.ignore_patterns("*.lock"))
    wh = _warehouse(root, Path(pipeline.wh.landing))
    published = root / "published" / "crm_marts.duckdb"
    reader = duckdb.connect(str(published), read_only=True)
    old = {m: reader.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in ("fct_orders", "kpi_daily")}
    # the warehouse changes and is published again while the reader holds the old file open
    con = duckdb.connect(wh.database)
    con.execute("delete from marts.fct_orders where order_date < '2025-05-01'")
    con.execute("delete from marts.kpi_daily where date_day < '2025-05-01'")
    con.close()
    publish(wh.database_path, Path(wh.publish), END, "refresh")
    still = {m: reader.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in old}
    assert still == old  # the open reader keeps a consistent (old) view
    reader.close()
    fresh = duckdb.connect(str(published), read_only=True)
    new = {m: fresh.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in old}
    fresh.close()
    assert all(new[m] < old[m] for m in old)  # a new connection sees the new marts, all of them


def test_killing_the_dbt_build_midway_and_rerunning_gives_the_same_marts(pipeline, tmp_path):
    db = tmp_path / "killed.duckdb"
    shutil.copy(pipeline.wh.database, db)
    env = dict(
        os.environ,
        CRM_DUCKDB_PATH=str(db),
        CRM_DUCKDB_TEMP_DIR=str(tmp_path / "tmp"),
        DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"),
    )
    cmd = dbt_command(["build", "--target-path", str(tmp_path / "target")], {"as_of_date": END})
    proc = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    for line in proc.stdout:  # kill once the build is writing models
        if "OK created sql table model" in line or time.monotonic() - started > 60:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    reference, got = mart_snapshot(pipeline.wh.database_path), mart_snapshot(db)
    for name in reference:
        pd.testing.assert_frame_equal(reference[name], got[name], check_exact=True, obj=name)


def test_an_unreadable_batch_stops_that_table_only(tmp_path):
    landing = tmp_path / "landing"
    generate(
        landing,
        customers=80,
        start=date(2025, 6, 1),
        end=date(2025, 6, 30),
        seed=3,
        tables=("orders", "order_items", "events"),
    )
    shutil.rmtree(landing / "events")
    (landing / "events").mkdir()
    (landing / "events" / "2025-06-30.parquet").write_bytes(b"not parquet at all")
    wh = _warehouse(tmp_path, landing)
    result = _materialize(wh, END)
    assert result.success
    checks = _checks(result)
    events = checks[("events", "landing_gate")]
    assert not events.passed and events.severity == dg.AssetCheckSeverity.ERROR
    assert "2025-06-30.parquet could not be read: not a readable Parquet file" in events.description
    assert checks[("orders", "landing_gate")].severity == dg.AssetCheckSeverity.WARN
    assert query(wh.database_path, "select count(*) as n from marts.fct_orders")["n"][0] > 0
    assert (Path(wh.publish) / "crm_marts.duckdb").exists()


def test_a_retried_or_reexecuted_dbt_step_resumes_from_the_failed_model(tmp_path):
    failed_run, new_run = "failedrun0001", "newrun0002"
    path = _dbt_target_path(failed_run, "dbt_warehouse")
    path.mkdir(parents=True, exist_ok=True)
    try:
        (path / "run_results.json").write_text(json.dumps({"results": [{"status": "success"}, {"status": "error"}]}))
        retry = SimpleNamespace(retry_number=1, run=SimpleNamespace(run_id=failed_run, parent_run_id=None))
        reexecution = SimpleNamespace(retry_number=0, run=SimpleNamespace(run_id=new_run, parent_run_id=failed_run))
        first_try = SimpleNamespace(retry_number=0, run=SimpleNamespace(run_id=new_run, parent_run_id=None))
        assert _resumable_run(retry, "dbt_warehouse") == path
        assert _resumable_run(reexecution, "dbt_warehouse") == path
        assert _resumable_run(first_try, "dbt_warehouse") is None
        assert _resumable_run(reexecution, "dbt_predictions") is None  # the other dbt step did not fail
        (path / "run_results.json").write_text(json.dumps({"results": [{"status": "success"}]}))
        assert _resumable_run(reexecution, "dbt_warehouse") is None  # nothing failed: build from scratch
    finally:
        shutil.rmtree(path.parent)


def test_a_second_writer_waits_for_the_lock_then_gives_up_with_a_clear_error(tmp_path):
    from orchestration.pipeline.resources import WarehouseLockedError

    first = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    second = WarehouseResource(database=str(tmp_path / "w.duckdb"), lock_timeout_seconds=1.0)
    with first.write_lock():
        started = time.monotonic()
        with (
            pytest.raises(WarehouseLockedError, match="being written by another process"),
            second.write_lock(),
        ):
            pass
        assert time.monotonic() - started >= 1.0
    with second.write_lock():  # released: the next writer gets it at once
        pass
    # the Dagster side of the same rule: every writing step is in the one `warehouse` pool
    assert {asset.op.pool for asset in PIPELINE_ASSETS} == {"warehouse"}
