"""The Dagster code location: `dagster dev -m orchestration.definitions` (or `crm ui`)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets import dbt_warehouse, landing_to_raw, published_marts
from orchestration.checks import mart_quality_checks
from orchestration.logs import LOGGERS
from orchestration.resources import WarehouseResource, dbt_resource
from orchestration.schedules import daily_refresh, daily_schedule

defs = dg.Definitions(
    assets=[landing_to_raw, dbt_warehouse, published_marts],
    asset_checks=[mart_quality_checks],
    jobs=[daily_refresh],
    schedules=[daily_schedule],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
    loggers=LOGGERS,
)
