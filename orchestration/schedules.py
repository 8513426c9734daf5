"""The daily job and its schedule: every morning at 06:00 in the business time zone, the
previous day's partition (ingest, dbt build and checks, GX checks, publish)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets import daily_partitions

daily_refresh = dg.define_asset_job(
    name="daily_refresh",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest the day's landing files, build and test every dbt model as of that day, "
                "run the GX checks, publish the marts.",
    tags={"crm/warehouse": "write"},
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_refresh,
    hour_of_day=6,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
