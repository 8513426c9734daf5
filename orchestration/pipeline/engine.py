"""Where the daily job builds the warehouse (the setting `target`): the steps of
orchestration/pipeline/assets.py that depend on the engine ask the warehouse resource's engine.

- ``DuckDBEngine``: the one DuckDB file; the landing files are loaded with orchestration/ingest/load.py.
- ``SparkEngine``: Apache Spark. The landing files are loaded into the raw zone of the DuckDB file
  (as on DuckDB, without the gate), Spark's ``raw`` tables read the zone's files and the GX gate runs
  on Spark dataframes (orchestration/ingest/spark.py), dbt builds with dbt-spark. The Python steps
  (mart checks, fits, exports, contact log, publish) read Spark's tables through a DuckDB file of
  views over their Parquet files (orchestration/publish/spark.py), refreshed after each dbt step; the
  tables those steps write (the fits, the contact log) are written into that file and then into
  Spark, where the second dbt step and the log's marts read them. Every step that starts Spark does
  so in a process of its own: a local metastore (Derby) admits one process at a time, and dbt is
  another.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from orchestration.ingest.load import IngestReport


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, database: Path, landing: Path, gx: Path, spark_dir: Path | None = None):
        self.database, self.landing, self.gx = database, landing, gx

    def load_raw(self, up_to: date, on_batch) -> tuple[IngestReport, list]:
        """The landing files due by ``up_to`` into raw; ``on_batch(table, rows)`` gates each batch.
        Returns the load report and the (table, gate outcome) pairs not already given to on_batch."""
        from orchestration.ingest.load import ingest

        return ingest(self.landing, self.database, up_to=up_to, on_batch=on_batch, verbose=True), []

    def after_dbt(self) -> None:
        """After a dbt step: nothing to do, the Python steps read the DuckDB file itself."""

    def after_fits(self) -> None:
        """After the fits wrote their tables: they are in the warehouse already."""

    def rebuild_log_marts(self, as_of: str, target: Path | None = None, parse: Path | None = None) -> None:
        """dbt builds the marts that read the contact log (``target``, ``parse``: rebuild_marts)."""
        from orchestration.activation.contact_log import rebuild_marts

        rebuild_marts(self.database, as_of, target, parse)


class SparkEngine(DuckDBEngine):
    name = "spark"

    def __init__(self, database: Path, landing: Path, gx: Path, spark_dir: Path | None = None):
        super().__init__(database, landing, gx)
        self.spark_dir = Path(spark_dir)

    def _run(self, *args: str) -> str:
        from orchestration.ingest.spark import run_spark_command

        return run_spark_command(list(args), spark_dir=self.spark_dir, gx=self.gx)

    def load_raw(self, up_to: date, on_batch) -> tuple[IngestReport, list]:
        from orchestration.ingest.spark import read_load_report

        report_path = self.spark_dir / "last_load.json"
        report_path.unlink(missing_ok=True)
        out = self._run(
            "load",
            "--landing",
            str(self.landing),
            "--database",
            str(self.database),
            "--up-to",
            up_to.isoformat(),
            "--report",
            str(report_path),
        )
        print(out.rstrip(), flush=True)  # the load's lines per table, into the run's log
        self.refresh()
        return read_load_report(report_path)

    def refresh(self) -> None:
        from orchestration.publish.spark import refresh_views

        refresh_views(self.database, self.spark_dir)

    def after_dbt(self) -> None:
        self._run("export-views")
        self.refresh()

    def after_fits(self) -> None:
        from orchestration.predict.fit import FITS_SCHEMA
        from orchestration.predict.spark_io import TABLES

        self._run("import", "--database", str(self.database), "--schema", FITS_SCHEMA, *TABLES)

    def rebuild_log_marts(self, as_of: str, target: Path | None = None, parse: Path | None = None) -> None:
        from orchestration.activation.contact_log import SCHEMA, TABLES, rebuild_marts

        self._run("import", "--database", str(self.database), "--schema", SCHEMA, *TABLES)
        rebuild_marts(self.database, as_of, target, parse)  # dbt on the shop's target
        self.after_dbt()


ENGINES = {"duckdb": DuckDBEngine, "spark": SparkEngine}
