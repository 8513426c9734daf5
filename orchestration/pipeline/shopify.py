"""The Shopify Admin API as Dagster assets through dagster-dlt, where the shop's settings configure
``shopify_api`` (orchestration/ingest/shopify_api.py): one asset per contract table it lands,
upstream of ``landing_to_raw``, partitioned like it so that the daily job pulls, then loads."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from orchestration.settings import Settings, settings

TABLES = ("orders", "order_items", "products", "customers")


def api_asset_keys(s: Settings | None = None) -> list[dg.AssetKey]:
    """The keys of the API's assets, none where the settings do not configure it."""
    s = s or settings()
    return [dg.AssetKey(["shopify_api", table]) for table in TABLES] if s.shopify_api else []


class _Translator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey(["shopify_api", data.resource.name]),
            deps=[],
            group_name="shopify_api",
            description=f"Shopify Admin API -> landing `{data.resource.name}/` (new CSV files of changed rows).",
        )


def shopify_api_assets(partitions_def: dg.PartitionsDefinition | None, s: Settings | None = None) -> list:
    """The API's assets and their resource, or nothing where the settings do not configure it."""
    from orchestration.ingest.shopify_api import shopify_pipeline, source_for

    s = s or settings()
    if not s.shopify_api:
        return []

    @dlt_assets(
        dlt_source=source_for(s.shopify_api),
        dlt_pipeline=shopify_pipeline(Path(s.landing_dir), Path(s.dagster_home) / "dlt"),
        name="shopify_api",
        dagster_dlt_translator=_Translator(),
        partitions_def=partitions_def,
    )
    def shopify_api(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator:
        yield from dlt.run(context=context, loader_file_format="csv")

    return [shopify_api]


def shopify_api_resources(s: Settings | None = None) -> dict:
    return {"dlt": DagsterDltResource()} if (s or settings()).shopify_api else {}
