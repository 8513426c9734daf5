"""The run's detailed log (Dagster, dbt) goes to a file; the terminal gets one line per stage.

`crm run` configures the job with the `file` logger only, so Dagster's and dbt's debug output is
in ``data/logs/run-<partition>-<time>.log`` and the summary names that file; the Dagster UI keeps
every event of every run as usual.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg


@dg.logger(
    config_schema={"path": dg.Field(str), "log_level": dg.Field(str, is_required=False, default_value="DEBUG")},
    description="Writes the run's log to a file.",
)
def file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"crm_run_file_{init_context.run_id}")
    logger.setLevel(init_context.logger_config["log_level"])
    logger.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


LOGGERS = {**dg.default_loggers(), "file": file_logger}
