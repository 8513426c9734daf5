"""Assets of the daily pipeline: landing files -> raw (with the GX landing gate) -> dbt -> publish.

Every asset is partitioned by business day. A partition (or a backfilled range, in one run) loads
the landing files named for its days or earlier that were not loaded yet, then builds every model
with ``as_of_date`` = the partition's (range's last) day, then publishes. Every step that opens
the warehouse sits in the ``warehouse`` pool (limit 1 in orchestration/pipeline/dagster.yaml, across runs)
and holds the warehouse's file lock (writers exclusive, readers shared), so two runs started
together (the UI, the schedule, `crm run`) take turns step by step and both finish.
"""

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.contract import TABLE_COLUMNS
from orchestration.dbt import (
    DBT_RUN_TARGETS,
    DBT_SAVED_PARSE,
    SCHEDULED_BUILD_FLAGS,
    dbt_environment,
    dbt_run_files,
    dbt_vars_arg,
    use_saved_parse,
)
from orchestration.ingest.load import first_partition_day
from orchestration.pipeline.repair import (
    damaged_message,
    is_damage,
    save_load_log,
    warehouse_problem,
)
from orchestration.pipeline.resources import WarehouseResource, dbt_project
from orchestration.pipeline.shopify import api_asset_keys
from orchestration.progress import stage
from orchestration.publish.publish import PUBLISHED_DB, publish, publish_docs, remove_stale_files
from orchestration.settings import settings

# One business time zone (the setting `business_timezone`) for the partitions, the schedule and SQL.
BUSINESS_TIMEZONE = settings().business_timezone
WAREHOUSE_POOL = "warehouse"

# From the first day of the shop's history (the setting `history_start`, else found from the data).
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=first_partition_day().isoformat(), timezone=BUSINESS_TIMEZONE
)

# a lock held by another run or a transient I/O error: wait and try again
transient_retry = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL)

RAW_KEYS = {table: dg.AssetKey(["shop", table]) for table in TABLE_COLUMNS}

# every step that writes the warehouse: one run per day (a backfilled range in one run), retried
# on a lock or a transient I/O error, one at a time in the `warehouse` pool
DAILY_WRITER = {
    "partitions_def": daily_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "retry_policy": transient_retry,
    "pool": WAREHOUSE_POOL,
}


def as_of_for(context: dg.AssetExecutionContext) -> date:
    """The partition's day, or the last day of a backfilled range run as one."""
    return date.fromisoformat(context.partition_key_range.end)


# ---- landing -> raw ------------------------------------------------------------------------------


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            group_name="raw",
            kinds={"duckdb", "parquet"},
            description=f"raw.{table}: landing files of `{table}/` kept as text in the raw zone (one Parquet file and one "
            "load-log row per file), read as a view.",
            deps=[k for k in api_asset_keys() if k.path[-1] == table],  # pulled first where configured
        )
        for table, key in RAW_KEYS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "landing_gate",
            asset=key,
            description="GX gate on each landing batch before it is loaded (as queries on DuckDB, or on Spark's "
            "dataframes when the shop builds on Spark): columns, keys, "
            "timestamps parseable, amounts >= 0, quantities > 0, known status / event types. "
            "Failing rows are quarantined downstream with their reason.",
        )
        for key in RAW_KEYS.values()
    ],
    **DAILY_WRITER,
    can_subset=False,
)
def landing_to_raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from orchestration.quality.gx import gate_landing_files, one_docs_build

    up_to = as_of_for(context)
    outcomes: dict[str, list] = {t: [] for t in TABLE_COLUMNS}

    def gate(table: str, files: list[Path]) -> None:
        outcomes[table].append(gate_landing_files(table, files, Path(warehouse.gx)))

    with warehouse.write_lock(), one_docs_build(Path(warehouse.gx)):
        # what an interrupted publish left behind is removed before it can fill the disk again
        remove_stale_files(Path(warehouse.publish))
        problem = warehouse_problem(warehouse.database_path)
        if problem:  # no retry can read a damaged file: fail at once with what to do
            raise dg.Failure(description=problem, allow_retries=False)
        try:
            report, gated = warehouse.engine.load_raw(up_to, on_batch=gate)
        except Exception as exc:
            if is_damage(exc):
                raise dg.Failure(
                    description=damaged_message(warehouse.database_path, exc), allow_retries=False
                ) from exc
            raise
        save_load_log(warehouse.database_path)  # what `crm repair` rebuilds from
    for table, outcome in gated:  # gated where the rows were loaded (on Spark: Spark's dataframes)
        outcomes[table].append(outcome)

    for table, key in RAW_KEYS.items():
        rep = report.tables[table]
        not_loaded = [
            {"path": p.path, "problem": p.kind, "reason": p.reason, "what_to_do": p.what_to_do} for p in rep.problems
        ]
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "files_loaded": rep.files_new,
                "rows_loaded": rep.rows_loaded,
                "malformed_lines": rep.malformed_lines,
                "files_already_loaded": rep.files_skipped,
                "files_not_loaded": len(not_loaded),
                "not_loaded": dg.MetadataValue.json(not_loaded),
                "folder_missing": rep.missing_folder,
                "loaded_up_to": str(up_to),
            },
        )
        batches = outcomes[table]
        failing = sum(o.failing_rows for o in batches)
        metadata = {
            "batches": len(batches),
            "rows_checked": sum(o.rows for o in batches),
            "failing_values": failing,
            "malformed_lines": rep.malformed_lines,
            "files_not_loaded": dg.MetadataValue.json(not_loaded),
        }
        for outcome in batches:
            metadata.update(outcome.metadata())
        if rep.problems:
            # a file that cannot be read, or that changed after it was loaded: an error on every run
            # until the file is fixed or removed; the table's other files load and publish
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="landing_gate",
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=" ".join(p.line() for p in rep.problems)[:4000],
                metadata=metadata,
            )
        else:
            bad = failing + rep.malformed_lines
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="landing_gate",
                passed=bad == 0,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    "No new landing file, nothing to check: a file loaded before was checked by the run that loaded it."
                    if not rep.files_new
                    else "All rows follow the contract."
                    if bad == 0
                    else f"{failing} values break the contract and {rep.malformed_lines} CSV lines are "
                    "malformed; those rows are quarantined with their reason."
                ),
                metadata=metadata,
            )


# ---- dbt -----------------------------------------------------------------------------------------


class CrmDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (staging, quarantine, intermediate, marts_<area>) for the UI."""

    def get_group_name(self, dbt_resource_props) -> str | None:
        path = Path(dbt_resource_props.get("original_file_path", ""))
        parts = path.parts
        if dbt_resource_props.get("resource_type") == "seed":
            return "seeds"
        if len(parts) >= 3 and parts[1] == "marts":
            return f"marts_{parts[2]}"
        if len(parts) >= 2 and parts[0] == "models":
            return parts[1]
        return super().get_group_name(dbt_resource_props)


dbt_translator = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


# The dbt project is built in two steps around the Python model fits: everything the fits read
# (int_clv_inputs, fct_subscriptions) and everything else first, then the fits, then the models
# that read the fitted parameters (`tag:fitted_parameters+`: the prediction marts, dim_customers,
# the 定期 projections). Tests run with dbt's `buildable` indirect selection, so a test whose
# parents span both steps (fct_orders -> dim_customers) waits for the second step.
FITTED = "tag:fitted_parameters+"
INDIRECT_SELECTION = "buildable"


def _dbt_target_path(run_id: str, step: str, attempt: int = 0) -> Path:
    """dbt's target folder for one attempt of one dbt step of a run (each attempt keeps its own
    run_results.json, which the next attempt resumes from)."""
    return DBT_RUN_TARGETS / run_id / (step if attempt == 0 else f"{step}.retry{attempt}")


def run_parse(run_id: str) -> Path | None:
    """dbt's saved parse from the latest dbt command of this run, or None. The run's dbt commands
    share their vars (as_of_date), profile and files, so a later one re-parses only what changed
    (about 4 s instead of 7.5 s per command). dagster-dbt would copy the project's own parse, saved
    with other vars (`dbt parse` at set-up), which dbt discards for a full parse; it copies it only
    into a target folder that has none (decision 103)."""
    saved = dbt_run_files(run_id, DBT_SAVED_PARSE)
    return saved[-1] if saved else None


def _resumable_run(context: dg.AssetExecutionContext, step: str) -> Path | None:
    """The dbt target folder of the attempt to resume: the previous attempt of this step (a step
    retry) or the last attempt of this step in the run this one re-executes (re-execution from
    failure), if it left a run_results.json with failed, errored or skipped nodes."""
    candidates = []
    if context.retry_number > 0:
        candidates.append(_dbt_target_path(context.run.run_id, step, context.retry_number - 1))
    if context.run.parent_run_id:
        attempts = sorted(
            (DBT_RUN_TARGETS / context.run.parent_run_id).glob(f"{step}*"),
            key=lambda p: p.stat().st_mtime,
        )
        candidates.extend(reversed(attempts[-1:]))
    for path in candidates:
        results = path / "run_results.json"
        if results.exists():
            statuses = {r.get("status") for r in json.loads(results.read_text()).get("results", [])}
            if statuses & {"error", "fail", "skipped"}:
                return path
    return None


def _failed_tests(attempt: Path) -> list[str]:
    """The data tests that failed (not errored) in a dbt attempt's run_results.json."""
    results = json.loads((attempt / "run_results.json").read_text()).get("results", [])
    return [
        r["unique_id"].split(".")[-1]
        for r in results
        if r.get("status") == "fail" and r["unique_id"].startswith("test.")
    ]


# Resuming: `dbt retry` cannot be used under dagster-dbt, which adds the asset selection
# (`--select fqn:*`) to every command and `dbt retry` takes no --select. The same effect with
# state selection: build again, leaving out every node the previous attempt finished well.
RESUME_EXCLUDE = "result:success result:pass result:warn"


if not dbt_project().manifest_path.exists():
    raise FileNotFoundError(
        f"{dbt_project().manifest_path} is missing: prepare the dbt manifest before loading the code "
        "location (`./scripts/setup.sh` runs `dbt parse`; or `dbt parse --profiles-dir profiles`)."
    )


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, step: str):
    """`dbt build` of this step's models as of the partition's day; dbt tests are asset checks.
    A step retry or a re-execution from failure resumes from the failed model."""
    # dagster-dbt overrides DBT_INDIRECT_SELECTION for subsets
    with dbt_environment({**warehouse.dbt_env(), "DBT_INDIRECT_SELECTION": INDIRECT_SELECTION}):
        yield from _dbt_build_in_env(context, dbt, warehouse, step)


def _dbt_build_in_env(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, step: str):
    as_of = as_of_for(context).isoformat()
    previous = _resumable_run(context, step)
    failed_tests = _failed_tests(previous) if previous is not None else []
    if failed_tests and context.retry_number > 0:
        # A data test that failed fails again on the same data, and a resumed build would leave it
        # out (dbt's state selection drops a test whose models finished), publishing past it.
        raise dg.Failure(
            description="dbt data tests failed (ERROR): "
            + ", ".join(failed_tests)
            + ". Nothing is published; see the run summary for what to change.",
            allow_retries=False,
        )
    if failed_tests:  # a re-execution after the data or settings changed: build everything again
        previous = None
    args = ["build", *SCHEDULED_BUILD_FLAGS, *dbt_vars_arg(as_of_date=as_of)]
    if previous is not None:
        context.log.info(f"Resuming the failed dbt build of {previous}: nodes that finished are left out.")
        args += ["--state", str(previous), "--exclude", RESUME_EXCLUDE]
    started = last_report = time.perf_counter()
    target = _dbt_target_path(context.run.run_id, step, context.retry_number)
    label = {"dbt_warehouse": "dbt build", "dbt_predictions": "dbt build of the fitted models"}[step]
    stage(
        "dbt",
        f"{label} as of {as_of}" + (" (resuming: finished nodes left out)" if previous else ""),
        started,
    )
    done, ok = 0, False
    if previous is not None:
        # the models the earlier attempt built are part of this run's result too (yielded first:
        # they are upstream of, or beside, everything the resume rebuilds)
        for key in _built_by(previous):
            if key in context.selected_asset_keys:
                yield dg.Output(
                    None,
                    output_name=context.assets_def.get_output_name_for_asset_key(key),
                    metadata={"built_by": f"earlier attempt {previous.name}"},
                )
    use_saved_parse(run_parse(context.run.run_id), target)
    with warehouse.write_lock():
        invocation = dbt.cli(args, context=context, target_path=target)
        try:
            for event in invocation.stream():
                done += 1
                if time.perf_counter() - last_report >= 15:
                    stage("dbt", f"{done} results so far", started)
                    last_report = time.perf_counter()
                yield event
            warehouse.engine.after_dbt()
            ok = True
        finally:
            stage("dbt", _dbt_outcome(target) + ("" if ok else " FAILED: see the summary"), started)
    _prune_dbt_targets(keep=10)


_DBT_STEP = {
    "manifest": dbt_project().manifest_path,
    "project": dbt_project(),
    "dagster_dbt_translator": dbt_translator,
    **DAILY_WRITER,
    "retry_policy": dg.RetryPolicy(max_retries=1, delay=5),  # then resume from the failed model
}


MANIFEST_NODES = json.loads(dbt_project().manifest_path.read_text())["nodes"]


@dbt_assets(name="dbt_warehouse", exclude=FITTED, **_DBT_STEP)
def dbt_warehouse(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of every model that does not read fitted parameters, as of the partition's day."""
    yield from _dbt_build(context, dbt, warehouse, "dbt_warehouse")


@dbt_assets(name="dbt_predictions", select=FITTED, **_DBT_STEP)
def dbt_predictions(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """`dbt build` of the models that read the fitted parameters (`tag:fitted_parameters+`)."""
    yield from _dbt_build(context, dbt, warehouse, "dbt_predictions")


def _built_by(attempt: Path) -> list[dg.AssetKey]:
    """The asset keys of the models and seeds an attempt built, in the order dbt finished them
    (a topological order: a node starts only once its parents are done)."""
    rows = json.loads((attempt / "run_results.json").read_text()).get("results", [])
    return [
        dbt_translator.get_asset_key(MANIFEST_NODES[r["unique_id"]])
        for r in rows
        if r.get("status") == "success"
        and r.get("unique_id") in MANIFEST_NODES
        and MANIFEST_NODES[r["unique_id"]].get("resource_type") in ("model", "seed")
    ]


def _dbt_outcome(target: Path) -> str:
    """``207 nodes: 206 pass, 1 warn`` from a dbt target folder's run_results.json."""
    results = target / "run_results.json"
    if not results.exists():
        return "no dbt results"
    statuses: dict[str, int] = {}
    for row in json.loads(results.read_text()).get("results", []):
        status = {"success": "pass"}.get(row.get("status"), row.get("status"))
        statuses[status] = statuses.get(status, 0) + 1
    return f"{sum(statuses.values())} nodes: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


def _prune_dbt_targets(keep: int) -> None:
    """Keep the dbt target folders of the last ``keep`` runs (what `dbt retry` may need)."""
    runs = sorted(DBT_RUN_TARGETS.glob("*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---- model fits (between the two dbt steps) ---------------------------------------------------


def _model_key(name: str) -> dg.AssetKey:
    return dbt_translator.get_asset_key(
        next(n for n in MANIFEST_NODES.values() if n.get("resource_type") == "model" and n["name"] == name)
    )


# the tables of the dbt source `model_fits` (macros/model_fits.sql), keyed as the source declares
FIT_KEYS = {table: dg.AssetKey(["model_fits", table]) for table in ("clv_fits", "clv_scores", "retention_fits")}


@dg.multi_asset(
    name="model_fits",
    specs=[
        dg.AssetSpec(
            FIT_KEYS[table],
            deps=[_model_key(reads)],
            group_name="model_fits",
            kinds={"python", "duckdb"},
            description=text,
        )
        for table, reads, text in (
            (
                "clv_fits",
                "int_clv_inputs",
                (
                    "BG/NBD + Gamma-Gamma fitted by maximum likelihood "
                    "(orchestration/predict/fit.py): `full` on data to as_of, `calibration` on data to as_of - holdout."
                ),
            ),
            (
                "clv_scores",
                "int_clv_inputs",
                "Per-customer P(alive), expected purchases and order value of each fitted model.",
            ),
            (
                "retention_fits",
                "fct_subscriptions",
                (
                    "Shifted-beta-geometric retention per channel x product x "
                    "offer (orchestration/predict/sbg.py), for the 定期 projections."
                ),
            ),
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "clv_fit_converged",
            asset=FIT_KEYS["clv_fits"],
            description="ERROR when a BG/NBD or Gamma-Gamma fit failed: its prediction marts are "
            "not published (BI keeps the previous ones), every other mart is.",
        ),
        dg.AssetCheckSpec(
            "retention_fits_converged",
            asset=FIT_KEYS["retention_fits"],
            description="WARN when an sBG group fit failed: that group's projections stay null.",
        ),
    ],
    **DAILY_WRITER,
    can_subset=False,
)
def model_fits(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Fit the customer models on the first dbt step's output and write their parameters and
    scores for the second. A fit that cannot be made says so in its status; it never fails the run."""
    from orchestration.predict import sbg
    from orchestration.predict.fit import fit_warehouse, held_back_marts

    as_of = as_of_for(context)
    started = time.perf_counter()
    with warehouse.write_lock():
        clv = fit_warehouse(warehouse.database_path, as_of)
        retention = sbg.fit_and_store(warehouse.database_path, as_of)
        warehouse.engine.after_fits()
    stage(
        "fit",
        "; ".join(f"{o.fit} {o.status}" for o in clv)
        + f"; 定期 retention: {retention['fitted']} of {retention['groups']} groups fitted",
        started,
    )
    fits = [
        {
            "fit": o.fit,
            "status": o.status,
            "reason": o.reason,
            "customers": o.count_customers,
            "repeat_customers": o.count_repeat_customers,
            "seconds": round(o.seconds, 2),
            **(dict(zip(("r", "alpha", "a", "b"), o.bgnbd, strict=True)) if o.bgnbd else {}),
            **(dict(zip(("p", "q", "gamma"), o.gamma_gamma, strict=True)) if o.gamma_gamma else {}),
        }
        for o in clv
    ]
    yield dg.MaterializeResult(
        asset_key=FIT_KEYS["clv_fits"],
        metadata={
            "as_of_date": str(as_of),
            "fits": dg.MetadataValue.json(fits),
            **{f"{o.fit}_status": o.status for o in clv},
        },
    )
    yield dg.MaterializeResult(
        asset_key=FIT_KEYS["clv_scores"],
        metadata={"customers_scored": sum(len(o.scores) for o in clv if o.scores is not None)},
    )
    yield dg.MaterializeResult(asset_key=FIT_KEYS["retention_fits"], metadata=retention)
    failed = [o for o in clv if o.status == "failed"]
    yield dg.AssetCheckResult(
        asset_key=FIT_KEYS["clv_fits"],
        check_name="clv_fit_converged",
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            " ".join(f"The {o.fit} fit failed: {o.reason}." for o in failed)
            + f" Not published today: {', '.join(held_back_marts([(o.fit, o.reason) for o in failed]))}; "
            "BI keeps the previous ones, every other mart is published."
            if failed
            else "; ".join(f"{o.fit}: {o.status} ({o.reason})" for o in clv)
        ),
        metadata={"fits": dg.MetadataValue.json(fits)},
    )
    yield dg.AssetCheckResult(
        asset_key=FIT_KEYS["retention_fits"],
        check_name="retention_fits_converged",
        passed=retention["failed"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{retention['fitted']} fitted, {retention['geometric']} geometric (no heterogeneity), "
        f"{retention['too_little_data']} with too few subscriptions, "
        f"{retention['failed']} failed (their projections stay null).",
        metadata=retention,
    )


# ---- audience exports (One-to-One activation) ---------------------------------------------------


def exports_staging(warehouse: WarehouseResource, as_of: str) -> Path:
    """Where `audience_exports` writes the day's files for `published_marts` to publish."""
    return Path(warehouse.publish) / ".exports-staging" / as_of


@dg.asset(
    name="audience_exports",
    key_prefix=["activation"],
    deps=[_model_key("customer_audiences")],
    group_name="activation",
    kinds={"csv", "parquet"},
    **DAILY_WRITER,
    check_specs=[
        dg.AssetCheckSpec(
            "exports_respect_consent",
            asset=dg.AssetKey(["activation", "audience_exports"]),
            blocking=True,
            description="ERROR (blocks publishing) when an export would carry a guest, a customer without "
            "consent for its channel, a held-out customer or a column that is not allowed.",
        )
    ],
)
def audience_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """The day's audience files for LINE / e-mail tools (orchestration/activation/exports.py), staged for
    `published_marts`, which publishes them with the marts. The day's entries are appended to the
    contact log (activation/contact_log.py), delivered where the shop's settings say
    (activation/delivery.py), and the marts that read the log are built again."""
    from orchestration.activation.contact_log import log_day
    from orchestration.activation.delivery import deliver
    from orchestration.activation.exports import audit_exports, write_exports

    as_of = as_of_for(context).isoformat()
    started = time.perf_counter()
    out = exports_staging(warehouse, as_of)
    shutil.rmtree(out, ignore_errors=True)
    delivered = None
    with warehouse.write_lock():  # the log is appended: no other run's step may use the file meanwhile
        counts = write_exports(warehouse.database_path, out, as_of)
        problems = audit_exports(warehouse.database_path, out)
        if not problems:
            logged = log_day(warehouse.database_path, as_of)
            context.log.info(logged.line())
            delivered = deliver(warehouse.database_path, as_of, settings())
            for line in delivered.lines():
                context.log.info(line)
            run_id = context.run.run_id  # dbt in the run's own folder, from the run's parse
            warehouse.engine.rebuild_log_marts(as_of, _dbt_target_path(run_id, "contact_log_marts"), run_parse(run_id))
    stage(
        "exports",
        f"{sum(counts.values())} customers to contact in {sum(1 for n in counts.values() if n)} channel files"
        + (f"; {len(problems)} problems: not published, not logged, not sent" if problems else "")
        + (f"; {delivered.summary()}" if delivered else ""),
        started,
    )
    yield dg.MaterializeResult(
        metadata={
            "staged_in": dg.MetadataValue.path(str(out)),
            "rows": dg.MetadataValue.json(counts),
            "delivery": dg.MetadataValue.json(delivered.counts if delivered else {}),
        }
    )
    yield dg.AssetCheckResult(
        check_name="exports_respect_consent",
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=" ".join(problems)[:4000]
        if problems
        else "Every row is a known customer's entry with consent for its channel; no other columns.",
        metadata={"problems": len(problems)},
    )


# ---- publish -------------------------------------------------------------------------------------

MART_NODES = {
    node["name"]: node
    for node in MANIFEST_NODES.values()
    if node.get("resource_type") == "model" and node.get("schema") == "marts"
}
MART_KEYS = {name: dbt_translator.get_asset_key(node) for name, node in MART_NODES.items()}


@dg.asset(
    # the quarantine's reconciliation too: its blocking checks (every row accounted for, no table
    # mostly quarantined) hold publishing back like the marts' own
    deps=[*MART_KEYS.values(), _model_key("quarantine_reconciliation"), audience_exports],
    group_name="publish",
    kinds={"duckdb", "parquet"},
    **DAILY_WRITER,
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The marts for BI: a read-only DuckDB file and Parquet per mart, swapped in atomically. Runs
    only when every blocking check of the marts passed; otherwise BI keeps the previous marts. The
    marts of a failed model fit are held back (their previous version stays published)."""
    from orchestration.predict.fit import failed_fit_marts

    started = time.perf_counter()
    with warehouse.write_lock():
        as_of = as_of_for(context).isoformat()
        staged = exports_staging(warehouse, as_of)
        manifest = publish(
            warehouse.database_path,
            Path(warehouse.publish),
            as_of,
            context.run.run_id,
            hold_back=failed_fit_marts(warehouse.database_path),
            exports_dir=staged if staged.exists() else None,
        )
        docs = None
        if os.environ.get("CRM_PUBLISH_DOCS", "1") != "0":  # the dbt docs site, ~30 s on 2 cores
            with dbt_environment(warehouse.dbt_env()):
                docs = publish_docs(
                    warehouse.database_path,
                    Path(warehouse.publish),
                    manifest["as_of_date"],
                    parse=run_parse(context.run.run_id),
                    built=dbt_run_files(context.run.run_id, "manifest.json"),
                )
        # earlier days' staged exports are published (this day's stay for a re-run of this step)
        for day in staged.parent.glob("*"):
            if day != staged:
                shutil.rmtree(day, ignore_errors=True)
    stage(
        "publish",
        f"{len(manifest['row_counts'])} marts published for BI as of {manifest['as_of_date']}"
        + (", docs site built" if docs else "")
        + (f"; held back: {', '.join(manifest['held_back'])}" if manifest["held_back"] else ""),
        started,
    )
    return dg.MaterializeResult(
        metadata={
            "database": dg.MetadataValue.path(manifest["database"]),
            "parquet": dg.MetadataValue.path(manifest["parquet_dir"]),
            "docs": dg.MetadataValue.path(str(docs)) if docs else "not generated (CRM_PUBLISH_DOCS=0)",
            "as_of_date": manifest["as_of_date"],
            "marts": len(manifest["row_counts"]),
            "rows": sum(manifest["row_counts"].values()),
            "row_counts": dg.MetadataValue.json(manifest["row_counts"]),
            "held_back": dg.MetadataValue.json(manifest["held_back"]),
        }
    )


@dg.asset(
    deps=[published_marts],
    group_name="publish",
    kinds={"html"},
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def morning_digest(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The morning digest of the published day (orchestration/publish/digest.py): written into the
    published folder and sent as configured. A delivery that fails is reported, never fails the run."""
    from orchestration.publish.digest import compose, publish_digest

    as_of = as_of_for(context).isoformat()
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        check = record.event_log_entry.dagster_event.event_specific_data
        if not check.passed:
            failed.append(f"{check.severity.value} {check.asset_key.to_user_string()} :: {check.check_name}")
    published = Path(warehouse.publish)
    path, sent = publish_digest(compose(published / PUBLISHED_DB, as_of, failed), published)
    for line in sent:
        (context.log.warning if "NOT" in line else context.log.info)(line)
    return dg.MaterializeResult(metadata={"digest": dg.MetadataValue.path(str(path)), "sent": sent})


# in the order a run executes them (Dagster orders them by their dependencies anyway)
PIPELINE_ASSETS = [
    landing_to_raw,
    dbt_warehouse,
    model_fits,
    dbt_predictions,
    audience_exports,
    published_marts,
    morning_digest,
]
