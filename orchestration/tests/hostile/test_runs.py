"""Runs that are killed, fail or are configured differently: the next run completes on its own,
a failed dbt step resumes from the failed model, a shop's threshold never breaks the build."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster._core.storage.sqlite import LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION

from orchestration.activation.contact_log import log_day, rebuild_marts
from orchestration.cli import dbt_failures
from orchestration.ingest.load import ingest, raw_zone
from orchestration.pipeline.assets import PIPELINE_ASSETS
from orchestration.pipeline.checks import MART_CHECKS
from orchestration.pipeline.resources import WarehouseResource, dbt_resource
from orchestration.settings import PROJECT_DIR
from orchestration.tests.conftest import build_with_fits, dbt, mart_snapshot
from orchestration.tools.generate import generate

AS_OF = "2025-06-30"
DAGSTER_TARGETS = PROJECT_DIR / "target" / "dagster"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs_landing")
    generate(root, customers=150, start=date(2025, 5, 1), end=date(2025, 6, 30), seed=17)
    return root


@pytest.fixture(scope="module")
def clean_marts(landing: Path, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The marts of one clean build of ``landing`` as of AS_OF, as a run makes them: what every
    recovered, concurrent or repaired run here must equal (built once for the module)."""
    db = tmp_path_factory.mktemp("runs_clean") / "clean.duckdb"
    ingest(landing, db, verbose=False)
    build_with_fits(db, AS_OF)  # as the run does: dbt build, the fits, the models that read them
    log_day(db, AS_OF)  # and its exports step: the day's entries logged (the window reconstructed)
    rebuild_marts(db, AS_OF)
    return mart_snapshot(db)


def _assert_same_marts(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=True, obj=name)


def _crm(env: dict, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """A `crm` command in its own process, with ``env``, its output captured."""
    command = [sys.executable, "-m", "orchestration.cli", *args]
    return subprocess.run(
        command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_a_run_killed_mid_build_is_recovered_by_the_next_run_on_its_own(landing, clean_marts, tmp_path):
    env = dict(
        os.environ,
        CRM_LANDING_DIR=str(landing),
        CRM_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        CRM_DUCKDB_TEMP_DIR=str(tmp_path / "tmp"),
        CRM_PUBLISH_DIR=str(tmp_path / "published"),
        CRM_GX_DIR=str(tmp_path / "gx"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        CRM_THREADS="2",
    )
    command = [sys.executable, "-m", "orchestration.cli", "run", "--as-of", AS_OF]
    started = time.time()
    first = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # kill the whole process group (the run and dbt) once dbt has built about a third of the models
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None:
        logs = [p for p in DAGSTER_TARGETS.glob("*/*/dbt.log") if _of_this_home(p, env) and p.stat().st_mtime > started]
        if logs and logs[0].read_text(errors="replace").count("OK created sql") >= 15:
            break
        time.sleep(0.2)
    assert first.poll() is None, "the first run ended before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    # the same command again: it must finish by itself (before the fix it waited forever for the
    # pool slot the killed run held)
    second = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert "ended without finishing" in second.stdout
    # the UI shows why the killed run ended
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    runs = instance.get_runs()
    killed = [r for r in runs if r.status == dg.DagsterRunStatus.FAILURE]
    assert len(killed) == 1 and [r.status for r in runs].count(dg.DagsterRunStatus.SUCCESS) == 1
    failure = instance.get_records_for_run(killed[0].run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert "its process (pid" in failure[-1].event_log_entry.dagster_event.message
    # and the marts are those of a clean run
    _assert_same_marts(mart_snapshot(Path(env["CRM_DUCKDB_PATH"])), clean_marts)


def _of_this_home(dbt_log: Path, env: dict) -> bool:
    """A dbt log written by a run of this test's Dagster instance (target/dagster/<run id>/<step>/dbt.log),
    not by another test's run in another process."""
    run_id = dbt_log.parent.parent.name
    return (Path(env["DAGSTER_HOME"]) / "history" / "runs" / f"{run_id}.db").exists()


def _break_events(db: Path) -> dict[Path, bytes]:
    """Raw events dbt cannot read (a text column turned into integers in every raw zone file):
    base_shop__event_arrivals fails, every model outside the events branch still builds. Returns
    the files' bytes as they were."""
    saved = {}
    for path in sorted((raw_zone(db) / "events").glob("*.parquet")):
        saved[path] = path.read_bytes()
        table = pq.read_table(path)
        i = table.schema.get_field_index("occurred_at")
        table = table.set_column(i, pa.field("occurred_at", pa.int32()), pa.nulls(table.num_rows, pa.int32()))
        pq.write_table(table, path)
    assert saved
    return saved


def _failed_on_events(path: Path) -> bool:
    """A dbt command's run_results.json in which base_shop__event_arrivals failed: this test's first
    attempt (other tests' runs, in this process or another, write their results beside it)."""
    try:
        rows = json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return False  # being written
    return any(r["unique_id"].endswith(".base_shop__event_arrivals") and r["status"] == "error" for r in rows)


def _newer(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime > since
    except OSError:
        return False  # removed meanwhile (another run's folder)


def _repair_events_after_the_first_attempt(saved: dict[Path, bytes], since: float, done: threading.Event) -> None:
    deadline = time.time() + 600
    while time.time() < deadline:
        if any(_failed_on_events(p) for p in DAGSTER_TARGETS.glob("*/*/run_results.json") if _newer(p, since)):
            for path, content in saved.items():
                path.write_bytes(content)
            done.set()
            return
        time.sleep(0.1)


def test_a_failed_dbt_step_resumes_from_the_failed_model(landing, tmp_path):
    wh = WarehouseResource(
        database=str(tmp_path / "w.duckdb"),
        landing=str(landing),
        publish=str(tmp_path / "published"),
        gx=str(tmp_path / "gx"),
    )
    ingest(landing, wh.database_path, verbose=False)
    saved = _break_events(wh.database_path)
    repaired = threading.Event()
    repairer = threading.Thread(
        target=_repair_events_after_the_first_attempt,
        args=(saved, time.time(), repaired),
        daemon=True,
    )
    repairer.start()
    result = dg.materialize(
        [*PIPELINE_ASSETS, *MART_CHECKS],
        partition_key=AS_OF,
        resources={"warehouse": wh, "dbt": dbt_resource()},
        raise_on_error=False,
    )
    repairer.join(timeout=60)
    assert repaired.is_set()
    assert result.success  # the step retry resumed and finished; everything published

    def results(path: Path) -> dict[str, str]:
        rows = json.loads((path / "run_results.json").read_text())["results"]
        return {r["unique_id"].split(".", 2)[-1]: r["status"] for r in rows}

    first = results(DAGSTER_TARGETS / result.run_id / "dbt_warehouse")
    retry = results(DAGSTER_TARGETS / result.run_id / "dbt_warehouse.retry1")
    # the model itself fails (the scheduled build runs no unit test: decision 90), and the
    # models after it are skipped
    assert not [k for k in first if k.startswith("base_shop__event_arrivals.")]  # no unit test ran
    assert first["base_shop__event_arrivals"] == "error" and first["fct_sessions"] == "skipped"
    assert first["base_shop__orders"] == "success"
    assert retry["base_shop__event_arrivals"] == "success" and retry["fct_sessions"] == "success"
    assert "base_shop__orders" not in retry  # built by the first attempt: left out of the resume
    published = [
        e
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.event_specific_data.materialization.asset_key.path == ["published_marts"]
    ]
    assert published
    # the run summary names the failed model with dbt's own message
    failed_copy = DAGSTER_TARGETS / f"failed-{result.run_id}"
    shutil.copytree(DAGSTER_TARGETS / result.run_id / "dbt_warehouse", failed_copy / "dbt_warehouse")
    try:
        lines = dbt_failures(f"failed-{result.run_id}")
    finally:
        shutil.rmtree(failed_copy)
    # dbt's message: a Binder Error on the broken INTEGER column (trim(INTEGER))
    assert any(
        line.startswith("model.crm_warehouse.base_shop__event_arrivals (error):") and "Binder Error" in line
        for line in lines
    ), lines


def test_a_threshold_a_shop_changes_never_breaks_the_build(hostile, tmp_path):
    db = tmp_path / "dollars.duckdb"
    shutil.copy(hostile.db, db)
    # a shop in dollars: the CPM spend threshold is 251, and every unit test pins its own vars
    dbt(db, ["build"], {"as_of_date": AS_OF, "cpm_steady_revenue": 251})
    with duckdb.connect(str(db), read_only=True) as con:
        lowest_loyal = con.execute(
            "select min(revenue_to_date) from marts.customer_portfolio_monthly where cpm_segment = 'loyal'"
        ).fetchone()[0]
    assert lowest_loyal is None or lowest_loyal >= 251


def _run_env(landing: Path, root: Path) -> dict[str, str]:
    return dict(
        os.environ,
        CRM_LANDING_DIR=str(landing),
        CRM_DUCKDB_PATH=str(root / "w.duckdb"),
        CRM_DUCKDB_TEMP_DIR=str(root / "tmp"),
        CRM_PUBLISH_DIR=str(root / "published"),
        CRM_GX_DIR=str(root / "gx"),
        DAGSTER_HOME=str(root / "dagster_home"),
        CRM_THREADS="2",
        CRM_PUBLISH_DOCS="0",
    )


PREPARE_HOME = "from orchestration.cli import dagster_home; dagster_home()"


def test_processes_starting_at_once_on_a_new_dagster_home_all_start(tmp_path):
    """Dagster makes its SQLite storage on first use without a lock: four processes starting at once
    on a new home each stamped the schedule storage's version, and from then on every start failed
    with "more than one head present". `crm` prepares the home one process at a time."""
    for attempt in range(3):  # without the lock, four of five such starts broke the home
        env = dict(os.environ, DAGSTER_HOME=str(tmp_path / f"dagster_home_{attempt}"))
        starting = [
            subprocess.Popen([sys.executable, "-c", PREPARE_HOME], cwd=PROJECT_DIR, env=env, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=300)[1].decode()[-800:] for p in starting]
        assert [p.returncode for p in starting] == [0] * 4, errors
        instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])  # the next start opens it
        assert instance.get_runs() == [] and instance.all_instigator_state() == []
        instance.dispose()


def test_a_dagster_home_broken_by_two_starts_at_once_is_mended_by_the_next_start(tmp_path):
    """A home whose storage was made by two processes at once before (each stamped a schema
    version, the second an older one): `crm` removes the older stamp and the instance opens, with
    the run it held. A start that is not mended fails with "more than one head present"."""
    home = tmp_path / "dagster_home"
    env = dict(os.environ, DAGSTER_HOME=str(home))
    subprocess.run([sys.executable, "-c", PREPARE_HOME], cwd=PROJECT_DIR, env=env, check=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        dg.materialize([_one_asset()], instance=instance)
    schedules = home / "schedules" / "schedules.db"
    with sqlite3.connect(schedules) as con:  # what the second of two racing processes wrote
        con.execute("insert into alembic_version values (?)", (LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION,))
    con.close()
    broken = subprocess.run(
        [sys.executable, "-c", "import dagster as dg, sys; dg.DagsterInstance.from_config(sys.argv[1])", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode != 0 and "more than one head present" in broken.stderr
    started = subprocess.run(
        [sys.executable, "-c", PREPARE_HOME], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert started.returncode == 0, started.stderr[-2000:]
    assert f"{schedules}: removed the second schema stamp" in started.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS]


def _one_asset() -> dg.AssetsDefinition:
    @dg.asset
    def one() -> int:
        return 1

    return one


# another process's writing step: the warehouse lock, then the file open for writing, for 8 s
HOLD_FOR_WRITING = """
import sys, time, duckdb
from orchestration.pipeline.resources import warehouse_lock
with warehouse_lock(sys.argv[1]):
    con = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    time.sleep(8)
    con.close()
"""


def test_a_run_launched_through_the_instance_and_a_cli_run_both_finish(landing, clean_marts, tmp_path):
    """What the UI does (a run of the instance executed by a run worker in its own process, steps
    in subprocesses) and `crm run` at the same time on one warehouse: the steps take turns in the
    `warehouse` pool and under the file lock, and both runs end well. Before, the UI run's GX
    checks, outside the pool and the lock, failed with DuckDB's "Could not set lock on file"."""
    env = _run_env(landing, tmp_path)
    home = Path(env["DAGSTER_HOME"])
    subprocess.run([sys.executable, "-c", PREPARE_HOME], cwd=PROJECT_DIR, env=env, check=True)  # as `crm ui` does
    instance = dg.DagsterInstance.from_config(str(home))
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as out:  # a file, not a pipe nobody reads until the end
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster"),
                "job",
                "execute",
                "-m",
                "orchestration.pipeline.definitions",
                "-j",
                "daily_refresh",
                "--tags",
                json.dumps({"dagster/partition": AS_OF}),
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 120
    while time.time() < deadline and not instance.get_runs():
        time.sleep(0.5)
    assert instance.get_runs(), "the instance's run did not start"
    cli = _crm(env, "run", "--as-of", AS_OF, timeout=1200)
    worker.wait(timeout=1200)
    assert cli.returncode == 0, cli.stdout[-4000:] + cli.stderr[-2000:]
    assert worker.returncode == 0, worker_log.read_text()[-6000:]
    runs = instance.get_runs()
    assert len(runs) == 2 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    # both ran every step (the morning digest last), none failed (a retried lock error: STEP_UP_FOR_RETRY)
    for run in runs:
        records = instance.get_records_for_run(run.run_id).records
        kinds = [r.event_log_entry.dagster_event.event_type_value for r in records if r.event_log_entry.dagster_event]
        assert "STEP_FAILURE" not in kinds and "STEP_UP_FOR_RETRY" not in kinds, run.run_id
        assert kinds.count("STEP_SUCCESS") == 9, (run.run_id, kinds.count("STEP_SUCCESS"))
    _assert_same_marts(mart_snapshot(Path(env["CRM_DUCKDB_PATH"])), clean_marts)

    # the same moment made certain: another run's step has the warehouse open for writing when the
    # GX checks start; they wait for it (before, "Could not set lock on file" failed them)
    db = env["CRM_DUCKDB_PATH"]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR_WRITING, db],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    started = time.perf_counter()
    only_checks = dg.define_asset_job(
        "mart_checks_only", selection=dg.AssetSelection.checks(*MART_CHECKS[0].check_keys)
    )
    checks = (
        dg.Definitions(
            assets=PIPELINE_ASSETS,
            asset_checks=MART_CHECKS,
            jobs=[only_checks],
            resources={
                "warehouse": WarehouseResource(database=db, publish=env["CRM_PUBLISH_DIR"], gx=env["CRM_GX_DIR"]),
                "dbt": dbt_resource(),
            },
        )
        .resolve_job_def("mart_checks_only")
        .execute_in_process(raise_on_error=False, instance=dg.DagsterInstance.ephemeral())
    )
    holder.wait(timeout=60)
    assert checks.success, [e.message for e in checks.all_events if e.event_type_value == "STEP_FAILURE"]
    evaluations = [e.event_specific_data for e in checks.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert evaluations and all(c.passed for c in evaluations if c.severity == dg.AssetCheckSeverity.ERROR)
    assert time.perf_counter() - started > 5  # it waited for the writer


def test_a_damaged_warehouse_is_named_with_what_to_do_and_crm_repair_rebuilds_it(landing, clean_marts, tmp_path):
    env = _run_env(landing, tmp_path)
    db = Path(env["CRM_DUCKDB_PATH"])
    first = _crm(env, "run", "--as-of", AS_OF, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("select table_name, file_path, loaded_at from raw._load_log order by all").fetchall()
        first_orders = con.execute("select _source_file, _row_number, _loaded_at from raw.orders order by all").df()
    # the disk filled while the warehouse was written: the file is cut short
    os.truncate(db, db.stat().st_size // 3)

    started = time.perf_counter()
    damaged = _crm(env, "run", "--as-of", AS_OF, timeout=900)
    assert damaged.returncode != 0
    assert time.perf_counter() - started < 60  # before: 2.5 minutes of retries
    said = damaged.stdout + damaged.stderr
    assert "is damaged" in said and "`crm repair`" in said and "--from-published" in said, said[-3000:]
    assert "Traceback" not in said

    repaired = _crm(env, "repair", timeout=900)
    assert repaired.returncode == 0, repaired.stdout[-4000:] + repaired.stderr[-2000:]
    assert list(tmp_path.glob("w.duckdb.damaged-*")), "the damaged file is kept aside"
    with duckdb.connect(str(db), read_only=True) as con:
        # the same files, with the times they were first loaded (which decide what supersedes what)
        assert (
            con.execute("select table_name, file_path, loaded_at from raw._load_log order by all").fetchall() == loaded
        )
        pd.testing.assert_frame_equal(
            con.execute("select _source_file, _row_number, _loaded_at from raw.orders order by all").df(),
            first_orders,
        )
    _assert_same_marts(mart_snapshot(db), clean_marts)


def test_crm_repair_from_published_restores_the_last_published_marts(landing, tmp_path):
    env = _run_env(landing, tmp_path)
    db = Path(env["CRM_DUCKDB_PATH"])
    published = Path(env["CRM_PUBLISH_DIR"]) / "crm_marts.duckdb"
    published.parent.mkdir(parents=True)
    with duckdb.connect(str(published)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.kpi_daily as select date '2025-06-30' as kpi_date, 7 as orders")
    db.write_bytes(b"DUCK" * 1000)  # not a database
    repaired = _crm(env, "repair", "--from-published", timeout=300)
    assert repaired.returncode == 0, repaired.stdout[-4000:] + repaired.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select orders from marts.kpi_daily").fetchall() == [(7,)]
    assert [p.read_bytes() for p in tmp_path.glob("w.duckdb.damaged-*")] == [b"DUCK" * 1000]
