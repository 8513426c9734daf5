"""``python -m orchestration.predict fit [--as-of YYYY-MM-DD] [--database PATH]``: what the Dagster
asset ``model_fits`` does, without Dagster: fit BG/NBD + Gamma-Gamma on int_clv_inputs and the sBG
retention model on fct_subscriptions; then rebuild the models that read them with
``dbt build --select tag:fitted_parameters+`` (same as_of_date)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from orchestration.predict.fit import fit_warehouse
from orchestration.predict.sbg import fit_and_store
from orchestration.settings import warehouse_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.predict")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit BG/NBD + Gamma-Gamma (int_clv_inputs) and sBG (fct_subscriptions)")
    fit.add_argument("--as-of", type=date.fromisoformat, help="as_of_date the inputs were built for (default: theirs)")
    fit.add_argument("--database", default=str(warehouse_path()), help="the DuckDB warehouse file")
    copy = sub.add_parser("copy-to-spark", help="copy the DuckDB fits tables into the local Spark warehouse")
    copy.add_argument("--database", default=str(warehouse_path()), help="the DuckDB warehouse file")
    args = parser.parse_args(argv)
    if args.command == "copy-to-spark":
        from orchestration.predict.spark_io import copy_fits_to_spark

        print(copy_fits_to_spark(args.database))
        return 0
    try:
        outcomes = fit_warehouse(args.database, args.as_of)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    retention = fit_and_store(args.database, args.as_of)
    for o in outcomes:
        params = ""
        if o.bgnbd:
            params = " r={:.4f} alpha={:.4f} a={:.4f} b={:.4f}".format(
                *o.bgnbd
            ) + " p={:.4f} q={:.4f} gamma={:.4f}".format(*o.gamma_gamma)
        print(f"{o.fit:12s} {o.status:16s} {o.seconds:6.2f}s {o.reason}{params}")
    print(
        f"{'retention':12s} {retention['fitted']} of {retention['groups']} sBG groups fitted, "
        f"{retention['geometric']} geometric (no heterogeneity), "
        f"{retention['too_little_data']} with too few subscriptions, {retention['failed']} failed"
    )
    print("next: dbt build --select tag:fitted_parameters+ (same as_of_date) to refresh the prediction marts")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
