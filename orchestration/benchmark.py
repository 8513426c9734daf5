"""Benchmark: time and peak memory of each pipeline stage, median of repeats, printed as a table.

    python -m orchestration.benchmark --customers 100000 --years 3 --repeat 3
    python -m orchestration.benchmark --customers 1000000 --years 3 --repeat 1 --stages generate

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

from orchestration.cli import dbt_command
from orchestration.contract import PROJECT_DIR

STAGES = ("generate", "ingest", "dbt_build")


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc (Linux)."""
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
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


def _run(cmd: list[str], env: dict) -> tuple[float, float]:
    """Seconds and peak RSS (MiB, the process and its children, sampled every 0.2 s) of a command."""
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink, subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=sink,
                                                          stderr=subprocess.PIPE, text=True) as proc:
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.2)
        errors = proc.stderr.read() if proc.stderr else ""
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(cmd)}\n{errors[-3000:]}")
    return seconds, peak / 2**20


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
    scored = score(outcome, inputs, {"expected_purchases_30d": 30, "expected_purchases_90d": 90,
                                     "expected_purchases_365d": 365, "expected_purchases_horizon": 3 * 365})
    predict_s = time.perf_counter() - started
    print(f"customers {customers:,}, {years} years: simulate {simulate_s:.1f} s")
    print(f"clv fit      {fit_s:8.2f} s  ({outcome.status}: {outcome.reason})")
    print(f"  BG/NBD r, alpha, a, b = {outcome.bgnbd} (truth {truth})")
    print(f"  Gamma-Gamma p, q, gamma = {outcome.gamma_gamma}")
    print(f"clv predict  {predict_s:8.2f} s  ({len(scored):,} customers)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, from {STAGES}")
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / "data" / "benchmark")
    parser.add_argument("--files-per", choices=["day", "month"], default="month")
    parser.add_argument("--clv", action="store_true",
                        help="only time the CLV fit and prediction on --customers simulated customers")
    args = parser.parse_args(argv)
    if args.clv:
        return clv_benchmark(args.customers, args.years)
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
        env = dict(os.environ, CRM_DUCKDB_PATH=str(db), CRM_DUCKDB_TEMP_DIR=str(work / "tmp"),
                   DBT_PROFILES_DIR=str(PROJECT_DIR / "profiles"), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        commands = {
            "generate": [py, "-m", "orchestration.generate", "--out", str(landing), "--customers", str(args.customers),
                         "--start", str(start), "--end", str(end), "--files-per", args.files_per],
            "ingest": [py, "-m", "orchestration.ingest", "--landing", str(landing), "--database", str(db)],
            "dbt_build": dbt_command(["build", "--target-path", str(work / "target")], {"as_of_date": str(end)}),
        }
        if "generate" not in stages:
            _run(commands["generate"], env)
        if "ingest" not in stages and "dbt_build" in stages:
            _run(commands["ingest"], env)
        for stage in stages:
            seconds, rss = _run(commands[stage], env)
            results[stage].append((seconds, rss))
            print(f"[benchmark] run {attempt + 1}/{args.repeat} {stage:<10} {seconds:8.1f} s  peak RSS {rss:8.0f} MiB",
                  flush=True)
    print()
    print(f"customers {args.customers:,}, {args.years} years ({start} .. {end}), {args.repeat} runs, "
          f"{os.cpu_count()} cores")
    print(f"{'stage':<12}{'median s':>10}{'min s':>9}{'max s':>9}{'peak RSS MiB':>14}")
    summary = {}
    for stage, rows in results.items():
        secs = [s for s, _ in rows]
        summary[stage] = {"median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs),
                          "peak_rss_mib": max(r for _, r in rows)}
        print(f"{stage:<12}{summary[stage]['median_s']:>10.1f}{min(secs):>9.1f}{max(secs):>9.1f}"
              f"{summary[stage]['peak_rss_mib']:>14.0f}")
    (args.workdir / "results.json").write_text(json.dumps({"args": vars(args) | {"workdir": str(args.workdir)},
                                                           "results": summary}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
