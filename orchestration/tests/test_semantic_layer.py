"""The metrics layer (MetricFlow) and the docs site, on a published small shop: `mf validate-configs`
passes (semantics and against the published file), `mf query` of revenue, AOV and CAC by month
equals kpi_monthly, and the static docs site is published with the exposures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestration.publish.publish import built_manifest, publish, publish_docs
from orchestration.settings import PROJECT_DIR
from orchestration.tests.conftest import dbt, docs_site_manifest, query

MF = Path(sys.prefix) / "bin" / "mf"


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("published_semantic")
    publish(warehouse.db, out, warehouse.as_of)
    # `mf` reads target/semantic_manifest.json, whose relations are named after the warehouse it was
    # parsed against: parse it against this one (another command, such as the SQLFluff lint, may
    # have left one parsed against its own file), replacing the file in one step
    parsed = tmp_path_factory.mktemp("semantic_target")
    dbt(warehouse.db, ["parse", "--quiet", "--target-path", str(parsed)])
    staged = PROJECT_DIR / "target" / f"semantic_manifest.json.{os.getpid()}"
    shutil.copy(parsed / "semantic_manifest.json", staged)
    os.replace(staged, PROJECT_DIR / "target" / "semantic_manifest.json")
    return out


def mf(args: list[str], warehouse, published: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        CRM_TARGET="published",
        CRM_PUBLISH_DIR=str(published),
        CRM_DUCKDB_PATH=str(warehouse.db),
    )
    return subprocess.run(
        [str(MF), *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_mf_validate_configs_passes_on_the_published_file(warehouse, published):
    proc = mf(["validate-configs"], warehouse, published)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Successfully validated the semantics of built manifest (ERRORS: 0" in out, out[-4000:]
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in out, out[-4000:]


def test_mf_query_revenue_aov_cac_by_month_equals_kpi_monthly(warehouse, published, tmp_path):
    csv = tmp_path / "mf.csv"
    proc = mf(
        [
            "query",
            "--metrics",
            "revenue,aov,cac",
            "--group-by",
            "metric_time__month",
            "--csv",
            str(csv),
        ],
        warehouse,
        published,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    got = pd.read_csv(csv)
    got["month_start_date"] = pd.to_datetime(got["metric_time__month"]).dt.date
    want = query(
        published / "crm_marts.duckdb",
        "select month_start_date, cast(revenue as double) as revenue, aov, cac from marts.kpi_monthly",
    )
    want["month_start_date"] = pd.to_datetime(want["month_start_date"]).dt.date
    merged = want.merge(got, on="month_start_date", how="left", suffixes=("", "_mf"), indicator=True)
    assert len(want) >= 24 and (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert merged["revenue"].sum() > 0
    for col in ["revenue", "aov", "cac"]:
        a, b = merged[col], merged[f"{col}_mf"]
        assert (a.isna() == b.isna()).all(), merged[a.isna() != b.isna()][["month_start_date", col, f"{col}_mf"]]
        pd.testing.assert_series_equal(a[a.notna()], b[a.notna()], check_names=False, rtol=1e-9)


def test_docs_site_is_published_with_the_exposures(warehouse, published):
    index = publish_docs(warehouse.db, published, warehouse.as_of)
    assert index == published / "docs" / "index.html"
    html = index.read_text()
    assert len(html) > 100_000  # the single-file site embeds manifest and catalog
    for name in ["dashboard_kpis", "audience_exports", "metricflow_time_spine", "kpi_monthly"]:
        assert name in html, name


def _compiled_sql(index: Path, model: str) -> str:
    """The compiled SQL a docs site shows for a model."""
    return docs_site_manifest(index)["nodes"][f"model.crm_warehouse.{model}"]["compiled_code"]


def test_the_docs_site_shows_the_sql_the_build_ran_without_compiling_it_again(warehouse, published, tmp_path):
    """The build's manifests hold every node's compiled SQL: the site shows that SQL and dbt does
    not compile the project again. The manifest here is compiled as of another day, so the SQL the
    site shows tells which it came from. One node's SQL missing: dbt compiles every node itself."""
    ran = tmp_path / "ran"
    dbt(warehouse.db, ["compile", "--quiet", "--target-path", str(ran)], {"as_of_date": "2001-02-03"})
    index = publish_docs(warehouse.db, published, warehouse.as_of, built=[ran / "manifest.json"])
    assert "cast('2001-02-03' as date)" in _compiled_sql(index, "customer_rfm")

    manifest = json.loads((ran / "manifest.json").read_text())
    node = manifest["nodes"]["model.crm_warehouse.kpi_daily"]
    node.update(compiled=False, compiled_code=None)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(manifest))
    index = publish_docs(warehouse.db, published, warehouse.as_of, built=[partial])
    shown = _compiled_sql(index, "customer_rfm")
    assert f"cast('{warehouse.as_of}' as date)" in shown and "2001-02-03" not in shown


def test_the_manifests_of_a_builds_commands_are_merged_node_by_node(tmp_path):
    """Each dbt command of a run compiles the nodes it ran: together they show every node."""

    def manifest(name: str, compiled: set[str], nodes=("model.p.a", "model.p.b", "test.p.t", "seed.p.s")) -> Path:
        path = tmp_path / f"{name}.json"
        body = {
            unique_id: {
                "resource_type": unique_id.split(".")[0],
                "compiled": unique_id in compiled,
                "compiled_code": f"-- {name}" if unique_id in compiled else None,
            }
            for unique_id in nodes
        }
        path.write_text(json.dumps({"nodes": body}))
        return path

    first, second = manifest("first", {"model.p.a", "test.p.t"}), manifest("second", {"model.p.b"})
    merged = built_manifest([first, second])["nodes"]
    assert {k: v["compiled_code"] for k, v in merged.items()} == {
        "model.p.a": "-- first",
        "model.p.b": "-- second",
        "test.p.t": "-- first",
        "seed.p.s": None,  # a seed has no SQL
    }
    retried = manifest("retried", {"model.p.a"})  # a newer command that compiled a again
    assert built_manifest([first, retried, second])["nodes"]["model.p.a"]["compiled_code"] == "-- retried"
    assert built_manifest([first]) is None  # model b compiled by no command
    assert built_manifest([first, manifest("other", {"model.p.b"}, ("model.p.b",))]) is None  # other projects
    assert built_manifest([]) is None
