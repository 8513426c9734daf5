"""The run's detailed log (Dagster, dbt) goes to a file; the terminal gets one line per stage.

`crm run` configures the job with the `file` logger only, so Dagster's and dbt's debug output is
in ``data/logs/run-<partition>-<time>.log`` and the summary names that file; the Dagster UI keeps
every event of every run as usual. Logs older than ``$CRM_KEEP_DAYS`` (default 30) are removed
when the next run starts (decision 106).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import dagster as dg


@dg.logger(
    config_schema={
        "path": dg.Field(str),
        "log_level": dg.Field(str, is_required=False, default_value="DEBUG"),
    },
    description="Writes the run's log to a file.",
)
def file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"crm_run_file_{init_context.run_id}")
    logger.setLevel(init_context.logger_config["log_level"])
    logger.propagate = False
    # Dagster initialises a run's loggers again for its steps; the logger of this name is the same
    # object, so a second handler would write every line of the steps twice
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


def prune_run_logs(log_dir: Path, keep_days: int, now: float | None = None) -> int:
    """Remove the run logs (``run-*.log``) of ``log_dir`` last written more than ``keep_days`` ago.
    Returns how many were removed."""
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    removed = 0
    for log in Path(log_dir).glob("run-*.log"):
        if log.stat().st_mtime < cutoff:
            log.unlink(missing_ok=True)
            removed += 1
    return removed


LOGGERS = {**dg.default_loggers(), "file": file_logger}
