"""BI compatibility: the published DuckDB file opens in the DuckDB 1.x that BI tools bundle
(Superset's duckdb-engine, the Metabase driver, Evidence) and in the project's DuckDB (1.5, decision
log 78), with the same rows. DuckDB 1.x runs in its own small venv under .tools/ (created once by this test)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import duckdb
import pytest

from orchestration.publish.publish import publish
from orchestration.settings import PROJECT_DIR

DUCKDB_1X = "1.1.3"  # the oldest 1.x still bundled by the BI drivers; reads storage v1.0.0 (64)
VENV = PROJECT_DIR / ".tools" / f"duckdb-{DUCKDB_1X}"


def duckdb_1x_python() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"duckdb=={DUCKDB_1X}",
            ],
            check=True,
            timeout=600,
        )
    return str(python)


@pytest.fixture(scope="module")
def published(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("published_compat")
    manifest = publish(warehouse.db, out, warehouse.as_of)
    return out / "crm_marts.duckdb", manifest


READER = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
names = [r[0] for r in con.execute(
    "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
out = {"version": duckdb.__version__,
       "counts": {n: con.execute(f"select count(*) from marts.{n}").fetchone()[0] for n in names},
       "revenue": float(con.execute("select sum(revenue) from marts.kpi_monthly").fetchone()[0])}
print(json.dumps(out))
"""


def test_published_file_opens_in_duckdb_1x(published):
    db, manifest = published
    proc = subprocess.run(
        [duckdb_1x_python(), "-c", READER, str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["version"] == DUCKDB_1X
    assert got["counts"] == manifest["row_counts"]
    con = duckdb.connect(str(db), read_only=True)
    assert got["revenue"] == pytest.approx(
        float(con.execute("select sum(revenue) from marts.kpi_monthly").fetchone()[0])
    )
    con.close()


def test_published_file_opens_in_the_projects_duckdb(published):
    db, manifest = published
    assert duckdb.__version__.startswith("1.5.")  # the pin of decision 78
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = {n: con.execute(f"select count(*) from marts.{n}").fetchone()[0] for n in manifest["row_counts"]}
    finally:
        con.close()
    assert counts == manifest["row_counts"] and counts["kpi_monthly"] > 0
    # the main header: magic "DUCK" at byte 8, then the storage version number; 64 is the format
    # of DuckDB 0.10 - 1.1, which every later 1.x (and 2.x) reads
    header = db.read_bytes()[:20]
    assert header[8:12] == b"DUCK"
    assert struct.unpack("<Q", header[12:20])[0] == 64
