"""`crm` command line: the run command of the README and its pieces.

    python -m orchestration.cli run        # sample data (if none), ingest, dbt build, summary
    python -m orchestration.cli summary    # print the summary of the current warehouse
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from orchestration.contract import (
    PROJECT_DIR,
    TABLE_COLUMNS,
    landing_dir,
    publish_dir,
    warehouse_path,
)

BUSINESS_TZ = os.environ.get("CRM_BUSINESS_TIMEZONE", "Asia/Tokyo")


def business_today() -> date:
    return datetime.now(ZoneInfo(BUSINESS_TZ)).date()


def dbt_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CRM_DUCKDB_PATH", str(warehouse_path()))
    env.setdefault("CRM_DUCKDB_TEMP_DIR", str(PROJECT_DIR / "data" / "tmp"))
    env.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR / "profiles"))
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    Path(env["CRM_DUCKDB_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
    return env


def dbt_command(args: list[str], vars_: dict | None = None) -> list[str]:
    exe = Path(sys.executable).with_name("dbt")
    cmd = [str(exe) if exe.exists() else "dbt", *args, "--project-dir", str(PROJECT_DIR)]
    if vars_:
        rendered = ", ".join(f"{k}: '{v}'" if isinstance(v, str) else f"{k}: {v}" for k, v in vars_.items())
        cmd += ["--vars", "{" + rendered + "}"]
    return cmd


def run_dbt(args: list[str], vars_: dict | None = None) -> int:
    cmd = dbt_command(args, vars_)
    print(f"[run] {' '.join(cmd)}", flush=True)
    return subprocess.call(cmd, cwd=PROJECT_DIR, env=dbt_env())


def summary(database: Path | None = None) -> str:
    database = Path(database or warehouse_path())
    con = duckdb.connect(str(database), read_only=True)
    try:
        lines = [f"Warehouse: {database}"]
        rows = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'quarantine') order by 1, 2"
        ).fetchall()
        lines.append("Marts (schema marts):")
        for schema, name in rows:
            if schema == "marts":
                n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
                lines.append(f"  {name:<28} {n:>12,} rows")
        rec = con.execute(
            "select table_name, rows_read, rows_kept, rows_quarantined, rows_superseded, rows_pending, is_reconciled "
            "from quarantine.quarantine_reconciliation order by table_name"
        ).fetchall()
        lines.append("Raw rows (read = kept + quarantined + superseded + pending):")
        for t, read, kept, quar, sup, pend, ok in rec:
            flag = "ok" if ok else "NOT RECONCILED"
            lines.append(f"  {t:<16} read {read:>10,}  kept {kept:>10,}  quarantined {quar:>7,}  "
                         f"superseded {sup:>7,}  pending {pend:>5,}  {flag}")
        total_q = sum(r[3] for r in rec)
        lines.append(f"Rows quarantined: {total_q:,} (see schema quarantine, one table per raw table, with reasons)")
    finally:
        con.close()
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.generate import generate
    from orchestration.ingest import ingest

    t0 = time.perf_counter()
    landing = landing_dir()
    if not any((landing / t).is_dir() for t in TABLE_COLUMNS):
        end = business_today() - timedelta(days=1)
        start = end - timedelta(days=args.days - 1)
        print(f"[run] no landing data in {landing}: generating sample data "
              f"({args.customers:,} customers, {start} .. {end})", flush=True)
        generate(landing, customers=args.customers, start=start, end=end, seed=args.seed)
    ingest(landing, warehouse_path())
    vars_ = {"as_of_date": args.as_of} if args.as_of else None
    code = run_dbt(["build"], vars_)
    if code != 0:
        print("[run] dbt build failed: read the errors above; `dbt retry --project-dir . --profiles-dir profiles` "
              "resumes from the failed model once fixed.", flush=True)
        return code
    print()
    print(summary())
    print(f"Published marts for BI: {publish_dir()} (after the Dagster publish step)")
    print("Open the Dagster UI:  .venv/bin/dagster dev   (then http://127.0.0.1:3000)")
    print(f"Done in {time.perf_counter() - t0:.0f}s.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm", description="CRM analytics warehouse: run and inspect.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="sample data if none, ingest, dbt build, summary")
    run.add_argument("--customers", type=int, default=3000, help="sample customers when generating (default 3000)")
    run.add_argument("--days", type=int, default=730, help="days of sample data ending yesterday (default 730)")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--as-of", default=None, help="as_of_date YYYY-MM-DD (default: today in the business time zone)")
    run.set_defaults(func=cmd_run)
    summ = sub.add_parser("summary", help="print row counts and quarantine of the warehouse")
    summ.set_defaults(func=lambda a: print(summary()) or 0)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
