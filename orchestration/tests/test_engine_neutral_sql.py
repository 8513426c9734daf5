"""The dbt models build on DuckDB and on Spark (orchestration/tests/test_spark_job.py runs both):
no SQL of one engine only in a model; the project's dispatched macros (macros/cross_db.sql) hold it."""

from __future__ import annotations

import re

from orchestration.settings import PROJECT_DIR

ENGINE_SPECIFIC = {
    r"::": "`::` casts (use cast(x as t))",
    r"\b(strftime|regexp_matches|quantile_cont|isodow|timezone|epoch_ms|list_value|string_agg|date_diff|struct_pack|struct_extract|arg_min|arg_max)\s*\(": "DuckDB-only function",
    r"\b(date_format|from_utc_timestamp|percentile|collect_list|collect_set|weekday|rlike|named_struct)\b": "Spark-only function",
    r"\btry_cast\s*\(": "try_cast outside the dispatched macro",
    r"\bgroup\s+by\s+all\b|\bqualify\b|\bilike\b": "dialect-only syntax",
}


def test_models_contain_no_engine_specific_syntax():
    offenders = []
    for path in sorted((PROJECT_DIR / "models").rglob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())  # comments may name anything
        for pattern, why in ENGINE_SPECIFIC.items():
            for match in re.finditer(pattern, text, flags=re.IGNORECASE):
                offenders.append(f"{path.relative_to(PROJECT_DIR)}: {match.group(0)!r} ({why})")
    assert offenders == []
