"""The Dagster code location: `dagster dev -m orchestration.pipeline.definitions` (or `crm ui`)."""

from __future__ import annotations

import dagster as dg

from orchestration.pipeline.assets import PIPELINE_ASSETS, daily_partitions
from orchestration.pipeline.checks import MART_CHECKS
from orchestration.pipeline.logs import LOGGERS
from orchestration.pipeline.resources import dbt_resource, warehouse_resource
from orchestration.pipeline.schedules import daily_refresh, daily_schedule
from orchestration.pipeline.sensors import failure_digest
from orchestration.pipeline.shopify import shopify_api_assets, shopify_api_resources

defs = dg.Definitions(
    assets=[*PIPELINE_ASSETS, *shopify_api_assets(daily_partitions)],
    asset_checks=MART_CHECKS,
    jobs=[daily_refresh],
    schedules=[daily_schedule],
    sensors=[failure_digest],
    resources={"warehouse": warehouse_resource(), "dbt": dbt_resource(), **shopify_api_resources()},
    loggers=LOGGERS,
)
