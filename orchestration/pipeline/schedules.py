"""The daily job and its schedule: every morning at 06:00 in the business time zone, the
previous day's partition (ingest, dbt build and checks, GX checks, publish). Before it asks for a
run, the schedule recovers from runs that died (orchestration/pipeline/recovery.py), so a crash never stops
the schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from orchestration.pipeline.assets import BUSINESS_TIMEZONE, daily_partitions
from orchestration.pipeline.recovery import recover_crashed_runs

daily_refresh = dg.define_asset_job(
    name="daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest the day's landing files, build and test every dbt model as of that day, "
    "run the GX checks, publish the marts.",
    tags={"crm/warehouse": "write"},
)


@dg.schedule(
    name="daily_refresh_schedule",
    cron_schedule="0 6 * * *",
    job=daily_refresh,
    execution_timezone=BUSINESS_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday's partition every morning at 06:00 (business time zone).",
)
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    recover_crashed_runs(context.instance, log=context.log.info)
    tick = context.scheduled_execution_time or datetime.now()
    yesterday = (tick - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=yesterday, partition_key=yesterday)
