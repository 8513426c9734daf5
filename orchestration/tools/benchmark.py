"""Benchmark: time and peak memory of each pipeline stage, median of repeats, printed as a table.

    python -m orchestration.tools.benchmark --customers 100000 --years 3 --repeat 3
    python -m orchestration.tools.benchmark --customers 1000000 --years 3 --repeat 1 --stages generate
    python -m orchestration.tools.benchmark --scale 100000,1000000 --years 3

--scale makes (or reuses, cached under --workdir) one event-heavy shop per size (one file per day,
~48 events per customer), then measures in one run: the floor (DuckDB reading every column of
every landing file once), a first load (``crm run`` of every day but the last on a fresh
warehouse: the whole backfill through the run command, landing gate, fits and publish included),
a full build (ingest + ``dbt build`` of every day but the last, on a warehouse of its own) and a
one-day refresh: the daily schedule's real job (the Dagster job ``daily_refresh`` for the last day,
as ``crm run --as-of`` runs it: ingest with the GX gate, both dbt steps, GX checks, model fits,
exports, publish) on top of the first load (as the day before's run left the shop: its fits,
contact log and published marts), with the time of each of its steps. It prints seconds,
ratios to the floor and peak memory, one table across the sizes, and the cost per million events
of the full build, the day and the first load across sizes.

Each stage runs in a fresh subprocess (so peak RSS is that stage's), on data it makes itself under
--workdir. Figures are medians over --repeat runs; machines are noisy, so compare ratios between
runs on the same machine rather than absolute seconds across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.dbt import SCHEDULED_BUILD_FLAGS, dbt_command, dbt_run_files
from orchestration.settings import PROJECT_DIR
from orchestration.sql_text import duckdb_text

STAGES = ("generate", "ingest", "dbt_build")


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc (Linux)."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


def _run(cmd: list[str], env: dict, log: Path | None = None) -> tuple[float, float]:
    """Seconds and peak RSS (MiB, the process and its children, sampled every 0.2 s) of a command;
    its output goes to ``log`` when given."""
    t0 = time.perf_counter()
    with (
        open(log or os.devnull, "w") as sink,
        subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=sink, stderr=subprocess.PIPE, text=True) as proc,
    ):
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.2)
        errors = proc.stderr.read() if proc.stderr else ""
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"benchmark step failed: {' '.join(cmd)}\n{errors[-3000:]}" + (f"\n(its output: {log})" if log else "")
        )
    return seconds, peak / 2**20


SCALE_BROWSE_PER_ORDER = 12.0  # ~48 events per customer: ~50M events at 1M customers


def read_floor(landing: Path) -> dict[str, float]:
    """Read every column of every landing file once with DuckDB (the floor no build can beat);
    returns the rows per table and, under ``_seconds``, the time the reads took (without the
    interpreter's start)."""
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    rows: dict[str, float] = {}
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        parquet, csv = list(folder.glob("*.parquet")), list(folder.glob("*.csv"))
        sources = []
        if parquet:
            sources.append(f"read_parquet({duckdb_text(f'{folder}/*.parquet')}, union_by_name = true)")
        if csv:
            sources.append(f"read_csv({duckdb_text(f'{folder}/*.csv')}, all_varchar = true, union_by_name = true)")
        total = 0
        for source in sources:
            columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall()]
            aggregates = ", ".join(f'max("{c}")' for c in columns)
            total += con.execute(f"select count(*), {aggregates} from {source}").fetchone()[0]
        rows[folder.name] = total
    rows["_seconds"] = time.perf_counter() - t0
    con.close()
    return rows


def _shop(workdir: Path, customers: int, years: int, end: date, env: dict) -> tuple[Path, dict]:
    """The cached event-heavy shop of this size (generated once, reused while its files exist)."""
    shop = workdir / f"shop-{customers}-{years}y"
    planted = shop / "_planted.json"
    if not planted.exists():
        shutil.rmtree(shop, ignore_errors=True)
        start = end - timedelta(days=365 * years - 1)
        seconds, rss = _run(
            [
                sys.executable,
                "-m",
                "orchestration.tools.generate",
                "--out",
                str(shop),
                "--customers",
                str(customers),
                "--start",
                str(start),
                "--end",
                str(end),
                "--files-per",
                "day",
                "--browse-per-order",
                str(SCALE_BROWSE_PER_ORDER),
            ],
            env,
        )
        print(f"[benchmark] generated {shop} in {seconds:.1f} s (peak RSS {rss:.0f} MiB)", flush=True)
    return shop, json.loads(planted.read_text())


def _slowest(*run_results: Path, count: int = 6) -> str:
    """The ``count`` slowest nodes of one or more dbt runs, `name seconds` (models, tests, unit tests)."""
    results = []
    for path in run_results:
        try:
            results += json.loads(path.read_text())["results"]
        except (OSError, ValueError, KeyError):
            pass
    if not results:
        return "(no run_results.json)"
    top = sorted(results, key=lambda r: r.get("execution_time") or 0, reverse=True)[:count]
    return ", ".join(f"{_node_name(r['unique_id'])} {r.get('execution_time') or 0:.1f}" for r in top)


def _node_name(unique_id: str) -> str:
    """A node's name as dbt prints it: `model.p.x` -> x, `test.p.x.<hash>` -> x (a generic test's
    id ends in a hash), `unit_test.p.model.x` -> model::x."""
    kind, _project, name, *rest = unique_id.split(".")
    return f"{name}::{rest[0]}" if kind == "unit_test" and rest else name


# the steps of the daily job, grouped as the benchmark reports them (anything else: day_publish)
JOB_PARTS = ("day_ingest", "day_dbt", "day_checks", "day_fits", "day_publish", "day_other")


def _job_part(step_key: str) -> str:
    if step_key == "landing_to_raw":
        return "day_ingest"
    if step_key.startswith("dbt_"):
        return "day_dbt"
    if step_key.endswith("quality_checks"):
        return "day_checks"
    if step_key == "model_fits":
        return "day_fits"
    return "day_publish"  # the audience exports and the published marts (and docs)


def day_parts(step_seconds: dict[str, float], wall: float) -> dict[str, float]:
    """Seconds of the daily job by part: its steps grouped by ``_job_part``, and ``day_other``, the
    rest of the wall clock (starting Python and Dagster, recovery, the summary printed at the end)."""
    parts = dict.fromkeys(JOB_PARTS, 0.0)
    for step, seconds in step_seconds.items():
        parts[_job_part(step)] += seconds
    parts["day_other"] = max(wall - sum(step_seconds.values()), 0.0)
    return parts


def last_run_steps(dagster_home: Path) -> tuple[str, dict[str, float]]:
    """The id of the last run of the Dagster instance at ``dagster_home`` and the seconds each of
    its steps took (the instance's step statistics)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            raise SystemExit(f"no Dagster run in {dagster_home}")
        run_id = runs[0].run_id
        steps = {
            s.step_key: (s.end_time or s.start_time) - s.start_time
            for s in instance.get_run_step_stats(run_id)
            if s.start_time is not None
        }
    return run_id, steps


def _full_build(rows: dict[str, list[tuple[float, float]]]) -> tuple[float, float]:
    """The last attempt's full build: its ingest and dbt seconds added, the larger of their peaks."""
    ingest, dbt = rows["full_ingest"][-1], rows["full_dbt"][-1]
    return ingest[0] + dbt[0], max(ingest[1], dbt[1])


def scale_benchmark(sizes: list[int], years: int, repeat: int, workdir: Path) -> int:
    """Floor, full build and one-day refresh per shop size; prints ratios and peaks."""
    end = date(2025, 12, 31)
    day_before = end - timedelta(days=1)
    py = sys.executable
    summary: dict[int, dict] = {}
    failed: dict[int, str] = {}
    for customers in sizes:
        work = workdir / f"scale-{customers}"
        base_env = dict(
            os.environ,
            DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        shop, planted = _shop(workdir, customers, years, end, base_env)
        rows: dict[str, list[tuple[float, float]]] = {
            k: [] for k in ("floor", "first_load", "full_ingest", "full_dbt", "full", "day", *JOB_PARTS)
        }
        for attempt in range(repeat):
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            db = work / "warehouse.duckdb"
            env = dict(
                base_env,
                CRM_DUCKDB_PATH=str(db),
                CRM_DUCKDB_TEMP_DIR=str(work / "tmp"),
                CRM_LANDING_DIR=str(shop),
                CRM_PUBLISH_DIR=str(work / "published"),
                CRM_GX_DIR=str(work / "gx"),
                DAGSTER_HOME=str(work / "dagster_home"),
            )
            first = work / "first_load"  # a fresh warehouse of its own: the whole history through the run command
            first_env = dict(
                env,
                CRM_DUCKDB_PATH=str(first / "warehouse.duckdb"),
                CRM_DUCKDB_TEMP_DIR=str(first / "tmp"),
                CRM_PUBLISH_DIR=str(first / "published"),
                CRM_GX_DIR=str(first / "gx"),
                DAGSTER_HOME=str(first / "dagster_home"),
            )
            target = ["--target-path", str(work / "target")]
            steps = {
                "floor": [
                    py,
                    "-m",
                    "orchestration.tools.benchmark",
                    "--floor",
                    str(shop),
                    "--floor-out",
                    str(work / "floor.json"),
                ],
                # a shop's first load: the whole backfill through the run command, landing gate included
                "first_load": [py, "-m", "orchestration.cli", "run", "--as-of", str(day_before)],
                "full_ingest": [
                    py,
                    "-m",
                    "orchestration.ingest.load",
                    "--landing",
                    str(shop),
                    "--database",
                    str(db),
                    "--up-to",
                    str(day_before),
                ],
                "full_dbt": dbt_command(["build", *SCHEDULED_BUILD_FLAGS, *target], {"as_of_date": str(day_before)}),
                # the daily schedule's real job for the last day, on top of the first load (a shop
                # as the day before's run left it: its fits, contact log and published marts)
                "day": [py, "-m", "orchestration.cli", "run", "--as-of", str(end)],
            }
            for step, cmd in steps.items():
                try:
                    step_env = first_env if step in ("first_load", "day") else env
                    rows[step].append(_run(cmd, step_env, work / f"{step}.log"))
                except SystemExit as failure:  # report it with what was measured, stop this size
                    failed[customers] = f"{step}: {str(failure).splitlines()[-1]}"
                    print(
                        f"[benchmark] {customers:,} customers {step} FAILED (see {work / f'{step}.log'})",
                        flush=True,
                    )
                    break
                if step == "full_dbt":  # where the build's time went
                    print(
                        f"[benchmark]   slowest: {_slowest(work / 'target' / 'run_results.json')}",
                        flush=True,
                    )
                if step == "day":  # the job's steps, and where its dbt steps' time went
                    run_id, steps = last_run_steps(first / "dagster_home")
                    for part, seconds in day_parts(steps, rows["day"][-1][0]).items():
                        rows[part].append((seconds, 0.0))  # peak RSS: the job's as a whole only
                    print(
                        "[benchmark]   steps: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()),
                        flush=True,
                    )
                    print(
                        f"[benchmark]   slowest: {_slowest(*dbt_run_files(run_id, 'run_results.json'))}",
                        flush=True,
                    )
                if step == "floor":  # the reads alone, not the interpreter's start
                    rows[step][-1] = (
                        json.loads((work / "floor.json").read_text())["_seconds"],
                        rows[step][-1][1],
                    )
                print(
                    f"[benchmark] {customers:,} customers run {attempt + 1}/{repeat} {step:<12} "
                    f"{rows[step][-1][0]:8.1f} s  peak RSS {rows[step][-1][1]:8.0f} MiB",
                    flush=True,
                )
            if customers in failed:
                break
            rows["full"].append(_full_build(rows))
        if customers in failed:  # one failed attempt: the steps of that attempt, nothing derived
            rows = {k: v for k, v in rows.items() if v and k not in ("full", "day", *JOB_PARTS)}
            if "full_dbt" in rows:
                rows["full"] = [_full_build(rows)]
        med = {k: statistics.median(s for s, _ in v) for k, v in rows.items()}
        peak = {k: max(r for _, r in v) for k, v in rows.items()}
        events = planted["rows"]["events"]
        summary[customers] = {
            "events": events,
            "median_s": med,
            "peak_rss_mib": peak,
            "failed": failed.get(customers),
        }
        for step in ("full", "day", "first_load"):
            if step in med:
                summary[customers][f"{step}_over_floor"] = med[step] / med["floor"]
                summary[customers][f"{step}_s_per_million_events"] = med[step] / (events / 1e6)
        if "day" in med and "full" in med:
            summary[customers]["day_over_full"] = med["day"] / med["full"]
            summary[customers]["day_ingest_dbt_over_full"] = (med["day_ingest"] + med["day_dbt"]) / med["full"]
        print()
        print(
            f"customers {customers:,}, {years} years, {events:,} events, {repeat} runs, "
            f"{os.cpu_count()} cores (medians)"
        )
        print(f"{'step':<14}{'median s':>10}{'x floor':>9}{'peak RSS MiB':>14}")
        for step in rows:
            shown = f"{peak[step]:>14.0f}" if peak[step] else f"{'(the job)':>14}"
            label = f"  {step[4:]}" if step in JOB_PARTS else step
            print(f"{label:<14}{med[step]:>10.1f}{med[step] / med['floor']:>9.1f}{shown}")
        if "day_over_full" in summary[customers]:
            print(
                f"one-day refresh (the whole daily job) / full build (ingest + dbt): "
                f"{summary[customers]['day_over_full']:.1%}; its ingest + dbt steps alone: "
                f"{summary[customers]['day_ingest_dbt_over_full']:.1%}",
                flush=True,
            )
        if customers in failed:
            print(f"FAILED at {failed[customers]}", flush=True)
    print_across_sizes(summary)
    (workdir / "scale_results.json").write_text(json.dumps(summary, indent=2, default=str))
    return 1 if failed else 0


SUMMARY_STEPS = {"floor": "floor", "first_load": "first load", "full": "full build", "day": "daily job"}


def print_across_sizes(summary: dict[int, dict]) -> None:
    """One table across the sizes (median seconds, x floor, peak RSS), then the cost per million
    events of the full build, the day and the first load, and its ratio to the smallest size."""
    sizes = [c for c in summary if summary[c]["median_s"]]
    if not sizes:
        return
    print()
    print(f"{'all sizes (medians)':<22}" + "".join(f"{f'{c:,} customers':>32}" for c in sizes))
    print(f"{'':<22}" + "".join(f"{'s':>10}{'x floor':>9}{'peak MiB':>13}" for _ in sizes))
    for step, label in SUMMARY_STEPS.items():
        cells = []
        for c in sizes:
            med, peak = summary[c]["median_s"], summary[c]["peak_rss_mib"]
            if step not in med:
                cells.append(f"{'-':>32}")
                continue
            cells.append(f"{med[step]:>10.1f}{med[step] / med['floor']:>9.1f}{peak.get(step, 0):>13.0f}")
        print(f"{label:<22}" + "".join(cells))
    for c in sizes:
        if "day_over_full" in summary[c]:
            print(f"{f'daily job / full build, {c:,}':<34}{summary[c]['day_over_full']:>8.1%}")
    for step in ("full", "day", "first_load"):
        key = f"{step}_s_per_million_events"
        measured = [c for c in sizes if key in summary[c]]
        if len(measured) > 1:
            base = summary[measured[0]][key]
            print(
                f"cost linearity, {SUMMARY_STEPS[step]} (s per million events): "
                + ", ".join(f"{c:,}: {summary[c][key]:.2f} ({summary[c][key] / base:.2f}x)" for c in measured)
            )


def clv_benchmark(customers: int, years: int) -> int:
    """Time the BG/NBD + Gamma-Gamma fit and the per-customer prediction (orchestration/predict)
    on customers simulated from known parameters, as the warehouse's int_clv_inputs (days)."""
    import time

    from orchestration.predict.bgnbd import BgNbdParams, GammaGammaParams
    from orchestration.predict.fit import fit_inputs, score
    from orchestration.predict.simulate import simulate_inputs

    truth = BgNbdParams(0.25, 30.0, 0.8, 2.5)
    started = time.perf_counter()
    inputs = simulate_inputs(customers, truth, GammaGammaParams(6.0, 4.0, 15000.0), 365 * years, seed=1)
    simulate_s = time.perf_counter() - started
    started = time.perf_counter()
    outcome = fit_inputs(inputs, min_repeat_customers=30, min_history=90)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    scored = score(
        outcome,
        inputs,
        {
            "expected_purchases_30d": 30,
            "expected_purchases_90d": 90,
            "expected_purchases_365d": 365,
            "expected_purchases_horizon": 3 * 365,
        },
        churn_horizon=180,
    )
    predict_s = time.perf_counter() - started
    print(f"customers {customers:,}, {years} years: simulate {simulate_s:.1f} s")
    print(f"clv fit      {fit_s:8.2f} s  ({outcome.status}: {outcome.reason})")
    print(f"  BG/NBD r, alpha, a, b = {outcome.bgnbd} (truth {truth})")
    print(f"  Gamma-Gamma p, q, gamma = {outcome.gamma_gamma}")
    print(f"clv predict  {predict_s:8.2f} s  ({len(scored):,} customers)")
    sbg_benchmark([50_000, 1_000_000])
    return 0


# subscriptions per customer in the sBG timing: twice the share of a measured 50k-customer shop
# (2,785 subscribers), so the groups are at least as full as a real shop's
SUBSCRIPTIONS_PER_CUSTOMER = 0.12


def sbg_benchmark(sizes: list[int]) -> dict[int, float]:
    """Time the sBG fits of every retention group (orchestration/predict/sbg.py ``fit_groups``) on
    subscriptions simulated for shops of these sizes (8 channels x 12 products x 3 offers, each
    also `all`: 468 groups). Returns seconds per size."""
    import time

    from orchestration.predict.sbg import fit_groups
    from orchestration.predict.simulate import simulate_subscriptions

    seconds = {}
    for customers in sizes:
        frame = simulate_subscriptions(int(customers * SUBSCRIPTIONS_PER_CUSTOMER), 1.0, 4.0, seed=customers)
        started = time.perf_counter()
        rows = fit_groups(frame, min_subscriptions=30)
        seconds[customers] = time.perf_counter() - started
        statuses = {s: sum(r["status"] == s for r in rows) for s in ("fitted", "geometric", "too_little_data")}
        print(
            f"sBG fit      {seconds[customers]:8.2f} s  ({customers:,} customers, {len(frame):,} subscriptions, "
            f"{len(rows)} groups: {statuses})"
        )
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, from {STAGES}")
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "data" / "benchmark")
    parser.add_argument("--files-per", choices=["day", "month"], default="month")
    parser.add_argument(
        "--clv",
        action="store_true",
        help="only time the CLV fit and prediction on --customers simulated customers, and the sBG fits",
    )
    parser.add_argument(
        "--sbg",
        action="store_true",
        help="only time the sBG fits of every retention group at 50k and 1M customers",
    )
    parser.add_argument(
        "--scale",
        default=None,
        metavar="N[,N...]",
        help="floor, full build and one-day refresh on cached shops of these sizes",
    )
    parser.add_argument(
        "--floor",
        type=Path,
        default=None,
        metavar="LANDING",
        help="only read every column of every file in LANDING once (the floor)",
    )
    parser.add_argument("--floor-out", type=Path, default=None, help="write the --floor result here")
    args = parser.parse_args(argv)
    if args.floor:
        floor = read_floor(args.floor)
        print(floor)
        if args.floor_out:
            args.floor_out.write_text(json.dumps(floor))
        return 0
    if args.scale:
        sizes = [int(n.replace("_", "")) for n in args.scale.split(",") if n]
        return scale_benchmark(sizes, args.years, args.repeat, args.workdir)
    if args.clv:
        return clv_benchmark(args.customers, args.years)
    if args.sbg:
        sbg_benchmark([50_000, 1_000_000])
        return 0
    stages = [s for s in args.stages.split(",") if s]
    end = date(2025, 12, 31)
    start = end - timedelta(days=365 * args.years - 1)
    py = sys.executable
    results: dict[str, list[tuple[float, float]]] = {s: [] for s in stages}
    for attempt in range(args.repeat):
        work = args.workdir / f"run{attempt}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        landing, db = work / "landing", work / "warehouse.duckdb"
        env = dict(
            os.environ,
            CRM_DUCKDB_PATH=str(db),
            CRM_DUCKDB_TEMP_DIR=str(work / "tmp"),
            DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        commands = {
            "generate": [
                py,
                "-m",
                "orchestration.tools.generate",
                "--out",
                str(landing),
                "--customers",
                str(args.customers),
                "--start",
                str(start),
                "--end",
                str(end),
                "--files-per",
                args.files_per,
            ],
            "ingest": [
                py,
                "-m",
                "orchestration.ingest.load",
                "--landing",
                str(landing),
                "--database",
                str(db),
            ],
            "dbt_build": dbt_command(
                ["build", *SCHEDULED_BUILD_FLAGS, "--target-path", str(work / "target")],
                {"as_of_date": str(end)},
            ),
        }
        if "generate" not in stages:
            _run(commands["generate"], env)
        if "ingest" not in stages and "dbt_build" in stages:
            _run(commands["ingest"], env)
        for stage in stages:
            seconds, rss = _run(commands[stage], env)
            results[stage].append((seconds, rss))
            print(
                f"[benchmark] run {attempt + 1}/{args.repeat} {stage:<10} {seconds:8.1f} s  peak RSS {rss:8.0f} MiB",
                flush=True,
            )
    print()
    print(
        f"customers {args.customers:,}, {args.years} years ({start} .. {end}), {args.repeat} runs, "
        f"{os.cpu_count()} cores"
    )
    print(f"{'stage':<12}{'median s':>10}{'min s':>9}{'max s':>9}{'peak RSS MiB':>14}")
    summary = {}
    for stage, rows in results.items():
        secs = [s for s, _ in rows]
        summary[stage] = {
            "median_s": statistics.median(secs),
            "min_s": min(secs),
            "max_s": max(secs),
            "peak_rss_mib": max(r for _, r in rows),
        }
        print(
            f"{stage:<12}{summary[stage]['median_s']:>10.1f}{min(secs):>9.1f}{max(secs):>9.1f}"
            f"{summary[stage]['peak_rss_mib']:>14.0f}"
        )
    (args.workdir / "results.json").write_text(
        json.dumps(
            {"args": vars(args) | {"workdir": str(args.workdir)}, "results": summary},
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
