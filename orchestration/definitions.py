"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `crm ui`)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets import PIPELINE_ASSETS
from orchestration.checks import MART_CHECKS
from orchestration.logs import LOGGERS
from orchestration.resources import WarehouseResource, dbt_resource
from orchestration.schedules import daily_refresh, daily_schedule

defs = dg.Definitions(
    assets=PIPELINE_ASSETS,
    asset_checks=MART_CHECKS,
    jobs=[daily_refresh],
    schedules=[daily_schedule],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    loggers=LOGGERS,
)
