"""Dagster resources: the DuckDB warehouse (paths and the single-writer lock) and dbt."""

from __future__ import annotations

import fcntl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from dbt.version import __version__ as dbt_core_version
from packaging import version

from orchestration.dbt import DBT_PROFILES_DIR, dbt_env, dbt_executable
from orchestration.settings import PROJECT_DIR, settings


@cache
def dbt_project() -> DbtProject:
    """The dagster-dbt project. The manifest is prepared before the code location loads
    (scripts/setup.sh runs `dbt parse`; `dagster dev` re-parses on start through prepare_if_dev);
    it is never parsed at import in production."""
    project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=DBT_PROFILES_DIR)
    project.prepare_if_dev()
    return project


# on the spark target: the DuckDB file of views over Spark's tables (orchestration/publish/spark.py)
SPARK_VIEWS_DB = "spark_tables.duckdb"


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse's lock (retried by the RetryPolicy)."""


def _lock_path(database: str | Path) -> Path:
    return Path(f"{database}.lock")


@contextmanager
def warehouse_lock(database: str | Path, shared: bool = False, timeout: float = 60.0) -> Iterator[None]:
    """The one-writer rule of DuckDB, enforced across processes: an flock on ``<database>.lock``.
    Exclusive (``shared=False``) while a step writes the warehouse; shared while a step only reads
    it (the mart checks, the audience exports, the run summary), so readers run side by side but
    never while a writer has the file open: DuckDB refuses a read-only connection to a file another
    process holds for writing ("Could not set lock on file"). Waits up to ``timeout`` seconds, then
    raises WarehouseLockedError (a step is then retried by its RetryPolicy). The lock dies with its
    process: nothing to clean up after a kill."""
    path = _lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseLockedError(
                        f"{database} is being written by another process (lock {path}, waited "
                        f"{timeout:g} s); the step is retried. The lock ends with the process that "
                        "holds it: see the Dagster UI for the run in progress."
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WarehouseResource(dg.ConfigurableResource):
    """Where the warehouse lives (``warehouse_resource()`` fills it from the shop's settings)."""

    database: str
    landing: str = ""
    publish: str = ""
    gx: str = ""
    lock_timeout_seconds: float = 300.0
    target: str = "duckdb"  # the setting `target`: duckdb or spark (orchestration/pipeline/engine.py)
    spark_dir: str = ""  # the setting `spark.warehouse_dir`, on the spark target

    @property
    def database_path(self) -> Path:
        return Path(self.database)

    @property
    def engine(self):
        """The engine the warehouse is built on (the steps that depend on it ask this)."""
        from orchestration.pipeline.engine import ENGINES

        return ENGINES[self.target](
            self.database_path, Path(self.landing), Path(self.gx), Path(self.spark_dir) if self.spark_dir else None
        )

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Held while a step writes the warehouse. Besides the Dagster pool limit (which orders the
        steps of runs of one Dagster instance), this stops any other process (another instance's
        run, `crm repair`) from opening the file at the same time."""
        with warehouse_lock(self.database, shared=False, timeout=self.lock_timeout_seconds):
            yield

    @contextmanager
    def read_lock(self) -> Iterator[None]:
        """Held while a step only reads the warehouse: other readers may read too, no writer."""
        with warehouse_lock(self.database, shared=True, timeout=self.lock_timeout_seconds):
            yield

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt so that profiles/profiles.yml points at this warehouse."""
        return dbt_env(self.database, self.publish or None)


def warehouse_resource() -> WarehouseResource:
    """The warehouse of the shop's settings (orchestration/settings.py)."""
    s = settings()
    if s.target == "spark":  # the Python steps read Spark's tables through a DuckDB file of views
        return WarehouseResource(
            database=str(s.spark.warehouse_dir / SPARK_VIEWS_DB),
            landing=str(s.landing_dir),
            publish=str(s.publish_dir),
            gx=str(s.gx_dir),
            target="spark",
            spark_dir=str(s.spark.warehouse_dir),
        )
    return WarehouseResource(
        database=str(s.warehouse_path),
        landing=str(s.landing_dir),
        publish=str(s.publish_dir),
        gx=str(s.gx_dir),
    )


class CrmDbtCliResource(DbtCliResource):
    """DbtCliResource without its preparation for metadata this project does not fetch
    (decision 105). Before each dbt command dagster-dbt runs `dbt --version` in a subprocess
    (1.4 s) and loads dbt's adapter and macros in the Dagster process (1.2 s, then 0.5 s), only to
    fetch row counts and column metadata (`fetch_row_counts()`, `fetch_column_metadata()`), which
    no asset here asks for. dagster-dbt offers no setting for either, so the two private members
    are replaced; `test_dagster` fails if dagster-dbt renames them."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.prefix) / "bin" / "dbt":
            return version.parse(dbt_core_version)  # the dbt-core of this environment
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None  # dagster-dbt then skips row counts and column metadata, which we do not fetch


def dbt_resource() -> DbtCliResource:
    """dbt from this environment (the venv may not be on PATH); profiles_dir comes from the DbtProject."""
    return CrmDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
