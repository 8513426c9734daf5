"""Apache Spark: Spark's `raw` tables over the raw zone, gated with GX's Spark datasource, for the
`spark` dbt target (profiles/profiles.yml).

    python -m orchestration.ingest.spark load --landing data/landing     # then: dbt build --target spark
    python -m orchestration.ingest.spark export-views   # the rows of the marts built as views, as Parquet

``load`` first runs the DuckDB ingest (orchestration/ingest/load.py) into the warehouse file: the
new landing files only, kept once in the Parquet files of the raw zone beside it with their own
load time, the erasure register applied, the load log committed. Spark's ``raw.<table>`` is then an
external table over the zone's folder of that table (the zone's columns; no landing file is read
again, no rows copied; Spark skips the staged dot-files) and ``raw._load_log`` a copy of the load
log (decision 147). The landing gate runs on the rows of the zone files this load wrote (decision
148).

The local session uses the same settings as the dbt-spark `session` target: a Hive metastore
(Derby) and warehouse folder under ``$CRM_SPARK_DIR`` (default data/spark), sessions in UTC. Only
one process may hold a Derby metastore at a time: load first, then run dbt. Spark reads the zone
by its path: on a cluster the warehouse folder must be on storage the executors read. A shop's own
ingestion that writes the contract's columns as text into `raw.<table>` (plus `_source_file`,
`_row_number`, `_loaded_at`) serves the same dbt models.

Needs the `spark` extra: `./scripts/setup.sh --extra spark`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pyarrow as pa

from orchestration.contract import TABLE_COLUMNS
from orchestration.ingest.load import FileProblem, IngestReport, TableReport, raw_zone, zone_schema
from orchestration.settings import landing_dir, settings, warehouse_path
from orchestration.sql_text import spark_text


def spark_dir() -> Path:
    """The local metastore and warehouse folder (the setting `spark.warehouse_dir`)."""
    return settings().spark.warehouse_dir


def session(root: Path | None = None):
    """A SparkSession configured like the dbt-spark `spark` target, from the shop's `spark:`
    settings (a Spark Connect endpoint, else a session of its master URL)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    cluster = settings().spark
    if cluster.connect:
        return SparkSession.builder.remote(cluster.connect).getOrCreate()
    root = Path(root or spark_dir()).absolute()
    root.mkdir(parents=True, exist_ok=True)
    return (
        SparkSession.builder.master(cluster.master)
        .appName("crm-warehouse")
        .enableHiveSupport()
        .config("spark.sql.warehouse.dir", str(root / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")  # as dbt-spark sets it
        .config("spark.sql.shuffle.partitions", str(cluster.shuffle_partitions))
        .config("spark.driver.memory", cluster.driver_memory)
        .config("spark.executor.memory", cluster.executor_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.legacy.allowNonEmptyLocationInCTAS", "true")
        .getOrCreate()
    )


def _raw_columns(table: str) -> list[tuple[str, str]]:
    """(name, Spark type) of a Spark raw table: the columns of its raw zone files, in their order."""
    spark_types = {pa.string(): "string", pa.int64(): "bigint", pa.timestamp("us"): "timestamp"}
    return [(f.name, spark_types[f.type]) for f in zone_schema(TABLE_COLUMNS[table])]


# Spark's types for the DuckDB load log's columns (``raw._load_log`` on Spark is its copy)
_SPARK_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "TIMESTAMP": "timestamp"}


def forget_spark_raw_views(database: Path) -> None:
    """A warehouse file of the Spark target from before the raw zone held ``raw`` as DuckDB views
    over Spark's own raw tables: the load log's view gives way to the ingest's table (the views of
    the contract tables are replaced by the ingest itself)."""
    import duckdb

    if not database.exists():
        return
    with duckdb.connect(str(database)) as con:
        kind = con.execute(
            "select table_type from information_schema.tables where table_schema = 'raw' and table_name = '_load_log'"
        ).fetchone()
        if kind and kind[0] == "VIEW":
            con.execute("drop view raw._load_log")


def adopt_erasure_register(database: Path) -> Path | None:
    """Before the raw zone, the Spark load read the erasure register beside the settings'
    ``warehouse_path``; the ingest reads the one beside ``database`` (on Spark the DuckDB file beside
    the zone). A Spark warehouse without a register of its own gets a copy of that one, so that a
    person erased before stays erased when the landing files are loaded into the zone. Returns the
    folder copied, if any."""
    from orchestration.privacy.register import privacy_dir

    earlier, own = privacy_dir(warehouse_path()), privacy_dir(database)
    if earlier.resolve() == own.resolve() or own.exists() or not earlier.is_dir():
        return None
    shutil.copytree(earlier, own)
    return earlier


def load_landing(
    landing: Path | None = None,
    root: Path | None = None,
    up_to: date | None = None,
    gate: bool = True,
    verbose: bool = True,
    database: Path | None = None,
) -> tuple[IngestReport, dict]:
    """Load the new landing files into the raw zone of the DuckDB warehouse ``database``
    (``orchestration.ingest.load.ingest``: new files only, each with its own load time, erased
    customers' rows made anonymous), then make Spark's ``raw.<table>`` tables over the zone's files
    and ``raw._load_log`` a copy of the load log. With ``gate`` the GX landing gate runs, through
    GX's Spark datasource, on the rows of the zone files this load wrote (decision 148). Returns the
    ingest's report and {table: the gate's SuiteOutcome or None}."""
    import duckdb

    from orchestration.ingest.load import ingest

    landing = Path(landing or landing_dir())
    database = Path(database or warehouse_path())
    forget_spark_raw_views(database)
    adopt_erasure_register(database)
    zone = raw_zone(database).resolve()
    written: dict[str, list[str]] = {}  # the zone files this load wrote from landing files, per table

    def record(table: str, files: list[Path]) -> None:
        written.setdefault(table, []).extend(path.name for path in files)

    report = ingest(landing, database, up_to=up_to, on_batch=record, verbose=verbose)
    with duckdb.connect(str(database), read_only=True) as con:
        log_columns = ", ".join(
            f"{name} {_SPARK_TYPES[kind]}"
            for name, kind in con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'raw' and table_name = '_load_log' order by ordinal_position"
            ).fetchall()
        )
        log = con.execute("select * from raw._load_log order by loaded_at, table_name, file_path").fetchall()
    spark = session(root)
    t0 = time.perf_counter()
    spark.sql("create database if not exists raw")
    outcomes: dict = {}
    for table in TABLE_COLUMNS:
        folder = zone / table
        folder.mkdir(parents=True, exist_ok=True)  # no files yet: an empty table of the right columns
        # an external table: dropping it (or a managed table of an earlier release) leaves the zone as it is
        spark.sql(f"drop table if exists raw.{table}")
        columns = ", ".join(f"`{name}` {kind}" for name, kind in _raw_columns(table))
        spark.sql(f"create table raw.{table} ({columns}) using parquet location {spark_text(folder.as_uri())}")
        names = zone_file_names(folder)
        # not the files a merge of closed months made (decision 154): their rows were gated when loaded
        new_files = [(folder / name).as_uri() for name in written.get(table, []) if (folder / name).exists()]
        outcome = None
        if gate and new_files:
            from orchestration.quality.gx import gate_landing_frame_spark

            # as on DuckDB: this load's files, the rows that split into fields (not the whole history)
            frame = spark.read.schema(spark.table(f"raw.{table}").schema).parquet(*new_files)
            outcome = gate_landing_frame_spark(table, frame.where("_malformed_line is null"))
        outcomes[table] = outcome
        if verbose:
            gate_text = (
                "" if outcome is None else f", gate: {outcome.failing_rows} failing values of {outcome.rows:,} rows"
            )
            print(
                f"[spark-load {time.perf_counter() - t0:6.1f}s] raw.{table:<16} over {len(names)} "
                f"raw zone files{gate_text}",
                flush=True,
            )
    spark.createDataFrame(log, log_columns).write.mode("overwrite").format("parquet").saveAsTable("raw._load_log")
    return report, outcomes


def zone_file_names(folder: Path) -> list[str]:
    """The Parquet files Spark reads in a raw zone folder (it skips names starting with "." or "_")."""
    return sorted(p.name for p in folder.glob("*.parquet") if not p.name.startswith((".", "_")))


def replace_tables_from_duckdb(
    database: str | Path, schema: str, tables: tuple[str, ...], root: Path | None = None
) -> dict[str, int]:
    """Replace the rows of the local Spark warehouse's ``schema.<table>`` with the DuckDB
    warehouse's, cast to the Spark table's types (tables the models read but the job writes in
    Python: the fits, the contact log). The tables must exist (the dbt on-run-start hooks create
    them). Returns rows per table."""
    import duckdb
    import pandas as pd
    from pyspark.sql import functions as F

    spark = session(root)
    counts = {}
    with duckdb.connect(str(database), read_only=True) as con:
        frames = {t: con.execute(f"select * from {schema}.{t}").df() for t in tables}
    for table, df in frames.items():
        name = f"{schema}.{table}"
        target = spark.table(name)
        rows = [tuple(None if pd.isna(v) else str(v) for v in rec) for rec in df.astype(object).itertuples(index=False)]
        if not rows:
            spark.sql(f"truncate table {name}")
        else:
            source = spark.createDataFrame(rows, schema=", ".join(f"{c} string" for c in df.columns))
            source.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in target.schema]).write.insertInto(
                name, overwrite=True
            )
        counts[table] = len(rows)
    return counts


def run_spark_command(args: list[str], spark_dir: Path, gx: Path | None = None) -> str:
    """``python -m orchestration.ingest.spark <args>`` in a process of its own (its own JVM: a local
    metastore admits one process at a time, and the daily job's dbt steps are others); its output,
    or RuntimeError with the end of it."""
    import subprocess

    env = dict(os.environ, CRM_SPARK_DIR=str(spark_dir), PYSPARK_PYTHON=sys.executable)
    if gx is not None:
        env["CRM_GX_DIR"] = str(gx)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.ingest.spark", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"Spark step `{' '.join(args[:1])}` failed (exit {proc.returncode}):\n"
            f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def _report_json(report: IngestReport, outcomes: dict) -> dict:
    """A load's report as JSON: the ingest's report of each table and the gate's outcome."""
    out = {}
    for table, rep in report.tables.items():
        gate = outcomes.get(table)
        out[table] = {
            **asdict(rep),
            "gate": None
            if gate is None
            else {
                "suite": gate.suite,
                "rows": gate.rows,
                "success": gate.success,
                "docs_url": gate.docs_url,
                "failing_values": gate.failing_rows,
                "failures": [f.as_dict() for f in gate.failures],
            },
        }
    return out


def read_load_report(path: Path):
    """A load's JSON report (``load --report``) as the DuckDB load reports it: (IngestReport,
    [(table, the gate's SuiteOutcome)])."""
    from orchestration.quality.gx import Failure, SuiteOutcome

    data = json.loads(Path(path).read_text())
    report, outcomes = IngestReport(), []
    for table, r in data.items():
        fields = {k: v for k, v in r.items() if k not in ("gate", "problems")}
        report.tables[table] = TableReport(**fields, problems=[FileProblem(**p) for p in r["problems"]])
        gate = r.get("gate")
        if gate:
            failures = [
                Failure(f["expectation"], f["column"], f["unexpected_count"], f["sample"], f.get("rows") or [])
                for f in gate["failures"]
            ]
            outcomes.append(
                (table, SuiteOutcome(gate["suite"], gate["rows"], gate["success"], failures, gate["docs_url"]))
            )
    return report, outcomes


# the views the daily job's Python steps read: every mart built as a view, the staging views the
# exports' delivery reads (orchestration/activation/delivery.py) and the entries the contact log
# starts from (orchestration/activation/contact_log.py)
VIEW_DATABASES = {
    "marts": None,
    "staging": ("stg_shop__customers", "stg_shop__products"),
    "intermediate": ("int_reconstructed_entries",),
}


def views_dir(root: Path | None = None) -> Path:
    """Where ``export_views`` writes the rows of the views of a database, one folder per view."""
    return Path(root or spark_dir()) / "views"


def export_views(
    database: str = "marts", root: Path | None = None, only: tuple[str, ...] | None = None
) -> dict[str, int]:
    """Write the rows of every view of the Spark ``database`` (a mart built as a view, e.g.
    fct_sessions: decision 85) as Parquet under ``views_dir(root)/<database>/<view>``, so that
    ``read_marts_files`` reads them like the tables, without a JVM. Returns rows per view."""
    spark = session(root)
    out = views_dir(root) / database
    shutil.rmtree(out, ignore_errors=True)  # no rows of a view that is gone (or became a table)
    counts = {}
    for row in spark.sql(f"show views in {database}").collect():
        if row["isTemporary"] or (only is not None and row["viewName"] not in only):
            continue
        frame = spark.table(f"{database}.{row['viewName']}")
        frame.write.mode("overwrite").parquet(str(out / row["viewName"]))
        counts[row["viewName"]] = spark.read.parquet(str(out / row["viewName"])).count()
    return counts


def read_marts_files(root: Path | None = None) -> dict:
    """Every table of the Spark `marts` database as pandas, read from its Parquet files directly
    (no JVM: usable while, or after, another process holds the metastore), and every view of it
    that ``export_views`` wrote (a view has no files of its own: run
    ``python -m orchestration.ingest.spark export-views`` after the build, or its marts are missing)."""
    import pandas as pd

    folders = [Path(root or spark_dir()) / "warehouse" / "marts.db", views_dir(root) / "marts"]
    out = {}
    for folder in folders:
        if folder.is_dir():
            out.update({path.name: pd.read_parquet(path) for path in sorted(folder.iterdir()) if path.is_dir()})
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="crm-spark", description="Load landing files into the raw zone, read by Spark's raw tables."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser(
        "load",
        help="load new landing files into the raw zone, Spark's raw tables over it (then dbt build --target spark)",
    )
    load.add_argument("--landing", type=Path, default=None)
    load.add_argument(
        "--database", type=Path, default=None, help="the DuckDB warehouse file beside the raw zone (default: settings)"
    )
    load.add_argument(
        "--up-to",
        type=date.fromisoformat,
        default=None,
        help="only files named for this day or earlier",
    )
    load.add_argument("--no-gate", action="store_true", help="skip the GX landing gate")
    load.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write the load's report (files, rows, files not loaded) and gate results as JSON",
    )
    views = sub.add_parser(
        "export-views",
        help="write the rows of every view of a database as Parquet (read_marts_files reads them with the tables)",
    )
    views.add_argument(
        "--database", action="append", help="a database whose views to write (repeatable; default: marts, staging)"
    )
    copy = sub.add_parser("import", help="replace Spark tables' rows with a DuckDB file's (the tables the job writes)")
    copy.add_argument("--database", required=True, type=Path, help="the DuckDB file")
    copy.add_argument("--schema", required=True)
    copy.add_argument("tables", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "export-views":
        wanted = {db: None for db in args.database} if args.database else VIEW_DATABASES
        print(json.dumps({db: export_views(db, only=only) for db, only in wanted.items()}))
        return 0
    if args.command == "import":
        print(json.dumps(replace_tables_from_duckdb(args.database, args.schema, tuple(args.tables))))
        return 0
    report, outcomes = load_landing(args.landing, up_to=args.up_to, gate=not args.no_gate, database=args.database)
    if args.report:
        args.report.write_text(json.dumps(_report_json(report, outcomes), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
