"""`crm` command line: the run command of the README and its pieces.

python -m orchestration.cli run        # sample data (if none), then the Dagster daily job
                                       # (ingest + GX gate, dbt build, GX checks, publish)
python -m orchestration.cli summary    # print the summary of the current warehouse
python -m orchestration.cli ui         # the Dagster UI on http://127.0.0.1:3000 (read-only;
                                       # --allow-launch to launch runs from it)
python -m orchestration.cli repair     # rebuild a damaged warehouse (--from-published: restore
                                       # the last published marts)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.contract import TABLE_COLUMNS
from orchestration.dbt import dbt_env, dbt_run_files, ensure_manifest
from orchestration.ingest.load import first_partition_day
from orchestration.predict import validation
from orchestration.settings import (
    PROJECT_DIR,
    SettingsError,
    gx_dir,
    keep_days,
    landing_dir,
    publish_dir,
    settings,
    use_config,
)


def business_today() -> date:
    return datetime.now(settings().tz()).date()


def summary(database: Path | None = None) -> str:
    from orchestration.pipeline.resources import warehouse_lock, warehouse_resource

    database = Path(database or warehouse_resource().database)  # on Spark: the views over its tables
    # a run's step may be writing the file: a read-only connection waits for it (shared lock)
    with warehouse_lock(database, shared=True, timeout=600):
        try:
            return _summary(database)
        except duckdb.Error as exc:
            from orchestration.pipeline.repair import damaged_message, is_damage

            if is_damage(exc):
                return damaged_message(database, exc)
            raise


def _summary(database: Path) -> str:
    con = duckdb.connect(str(database), read_only=True)
    try:
        lines = [f"Warehouse: {database}"]
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        lines.append("Marts (schema marts):")
        for name in names:
            n = con.execute(f"select count(*) from marts.{name}").fetchone()[0]
            lines.append(f"  {name:<28} {n:>12,} rows")
        rec = con.execute(
            "select table_name, rows_read, rows_kept, rows_quarantined, rows_superseded, rows_pending, is_reconciled "
            "from quarantine.quarantine_reconciliation order by table_name"
        ).fetchall()
        lines.append("Raw rows (read = kept + quarantined + superseded + pending):")
        for t, read, kept, quar, sup, pend, ok in rec:
            flag = "ok" if ok else "NOT RECONCILED"
            lines.append(
                f"  {t:<16} read {read:>10,}  kept {kept:>10,}  quarantined {quar:>7,}  "
                f"superseded {sup:>7,}  pending {pend:>5,}  {flag}"
            )
        total_q = sum(r[3] for r in rec)
        lines.append(f"Rows quarantined: {total_q:,} (see schema quarantine, one table per raw table, with reasons)")
        lines += quarantine_alarms(con, rec)
        lines += validation.summary_lines(con)
    finally:
        con.close()
    return "\n".join(lines)


# What to change when most of a table's rows are quarantined for one reason (by its first word).
QUARANTINE_ADVICE = {
    "implausible": "if these values are real (an older shop, large quantities), set vars.earliest_valid_date, "
    "vars.max_days_after_load or vars.max_quantity in the settings file (docs/settings.md)",
    "unparseable": "the values are not in the contract's format (docs/raw-contract.md: ISO 8601 timestamps, "
    "plain decimals, whole numbers): fix the export",
    "missing": "a required value is empty: check the export's column names against docs/raw-contract.md",
    "unknown": "values outside the contract's list (docs/raw-contract.md): map them in the export",
    "negative": "amounts below zero: check the export's sign convention",
    "non-positive": "quantities of zero or less: check the export",
    "malformed": "lines with the wrong number of fields: check the export's delimiter and quoting",
    "orphan": "order lines whose order is not loaded: send the orders file too",
}


def quarantine_alarms(con: duckdb.DuckDBPyConnection, reconciliation: list[tuple]) -> list[str]:
    """One ERROR line per table whose quarantined share is above var quarantine_error_share (the
    data test assert_quarantine_share_below_error fails the build for the same tables): the share,
    the top reason and what to change."""
    from orchestration.settings import dbt_var

    limit = float(dbt_var("quarantine_error_share"))
    lines = []
    for table, read, _kept, quarantined, *_ in reconciliation:
        if not read or quarantined / read <= limit:
            continue
        reason, count = con.execute(
            f"select reject_reason, count(*) from quarantine.quarantine_{table} group by 1 order by 2 desc, 1 limit 1"
        ).fetchone()
        advice = QUARANTINE_ADVICE.get(reason.split()[0].rstrip(":"), "see docs/raw-contract.md")
        lines.append(
            f"ERROR {table}: {quarantined / read:.0%} of {read:,} rows quarantined (over "
            f"quarantine_error_share {limit:.0%}), most as '{reason}' ({count:,}); nothing was "
            f"published. What to do: {advice}."
        )
    return lines


def dagster_home() -> Path:
    """A persistent Dagster instance (setting ``dagster_home``, default data/dagster_home: runs stay
    visible in the UI), configured by orchestration/pipeline/dagster.yaml (one writer at a time).

    The instance's files are made here, one process at a time (an flock on ``.prepare.lock``):
    Dagster creates its SQLite storage on first use without a lock, and two processes starting on a
    new home at once (two `crm run`, or `crm ui`'s daemon and webserver) each stamped the schedule
    storage's version, after which every start failed with alembic's "more than one head present".
    A home broken that way before is mended (pipeline/recovery.py). The settings file is replaced
    whole (a reader never sees it half written) and only if it changed."""
    import fcntl

    home = settings().dagster_home
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".prepare.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        config = (PROJECT_DIR / "orchestration" / "pipeline" / "dagster.yaml").read_bytes()
        target = home / "dagster.yaml"
        if not target.exists() or target.read_bytes() != config:
            staged = home / "dagster.yaml.new"
            staged.write_bytes(config)
            os.replace(staged, target)
        import dagster as dg

        from orchestration.pipeline.recovery import mend_double_stamped_storage

        for path in mend_double_stamped_storage(home):
            print(f"[dagster] {path}: removed the second schema stamp of two processes started at once", flush=True)
        dg.DagsterInstance.from_config(str(home)).dispose()  # creates the storage if it is new
    return home


def dbt_failures(run_id: str) -> list[str]:
    """The models and tests that failed in the last attempt of each dbt step of a run, with dbt's
    own message (target/dagster/<run_id>/<step>[.retryN]/run_results.json)."""
    attempts = dbt_run_files(run_id, "run_results.json")
    last_by_step = {p.parent.name.split(".retry")[0]: p for p in attempts}
    lines = []
    for results in last_by_step.values():
        rows = json.loads(results.read_text()).get("results", [])
        lines += [
            f"{r['unique_id']} ({r['status']}): {' '.join(str(r.get('message') or '').split())[:400]}"
            for r in rows
            if r.get("status") in ("error", "fail")
        ]
    return lines


def _not_loaded_files(result) -> list[dict]:
    files = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            entry = materialization.metadata.get("not_loaded")
            if entry is not None and entry.value:
                files.extend(entry.value)
    return files


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.pipeline.logs import prune_run_logs
    from orchestration.progress import output_to, stage
    from orchestration.tools.generate import generate

    t0 = time.perf_counter()
    shop = settings()
    if shop.source:
        stage("settings", f"{shop.source}", t0)
    landing = landing_dir()
    yesterday = business_today() - timedelta(days=1)
    if not (shop.sources or shop.shopify_api) and not any((landing / t).is_dir() for t in TABLE_COLUMNS):
        start = yesterday - timedelta(days=args.days - 1)
        stage(
            "sample",
            f"no landing data in {landing}: generating a sample shop "
            f"({args.customers:,} customers, {start} .. {yesterday})",
            t0,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            generate(landing, customers=args.customers, start=start, end=yesterday, seed=args.seed)
        stage("sample", f"sample shop written to {landing}", t0)
    partition = args.as_of or yesterday.isoformat()
    first_day = first_partition_day()
    if partition < first_day.isoformat():
        print(
            f"[run] --as-of {partition} is before the shop's first day {first_day}: set history_start in "
            "the settings file (docs/settings.md) to the first day of the shop's history",
            file=sys.stderr,
        )
        return 2
    dagster_home()
    ensure_manifest()
    os.environ.update({k: v for k, v in dbt_env().items() if k.startswith(("CRM_", "DBT_"))})
    damaged = _damaged_warehouse()
    if damaged:
        _failure_digest(partition, [damaged])
        raise SystemExit(f"[run] {damaged}")

    log_path = settings().logs_dir / f"run-{partition}-{datetime.now():%Y%m%d-%H%M%S}.log"
    prune_run_logs(log_path.parent, keep_days())
    stage(
        "run",
        f"Dagster job daily_refresh, partition {partition} (as_of_date); detailed log: {log_path}",
        t0,
    )
    with output_to(log_path):
        import dagster as dg

        from orchestration.pipeline.definitions import defs
        from orchestration.pipeline.recovery import process_tags, recover_crashed_runs

        instance = dg.DagsterInstance.get()
        recover_crashed_runs(instance, log=lambda text: stage("recover", text, t0))
        result = defs.resolve_job_def("daily_refresh").execute_in_process(
            partition_key=partition,
            instance=instance,
            raise_on_error=False,
            tags=process_tags(),
            run_config={"loggers": {"file": {"config": {"path": str(log_path)}}}},
        )
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    failed = [c for c in checks if not c.passed]
    print()
    print(summary())
    not_loaded = _not_loaded_files(result)
    if not_loaded:
        print(f"Files NOT loaded: {len(not_loaded)}")
        for f in not_loaded:
            print(f"  {f['path']}: {f['problem']}: {f['reason']}\n    what to do: {f['what_to_do']}")
    print(f"Checks: {len(checks)} evaluated, {len(failed)} not passed")
    for check in failed:
        text = " ".join((check.description or "").split())
        print(
            f"  {check.severity.value:<5} {check.asset_key.to_user_string()} :: {check.check_name}"
            + (f": {text[:300]}" if text and check.check_name != "landing_gate" else "")
        )
    manifest_path = publish_dir() / "manifest.json"
    if result.success and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        print(
            f"Published for BI (as of {manifest['as_of_date']}): {manifest['database']} "
            f"and Parquet in {manifest['parquet_dir']}/"
        )
        if manifest.get("exports_dir"):
            exported = json.loads((Path(manifest["exports_dir"]) / "exports.json").read_text())["rows"]
            print(
                f"Audience exports for LINE / e-mail tools: {manifest['exports_dir']}/ "
                f"({sum(exported.values())} customers to contact: "
                + ", ".join(f"{a} {n}" for a, n in exported.items() if n)
                + ")"
            )
        for mart, held in manifest.get("held_back", {}).items():
            print(f"  held back: {mart} ({held['published']}): {held['reason'][:300]}")
        digest = publish_dir() / "digest" / f"digest-{partition}.html"
        if digest.exists():
            print(f"Morning digest: {digest}")
    else:
        failures = []
        for event in result.all_events:
            if event.event_type_value != "STEP_FAILURE":
                continue
            print(f"FAILED step {event.step_key}")
            if event.step_key and event.step_key.startswith(("dbt_warehouse", "dbt_predictions")):
                lines = [
                    f"dbt: {line}" for line in dbt_failures(result.run_id) or ["(no dbt result: see the detailed log)"]
                ]
            else:
                error = event.event_specific_data.error
                while error.cause is not None and "max_retries" in error.message:
                    error = error.cause
                lines = [" ".join(error.message.split())[:1500]]
            for line in lines:
                print(f"  {line}")
            failures.extend(f"{event.step_key}: {line}" for line in lines)
        failures.extend(
            f"check {c.asset_key.to_user_string()} :: {c.check_name}" for c in failed if c.severity.value == "ERROR"
        )
        print(
            "The run failed: nothing was published; BI keeps the previous marts. Fix the cause above and "
            "run again; re-executing the run from failure in the Dagster UI resumes dbt from the failed model."
        )
        _failure_digest(partition, failures)
    docs = gx_dir() / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    if docs.exists():
        print(f"GX Data Docs: {docs}")
    print(f"Detailed log (Dagster, dbt): {log_path}")
    docs_site = publish_dir() / "docs" / "index.html"
    print(
        "Dashboard: .venv/bin/crm dashboard  (http://127.0.0.1:8501)"
        + (f"   Docs: {docs_site}" if docs_site.exists() else "")
    )
    print("Dagster UI (runs, lineage, checks, schedule):  .venv/bin/crm ui")
    print(f"Done in {time.perf_counter() - t0:.0f}s.")
    return 0 if result.success else 1


def _failure_digest(partition: str, failures: list[str]) -> None:
    """Write and send the failed run's digest (orchestration/publish/digest.py); say where it went."""
    from orchestration.publish.digest import compose_failure, publish_digest

    path, sent = publish_digest(compose_failure(partition, failures))
    print(f"Failure digest: {path}" + "".join(f"\n  {line}" for line in sent))


def cmd_map(args: argparse.Namespace) -> int:
    """Map the shop's own exports (settings ``sources:``) to landing files; ``--check`` only reports."""
    from orchestration.ingest.mapping import check_report, map_sources

    shop = settings()
    if not shop.sources:
        print("[map] no sources in the settings: see docs/mapping.md", file=sys.stderr)
        return 2
    if args.source is not None and args.source not in shop.sources:
        print(f"[map] unknown source {args.source!r}; the settings name: {', '.join(shop.sources)}", file=sys.stderr)
        return 2
    reports = map_sources(landing_dir(), shop.sources, shop.business_timezone, only=args.source, write=not args.check)
    for report in reports:
        if args.check:
            print(check_report(report))
        else:
            print(
                f"[map] source {report.source}: {sum(not f.errors for f in report.files)} files mapped into "
                f"{landing_dir()}, {report.already_mapped} mapped before"
            )
            for problem in report.problems:
                print(f"[map] ERROR {problem.path}: {problem.reason}")
    return 1 if any(r.problems for r in reports) else 0


def _damaged_warehouse() -> str | None:
    """The damaged-warehouse message (orchestration/pipeline/repair.py), or None. Skipped when
    another process holds the warehouse for writing (its run's first step checks it anyway)."""
    from orchestration.pipeline.repair import warehouse_problem
    from orchestration.pipeline.resources import WarehouseLockedError, warehouse_lock, warehouse_resource

    database = warehouse_resource().database
    try:
        with warehouse_lock(database, shared=True, timeout=5):
            return warehouse_problem(database)
    except WarehouseLockedError:
        return None


def cmd_repair(args: argparse.Namespace) -> int:
    from orchestration.pipeline.repair import rebuild_raw, restore_published, warehouse_problem
    from orchestration.pipeline.resources import warehouse_lock, warehouse_resource
    from orchestration.publish.publish import PUBLISHED_DB, previous_manifest

    # the file the daily job opens and a damaged run names: on Spark the DuckDB file of the raw
    # zone's views and of the views over Spark's tables (decision 147), not warehouse_path
    warehouse = warehouse_resource()
    database = Path(warehouse.database)
    with warehouse_lock(database, shared=False, timeout=60):
        problem = warehouse_problem(database)
        if problem is None and not args.force:
            print(f"[repair] {database} opens and reads: nothing to repair (--force rebuilds it anyway).")
            return 0
        if args.from_published:
            if warehouse.target == "spark":
                print(
                    f"[repair] --from-published restores a DuckDB warehouse; on Spark {database} holds only views "
                    "(of the raw zone and of Spark's tables). Run `crm repair` without it: it rebuilds the file "
                    "from the raw zone and the load log, then runs the daily job.",
                    file=sys.stderr,
                )
                return 2
            aside = restore_published(database, publish_dir() / PUBLISHED_DB)
            print(
                f"[repair] {database} is now the last published marts (damaged file kept as {aside}). "
                "The next `crm run` loads every landing file again and rebuilds the models."
            )
            return 0
        report = rebuild_raw(database, landing_dir())
    for line in report.lines():
        print(f"[repair] {line}")
    as_of = args.as_of or (previous_manifest(publish_dir()) or {}).get("as_of_date")
    print(f"[repair] rebuilding the models: the daily job as of {as_of or 'yesterday'}", flush=True)
    return cmd_run(argparse.Namespace(as_of=as_of, customers=3000, days=730, seed=42))


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster daemon (the schedule, queued runs) and the UI (orchestration/pipeline/
    webserver.py): read-only unless --allow-launch."""
    home = dagster_home()
    ensure_manifest()
    env = dict(os.environ, **dbt_env())
    env["PATH"] = f"{Path(sys.prefix) / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    daemon = [
        str(Path(sys.prefix) / "bin" / "dagster-daemon"),
        "run",
        "-m",
        "orchestration.pipeline.definitions",
    ]
    web = [
        sys.executable,
        "-m",
        "orchestration.pipeline.webserver",
        "--port",
        str(args.port),
        "--working-directory",
        str(PROJECT_DIR),
        *(["--allow-launch"] if args.allow_launch else []),
    ]
    mode = "runs can be launched from it" if args.allow_launch else "read-only (--allow-launch to launch runs)"
    print(f"[ui] DAGSTER_HOME={home}; http://127.0.0.1:{args.port}, {mode}", flush=True)
    processes = [
        subprocess.Popen(daemon, cwd=PROJECT_DIR, env=env),
        subprocess.Popen(web, cwd=PROJECT_DIR, env=env),
    ]
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.terminate()
        for p in processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return max(p.returncode or 0 for p in processes)


def dashboard_command(port: int, headless: bool = True) -> list[str]:
    """The Streamlit command that serves dashboard/app.py on the published marts, offline."""
    exe = Path(sys.prefix) / "bin" / "streamlit"
    return [
        str(exe),
        "run",
        str(PROJECT_DIR / "dashboard" / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def cmd_dashboard(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    env.setdefault("CRM_PUBLISH_DIR", str(publish_dir()))
    cmd = dashboard_command(args.port)
    print(
        f"[dashboard] http://127.0.0.1:{args.port} on {Path(env['CRM_PUBLISH_DIR']) / 'crm_marts.duckdb'}",
        flush=True,
    )
    return subprocess.call(cmd, cwd=PROJECT_DIR, env=env)


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="SHOP_YML",
        help="the shop's settings file (docs/settings.md); default $CRM_CONFIG, else data/shop.yml",
    )
    parser = argparse.ArgumentParser(
        prog="crm", description="CRM analytics warehouse: run and inspect.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="sample data if none, ingest, dbt build, summary")
    run.add_argument(
        "--customers",
        type=int,
        default=3000,
        help="sample customers when generating (default 3000)",
    )
    run.add_argument("--days", type=int, default=730, help="days of sample data ending yesterday (default 730)")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument(
        "--as-of",
        default=None,
        help="the day to run (partition and as_of_date), YYYY-MM-DD; default yesterday in the business time zone",
    )
    run.set_defaults(func=cmd_run)
    ui = sub.add_parser("ui", parents=[common], help="the Dagster UI and daemon (read-only by default)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--allow-launch", action="store_true", help="allow launching and deleting runs from the UI")
    ui.set_defaults(func=cmd_ui)
    repair = sub.add_parser("repair", parents=[common], help="rebuild a damaged warehouse (landing files, load log)")
    repair.add_argument(
        "--from-published",
        action="store_true",
        help="instead, make the last published marts the warehouse (fast; the next run reloads)",
    )
    repair.add_argument(
        "--as-of",
        default=None,
        help="the day the rebuild runs as of (default: the last published day)",
    )
    repair.add_argument("--force", action="store_true", help="rebuild even when the warehouse reads")
    repair.set_defaults(func=cmd_repair)
    dash = sub.add_parser(
        "dashboard",
        parents=[common],
        help="start the CRM dashboard (Streamlit) on the published marts",
    )
    dash.add_argument("--port", type=int, default=8501)
    dash.set_defaults(func=cmd_dashboard)
    mapper = sub.add_parser(
        "map", parents=[common], help="map the shop's own exports (settings sources:) to landing files"
    )
    mapper.add_argument("source", nargs="?", default=None, help="one source of the settings (default: all)")
    mapper.add_argument(
        "--check",
        action="store_true",
        help="load nothing: per file, each column's fill rate, values no value map covers, sample rows",
    )
    mapper.set_defaults(func=cmd_map)
    summ = sub.add_parser("summary", parents=[common], help="print row counts and quarantine of the warehouse")
    summ.set_defaults(func=lambda a: print(summary()) or 0)
    from orchestration.privacy import erase

    era = sub.add_parser(
        "erase",
        parents=[common],
        help="erase customers on request (APPI / GDPR): personal data and ids, everywhere",
    )
    erase.add_arguments(era)
    era.set_defaults(func=erase.main)
    args = parser.parse_args(argv)
    try:
        use_config(getattr(args, "config", None))  # read and validated before any work
    except SettingsError as bad:
        print(f"[settings] {bad}", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
