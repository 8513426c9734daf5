"""Operating the warehouse: the Dagster UI refuses changes it should not make (read-only by
default; never a mutation from a URL), an interrupted publish's temporary files go away, DuckDB
spills where CRM_DUCKDB_TEMP_DIR says."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.test_utils import create_run_for_test

from orchestration.pipeline.resources import WarehouseResource
from orchestration.publish.publish import PUBLISHED_DB, publish, remove_stale_files
from orchestration.settings import PROJECT_DIR


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _start_ui(home: Path, port: int, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, DAGSTER_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "ui", "--port", str(port), *flags],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        assert proc.poll() is None, "crm ui ended before it served"
        try:
            status, _ = _request(f"http://127.0.0.1:{port}/server_info")
            if status == 200:
                return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise AssertionError("crm ui did not serve within 180 s")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _delete_mutation(run_id: str) -> str:
    return f'mutation {{ deletePipelineRun(runId: "{run_id}") {{ __typename }} }}'


def test_the_ui_is_read_only_by_default_and_never_takes_a_mutation_from_a_url(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = dg.DagsterInstance.from_config(str(home))
    runs = [create_run_for_test(instance, job_name="daily_refresh").run_id for _ in range(4)]

    def exists(run_id: str) -> bool:
        return dg.DagsterInstance.from_config(str(home)).has_run(run_id)

    port = _free_port()
    base = f"http://127.0.0.1:{port}/graphql"
    ui = _start_ui(home, port)
    try:
        # read-only: refused by GET (by the guard, before the webserver) and by a JSON POST
        status, _ = _request(f"{base}?{urllib.parse.urlencode({'query': _delete_mutation(runs[0])})}")
        assert status == 405
        status, body = _request(base, json.dumps({"query": _delete_mutation(runs[0])}).encode(), "application/json")
        assert status == 200 and "UnauthorizedError" in body, body
        assert exists(runs[0])
        # a query still works by GET (the UI's own links)
        status, body = _request(f"{base}?{urllib.parse.urlencode({'query': '{ version }'})}")
        assert status == 200 and '"version"' in body
    finally:
        _stop(ui)

    port = _free_port()
    base = f"http://127.0.0.1:{port}/graphql"
    ui = _start_ui(home, port, "--allow-launch")
    try:
        # a GET, and a form POST with the query in its URL (what a page of another site can send)
        status, _ = _request(f"{base}?{urllib.parse.urlencode({'query': _delete_mutation(runs[1])})}")
        assert status == 405
        status, _ = _request(
            f"{base}?{urllib.parse.urlencode({'query': _delete_mutation(runs[2])})}",
            b"x=1",
            "application/x-www-form-urlencoded",
        )
        assert status == 405
        assert exists(runs[1]) and exists(runs[2])
        # the UI's own JSON POST may change things in this mode
        status, body = _request(base, json.dumps({"query": _delete_mutation(runs[3])}).encode(), "application/json")
        assert status == 200 and "DeletePipelineRunSuccess" in body, body
        assert not exists(runs[3])
    finally:
        _stop(ui)


def _published(tmp_path: Path) -> tuple[Path, Path]:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.kpi_daily as select 1 as n")
    out = tmp_path / "published"
    publish(warehouse, out, "2025-06-30", "r1")
    return warehouse, out


def test_what_an_interrupted_publish_left_is_removed_and_the_live_files_are_kept(tmp_path):
    warehouse, out = _published(tmp_path)
    live_parquet = os.readlink(out / "parquet")
    stale = [
        out / f".{PUBLISHED_DB}.20250630T010101-abcdef.tmp",
        out / f".{PUBLISHED_DB}.20250630T010101-abcdef.tmp.wal",
        out / ".manifest.json.20250630T010101-abcdef.tmp",
        out / "docs" / ".index.html.abcdef.tmp",
    ]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    half = out / "parquet.20250630T010101-abcdef"
    half.mkdir()
    (half / "kpi_daily.parquet").write_bytes(b"half")
    (out / ".docs-target-abcdef").mkdir()

    removed = remove_stale_files(out)
    assert {p.name for p in removed} == {p.name for p in stale} | {half.name, ".docs-target-abcdef"}
    assert not any(p.exists() for p in [*stale, half, out / ".docs-target-abcdef"])
    assert os.readlink(out / "parquet") == live_parquet and (out / live_parquet / "kpi_daily.parquet").exists()
    with duckdb.connect(str(out / PUBLISHED_DB), read_only=True) as con:
        assert con.execute("select n from marts.kpi_daily").fetchall() == [(1,)]
    # and the next publish does it by itself
    (out / f".{PUBLISHED_DB}.x.tmp.wal").write_bytes(b"x")
    publish(warehouse, out, "2025-07-01", "r2")
    assert not (out / f".{PUBLISHED_DB}.x.tmp.wal").exists()


def test_the_first_step_of_a_run_removes_stale_publish_files(tmp_path):
    from orchestration.pipeline.assets import landing_to_raw
    from orchestration.tools.generate import generate

    landing = tmp_path / "landing"
    from datetime import date

    generate(landing, customers=20, start=date(2025, 6, 1), end=date(2025, 6, 3), seed=3)
    out = tmp_path / "published"
    out.mkdir()
    (out / f".{PUBLISHED_DB}.20250601T000000-aaaaaa.tmp").write_bytes(b"x" * 10)
    (out / f".{PUBLISHED_DB}.20250601T000000-aaaaaa.tmp.wal").write_bytes(b"x" * 10)
    warehouse = WarehouseResource(
        database=str(tmp_path / "w.duckdb"),
        landing=str(landing),
        publish=str(out),
        gx=str(tmp_path / "gx"),
    )
    result = dg.materialize(
        [landing_to_raw],
        resources={"warehouse": warehouse},
        partition_key="2025-06-03",
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("set_by_env", [True, False])
def test_the_job_spills_where_crm_duckdb_temp_dir_says(tmp_path, monkeypatch, set_by_env):
    spill = tmp_path / "elsewhere" / "spill"
    if set_by_env:
        monkeypatch.setenv("CRM_DUCKDB_TEMP_DIR", str(spill))
    else:
        monkeypatch.delenv("CRM_DUCKDB_TEMP_DIR", raising=False)
    warehouse = WarehouseResource(database=str(tmp_path / "data" / "w.duckdb"))
    expected = spill if set_by_env else tmp_path / "data" / "tmp"
    assert warehouse.dbt_env()["CRM_DUCKDB_TEMP_DIR"] == str(expected)
    # the publish's own DuckDB connection too
    from orchestration.publish.publish import duckdb_config

    assert duckdb_config() == ({"temp_directory": str(spill)} if set_by_env else {})
