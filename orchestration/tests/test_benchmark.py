"""The scale benchmark's pieces on a small shop: the floor reads every row of every landing file,
the event-heavy generator option adds browse-only sessions and nothing else, ingest --up-to holds
back the last day's files (what the one-day refresh then loads), and the one-day refresh is the
daily Dagster job, timed step by step."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from orchestration.ingest.load import main as ingest_main
from orchestration.tools.benchmark import (
    JOB_PARTS,
    _slowest,
    day_parts,
    read_floor,
    scale_benchmark,
)
from orchestration.tools.generate import generate


def test_floor_reads_every_planted_row(tmp_path):
    planted = generate(tmp_path / "shop", customers=300, start=date(2025, 1, 1), end=date(2025, 2, 28))
    floor = read_floor(tmp_path / "shop")
    assert floor.pop("_seconds") > 0
    assert floor == planted["rows"]


def test_browse_per_order_adds_browse_sessions_only(tmp_path):
    base = generate(tmp_path / "a", customers=300, start=date(2025, 1, 1), end=date(2025, 2, 28))
    heavy = generate(
        tmp_path / "b",
        customers=300,
        start=date(2025, 1, 1),
        end=date(2025, 2, 28),
        browse_per_order=12.0,
    )
    for table in ("orders", "order_items", "customers", "products"):
        assert heavy["rows"][table] == base["rows"][table]
    assert heavy["rows"]["events"] > 1.8 * base["rows"]["events"]


def test_ingest_up_to_leaves_the_last_day_for_the_refresh(tmp_path):
    generate(tmp_path / "shop", customers=300, start=date(2025, 1, 1), end=date(2025, 1, 31))
    db = tmp_path / "w.duckdb"
    expected_last = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path}/shop/orders/2025-01-31.parquet')"
    ).fetchall()[0][0]
    assert expected_last > 0
    common = ["--landing", str(tmp_path / "shop"), "--database", str(db)]
    assert ingest_main([*common, "--up-to", "2025-01-30"]) == 0
    with duckdb.connect(str(db)) as con:
        before = con.execute("select count(*) from raw.orders").fetchone()[0]
        assert (
            con.execute("select count(*) from raw.orders where _source_file = '2025-01-31.parquet'").fetchone()[0] == 0
        )
    assert ingest_main([*common, "--up-to", "2025-01-31"]) == 0
    with duckdb.connect(str(db)) as con:
        after = con.execute("select count(*) from raw.orders").fetchone()[0]
    assert after - before == expected_last
    assert json.loads((tmp_path / "shop" / "_planted.json").read_text())["rows"]["orders"] == after


def test_slowest_names_nodes_as_dbt_prints_them(tmp_path):
    # a generic test's unique_id ends in a hash: the name is the part before it
    results = [
        ("model.crm_warehouse.int_sessions", 21.0),
        ("test.crm_warehouse.unique_fct_sessions_session_id.6d123dfdd6", 5.6),
        ("test.crm_warehouse.assert_cpm_transitions_conserve", 0.1),
        ("unit_test.crm_warehouse.customer_offers.offers_by_hand", 2.0),
        ("seed.crm_warehouse.cpm_states", None),
    ]
    run_results = tmp_path / "run_results.json"
    run_results.write_text(
        json.dumps({"results": [{"unique_id": uid, "execution_time": seconds} for uid, seconds in results]})
    )
    assert _slowest(run_results, count=4) == (
        "int_sessions 21.0, unique_fct_sessions_session_id 5.6, "
        "customer_offers::offers_by_hand 2.0, "
        "assert_cpm_transitions_conserve 0.1"
    )
    assert _slowest(tmp_path / "missing.json") == "(no run_results.json)"


@pytest.mark.parametrize(
    "module",
    [
        "dagster._core.storage.event_log.sqlite.sqlite_event_log",
        "dagster_dbt.core.resource",
        "dbt.cli.main",
        "dbt.adapters.duckdb.impl",
        "great_expectations.data_context.data_context.abstract_data_context",
    ],
)
def test_setup_wrote_the_bytecode_of_the_packages_every_run_imports(module):
    # scripts/setup.sh syncs with --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, a
    # missing .pyc is compiled again by every process (a small shop's run: 39 s -> 50 s)
    import importlib.util
    from pathlib import Path

    source = importlib.util.find_spec(module).origin
    assert Path(importlib.util.cache_from_source(source)).exists(), (
        f"no bytecode for {source}: run ./scripts/setup.sh (uv sync --compile-bytecode)"
    )


def test_setup_without_the_spark_extra_keeps_the_one_installed():
    # ./scripts/run.sh runs setup.sh without --extra spark after ./scripts/test.sh installed it:
    # an exact sync used to uninstall pyspark, and the next test run installed it again
    import subprocess

    from orchestration.settings import PROJECT_DIR

    pyspark = PROJECT_DIR / ".venv" / "lib" / "python3.11" / "site-packages" / "pyspark"
    assert pyspark.is_dir(), "the tests run with the Spark extra (./scripts/test.sh installs it)"
    subprocess.run(["bash", "scripts/setup.sh"], cwd=PROJECT_DIR, check=True, capture_output=True)
    assert (pyspark / "__init__.py").exists()


def test_day_parts_group_the_jobs_steps_and_keep_the_rest_of_the_wall_clock():
    steps = {
        "landing_to_raw": 2.0,
        "dbt_warehouse": 100.0,
        "mart_quality_checks": 9.0,
        "model_fits": 16.0,
        "dbt_predictions": 40.0,
        "fitted_mart_quality_checks": 2.0,
        "activation__audience_exports": 0.5,
        "published_marts": 57.5,
    }
    assert day_parts(steps, wall=240.0) == {
        "day_ingest": 2.0,
        "day_dbt": 140.0,
        "day_checks": 11.0,
        "day_fits": 16.0,
        "day_publish": 58.0,
        "day_other": 13.0,
    }
    assert tuple(day_parts({}, wall=3.0)) == JOB_PARTS


def test_scale_benchmark_times_the_first_load_the_full_build_and_the_daily_job(tmp_path):
    # a tiny shop: the first load runs the job for every day but the last on a fresh warehouse, the
    # full build loads and builds them on another, the day is the real daily job for the last day
    # (ingest, both dbt steps, GX checks, fits, exports, publish) on top of the first load
    assert scale_benchmark([300], years=1, repeat=1, workdir=tmp_path) == 0
    result = json.loads((tmp_path / "scale_results.json").read_text())["300"]
    assert result["failed"] is None
    med = result["median_s"]
    assert all(med[part] > 0 for part in ("day_ingest", "day_dbt", "day_checks", "day_publish"))
    assert sum(med[part] for part in JOB_PARTS) == pytest.approx(med["day"], rel=1e-6)
    assert result["day_over_full"] == pytest.approx(med["day"] / med["full"])
    assert med["first_load"] > 0
    assert result["first_load_over_floor"] == pytest.approx(med["first_load"] / med["floor"])
    # the first load: the run command on a fresh warehouse of its own for the day before the last;
    # the day: the run command for the last day on top of it, publishing only what changed
    work = tmp_path / "scale-300" / "first_load"
    published = json.loads((work / "published" / "manifest.json").read_text())
    assert published["as_of_date"] == "2025-12-31"
    assert "unchanged" in published["rewritten"].values(), published["rewritten"]
    planted = json.loads((tmp_path / "shop-300-1y" / "_planted.json").read_text())
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        # the job loaded the last day's files: every planted order row is in raw
        assert con.execute("select count(*) from raw.orders").fetchone()[0] == planted["rows"]["orders"]
        assert con.execute("select max(as_of_date) from marts.customer_offers").fetchone()[0] == date(2025, 12, 31)
