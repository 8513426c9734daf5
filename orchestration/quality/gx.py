"""Great Expectations (GX Core 1.x) suites for the landing gate and the mart checks.

The landing gate validates in DuckDB: GX's SQL datasource runs its expectations as queries over a
batch's raw zone files (through the dialect in ``duckdb_dialect``; decision 150), so no landing row
becomes a pandas row. The mart checks validate small pandas dataframes (long-format rows, one per
mart and metric) read through a read-only connection. Suites,
validation definitions and checkpoints are defined here in code and saved to a file context under
the data directory (``$CRM_GX_DIR``, default ``data/gx``); every checkpoint run updates the GX Data
Docs (HTML) there, or, inside ``one_docs_build()`` (a Dagster step's validations), the block's end
does once. Results older than ``$CRM_KEEP_DAYS`` are removed (decision 104). GX is imported
lazily: it takes seconds to import.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from orchestration.contract import (
    DECIMAL_PATTERN,
    INTEGER_PATTERN,
    TABLE_COLUMNS,
    row_rules,
)
from orchestration.settings import dbt_var, gx_dir, keep_days
from orchestration.sql_text import duckdb_text, spark_text

SAMPLE_SIZE = 5
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# GX stores every validation result, and each checkpoint run rebuilds the Data Docs index from all
# of them: a daily job's 14 validations slowed by about 0.7 ms per stored result each (decision
# 104). The index lists the newest DOCS_INDEX_RESULTS; results older than $CRM_KEEP_DAYS
# (default 30) are removed. Both are done once per process, before the first validation.
DOCS_INDEX_RESULTS = 100
_PREPARED: set[Path] = set()
# inside one_docs_build(): the validations whose Data Docs pages wait for one build at its end
_DOCS_WAITING: list[tuple[Path, object]] | None = None


@contextmanager
def one_docs_build(root: Path | None = None) -> Iterator[None]:
    """Validations inside update the Data Docs once, when the block ends, instead of once per
    checkpoint run (each build renders the index again). A step's validations go in one block."""
    global _DOCS_WAITING
    if _DOCS_WAITING is not None:  # already inside a block: its end builds
        yield
        return
    _DOCS_WAITING = []
    try:
        yield
    finally:
        waiting, _DOCS_WAITING = _DOCS_WAITING, None
        for docs_root in dict.fromkeys(r for r, _ in waiting):
            _context(docs_root).build_data_docs(resource_identifiers=[k for r, k in waiting if r == docs_root])
            make_docs_offline(docs_root)


# GX's Data Docs pages load Bootstrap, jQuery and bootstrap-table from CDNs: offline (a shop's
# closed network, a laptop on a train) the pages were unstyled and the index empty. Every build is
# followed by make_docs_offline: the files below (vendored from npm, MIT, LICENSES.txt beside
# them) are copied into the site and each page's CDN tags point at them; CDN tags without a local
# copy (Vega for profiling charts, icon fonts, the dark theme) are dropped.
DOCS_VENDOR_DIR = Path(__file__).with_name("data_docs_vendor")
DOCS_VENDOR = {
    "/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "/jquery-3.7.1.min.js": "jquery.min.js",
    "/popper.min.js": "popper.min.js",
    "/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    "/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    "/bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control.min.js",
    "/bootstrap-table-filter-control.css": "bootstrap-table-filter-control.min.css",
    "/bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
    "/bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
}
REMOTE_TAG = re.compile(
    r"<(script|link)\b[^>]*?\b(?:src|href)=[\"'](https?://[^\"']+)[\"'][^>]*>(?:\s*</script>)?", re.IGNORECASE
)


def _local_tag(match: re.Match, vendor: str) -> str:
    """A CDN tag pointed at its vendored copy under ``vendor`` (relative), or dropped without one."""
    tag, url = match.group(1).lower(), match.group(2)
    name = next((file for suffix, file in DOCS_VENDOR.items() if url.endswith(suffix)), None)
    if name is None:
        return ""
    if tag == "script":
        return f'<script src="{vendor}/{name}"></script>'
    return f'<link rel="stylesheet" href="{vendor}/{name}">'


def make_docs_offline(root: Path) -> int:
    """Point the Data Docs pages under ``root`` at the vendored copies of their CDN files (copied
    into ``<site>/static/vendor``); return how many pages were rewritten."""
    site = Path(root) / "gx" / "uncommitted" / "data_docs" / "local_site"
    if not site.is_dir():
        return 0
    vendor = site / "static" / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    for name in DOCS_VENDOR.values():
        if not (vendor / name).exists():
            shutil.copyfile(DOCS_VENDOR_DIR / name, vendor / name)

    rewritten = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if "://" not in text:
            continue
        relative = os.path.relpath(vendor, page.parent).replace(os.sep, "/")

        new = REMOTE_TAG.sub(lambda match, to=relative: _local_tag(match, to), text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            rewritten += 1
    return rewritten


def prune_validation_results(root: Path, keep_days: int, now: datetime | None = None) -> int:
    """Remove the validation results GX stored under ``root`` more than ``keep_days`` ago (their
    Data Docs pages go with GX's next index build). Returns how many were removed."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    removed = 0
    # <suite>/<run name>/<run time, e.g. 20261205T154316.885047Z>/<batch>.json
    for run in (Path(root) / "gx" / "uncommitted" / "validations").glob("*/*/*"):
        try:
            run_time = datetime.strptime(run.name, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        if run.is_dir() and run_time < cutoff:
            shutil.rmtree(run)
            removed += 1
    return removed


@dataclass
class Failure:
    expectation: str
    column: str | None
    unexpected_count: int
    sample: list
    unexpected_index: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "unexpected_count": self.unexpected_count,
            "sample": self.sample,
            "rows": self.unexpected_index[:SAMPLE_SIZE],
        }


@dataclass
class SuiteOutcome:
    suite: str
    rows: int
    success: bool
    failures: list[Failure] = field(default_factory=list)
    docs_url: str | None = None

    @property
    def failing_rows(self) -> int:
        return sum(f.unexpected_count for f in self.failures)

    def metadata(self) -> dict:
        """Metadata for a Dagster AssetCheckResult: counts and a sample of failing values."""
        meta: dict = {"gx_suite": self.suite, "rows_checked": self.rows, "expectations_failed": len(self.failures)}
        for f in self.failures:
            key = f"{f.expectation}:{f.column}" if f.column else f.expectation
            meta[f"failing_rows[{key}]"] = f.unexpected_count
        if self.failures:
            meta["failing_sample"] = json.dumps([f.as_dict() for f in self.failures], ensure_ascii=False, default=str)[
                :4000
            ]
        if self.docs_url:
            meta["gx_data_docs"] = self.docs_url
        return meta


def _context(root: Path | None = None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = Path(root or gx_dir())
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if root.resolve() not in _PREPARED:  # once per process and folder
        site = context.list_data_docs_sites().get("local_site")
        index = dict((site or {}).get("site_index_builder") or {})
        if site and index.get("validation_results_limit") != DOCS_INDEX_RESULTS:
            context.update_data_docs_site(
                "local_site",
                {
                    **site,
                    "site_index_builder": {**index, "validation_results_limit": DOCS_INDEX_RESULTS},
                },
            )
        prune_validation_results(root, keep_days())
        _PREPARED.add(root.resolve())
    return context


def _failures(results) -> list[Failure]:
    """The failed expectations of a GX validation result: counts, a sample and, when asked for,
    the index columns of the failing rows."""
    failures = []
    for item in results:
        if item.success:
            continue
        cfg = item.expectation_config
        res = item.result or {}
        count = res.get("unexpected_count")
        if count is None:  # table-level expectations
            count = 1
        failures.append(
            Failure(
                cfg.type,
                cfg.kwargs.get("column"),
                int(count),
                list(res.get("partial_unexpected_list") or [res.get("observed_value")])[:SAMPLE_SIZE],
                list(res.get("unexpected_index_list") or []),
            )
        )
    return failures


def _whole_dataframe_batch(source, name: str):
    """The data asset ``name`` of a dataframe datasource and its whole-dataframe batch definition,
    created on first use."""
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        return asset.get_batch_definition("whole")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole")


def _run_checkpoint(
    context,
    root: Path,
    suite_name: str,
    batch,
    expectations: list,
    batch_parameters: dict | None = None,
    index_columns: list[str] | None = None,
):
    """Run ``expectations`` on ``batch`` through a saved suite, validation definition and checkpoint
    (which updates the Data Docs, or leaves that to ``one_docs_build``); return GX's result and
    the failed expectations."""
    import great_expectations as gx

    waiting = _DOCS_WAITING
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[definition],
            actions=[] if waiting is not None else [gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format=(
                {"result_format": "COMPLETE", "unexpected_index_column_names": index_columns}
                if index_columns
                else {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
            ),
        )
    )
    result = checkpoint.run(batch_parameters=batch_parameters)
    if waiting is not None:
        waiting.extend((root, key) for key in result.run_results)
    else:
        make_docs_offline(root)
    return result, [f for run in result.run_results.values() for f in _failures(run.results)]


def _docs_url(context) -> str | None:
    sites = context.get_docs_sites_urls(only_if_exists=False)
    return sites[0]["site_url"] if sites else None


def validate(
    suite_name: str,
    df: pd.DataFrame,
    expectations: list,
    root: Path | None = None,
    index_columns: list[str] | None = None,
) -> SuiteOutcome:
    """Validate a dataframe against expectations through a saved suite, validation definition and
    checkpoint (which updates the Data Docs); return counts and samples of what failed.
    ``index_columns`` name the failing rows (e.g. which mart) in ``Failure.unexpected_index``."""
    root = Path(root or gx_dir())
    context = _context(root)
    batch = _whole_dataframe_batch(context.data_sources.add_or_update_pandas(name="crm_warehouse"), suite_name)
    result, failures = _run_checkpoint(context, root, suite_name, batch, expectations, {"dataframe": df}, index_columns)
    return SuiteOutcome(suite_name, len(df), bool(result.success), failures, _docs_url(context))


# ---- landing gate ------------------------------------------------------------------------------


def landing_expectations(table: str) -> list:
    """The contract's row rules for one raw table as GX expectations over text columns (blank
    values count as missing). Each rule that needs a parsed value reads a column the engine
    computes beside the text: ``<c>__number``, ``<c>__code`` (lower case), and the text itself where
    it breaks a rule, else missing: ``<c>__not_decimal`` / ``<c>__not_integer`` (the contract's
    patterns), ``<c>__unparseable`` and ``<c>__implausible`` (timestamps). Those must be missing,
    and a failure's sample shows the values that broke the rule."""
    import great_expectations.expectations as gxe

    rules = row_rules(table, dbt_var)
    exps: list = [gxe.ExpectTableColumnsToMatchSet(column_set=TABLE_COLUMNS[table], exact_match=False)]
    exps += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in rules["required"]]
    exps += [gxe.ExpectColumnValuesToBeNull(column=f"{c}__unparseable") for c in rules["timestamps"]]
    exps += [gxe.ExpectColumnValuesToBeNull(column=f"{c}__implausible") for c in rules["timestamps"]]
    exps += [gxe.ExpectColumnValuesToBeNull(column=f"{c}__not_decimal") for c in rules["decimals"]]
    exps += [gxe.ExpectColumnValuesToBeNull(column=f"{c}__not_integer") for c in rules["integers"]]
    exps += [gxe.ExpectColumnValuesToBeBetween(column=f"{c}__number", min_value=0) for c in rules["non_negative"]]
    exps += [gxe.ExpectColumnValuesToBeBetween(column=f"{c}__number", min_value=1) for c in rules["positive"]]
    exps += [gxe.ExpectColumnValuesToBeBetween(column=f"{c}__number", max_value=m) for c, m in rules["maximum"].items()]
    exps += [gxe.ExpectColumnValuesToBeInSet(column=f"{c}__code", value_set=v) for c, v in rules["allowed"].items()]
    return exps


# a trailing Z, UTC or GMT (with or without a space before it), read as offset zero. GX fills each
# "?" of a query asset's SQL with a bound value when it writes out the failing rows' query, so the
# gate's SQL holds no "?": an optional part is spelled "{0,1}"
ZONE_SUFFIX = " {0,1}(UTC|GMT|utc|gmt|Z|z)$"


def _no_question_marks(pattern: str) -> str:
    """A contract pattern with each ``?`` (an optional quantifier in these patterns) as ``{0,1}``."""
    assert "(?" not in pattern and "??" not in pattern, pattern
    return pattern.replace("?", "{0,1}")


def landing_query(table: str, files: list[Path]) -> str:
    """The gate's view of a batch: the rows of its raw zone files that split into fields, text as
    staging's clean_text reads it (leading and trailing U+0020 removed, blank missing; decision 99)
    and the parsed copies the rules read. A timestamp parses when DuckDB casts it, after a trailing
    Z, UTC or GMT is read as offset zero; it is plausible from ``earliest_valid_date`` (UTC) on."""
    rules = row_rules(table, dbt_var)
    clean = ", ".join(
        f"case when {c} like ' %' or {c} like '% ' then nullif(trim({c}, ' '), '') else nullif({c}, '') end as {c}"
        for c in TABLE_COLUMNS[table]
    )
    paths = ", ".join(duckdb_text(p) for p in files)
    copies: list[str] = []
    for c in sorted(set(rules["non_negative"] + rules["positive"]) | set(rules["maximum"])):
        copies.append(f"try_cast({c} as double) as {c}__number")
    for kind, pattern in (("decimal", DECIMAL_PATTERN), ("integer", INTEGER_PATTERN)):
        for c in rules[f"{kind}s"]:
            copies.append(
                f"case when not regexp_matches({c}, {duckdb_text(_no_question_marks(pattern))}) then {c} end "
                f"as {c}__not_{kind}"
            )
    for c in rules["allowed"]:
        copies.append(f"lower({c}) as {c}__code")
    earliest = str(dbt_var("earliest_valid_date"))
    parsed: list[str] = []  # parsed once, in the inner query; the copies compare them
    for c in rules["timestamps"]:
        # the plain cast first: a value with a zone suffix is rewritten and cast only when it fails
        parsed.append(f"try_cast({c} as timestamp) as {c}__naive")
        parsed.append(
            f"case when {c} is not null and try_cast({c} as timestamp) is null then "
            f"try_cast(regexp_replace({c}, {duckdb_text(ZONE_SUFFIX)}, 'Z') as timestamptz) end as {c}__zoned"
        )
        copies.append(
            f"case when {c} is not null and {c}__naive is null and {c}__zoned is null then {c} end as {c}__unparseable"
        )
        copies.append(
            f"case when {c}__naive < cast({duckdb_text(earliest)} as timestamp) or {c}__zoned < "
            f"cast({duckdb_text(earliest + ' 00:00:00+00')} as timestamptz) then {c} end as {c}__implausible"
        )
    sql = (
        f"select *{''.join(', ' + x for x in copies)} from "
        f"(select *{''.join(', ' + x for x in parsed)} from "
        f"(select {clean} from read_parquet([{paths}]) where _malformed_line is null) as landed) as parsed"
    )
    if "?" in sql:  # a zone folder whose name holds a "?"
        raise ValueError(f"The landing gate cannot read raw zone files under a path with '?': {files[0]}")
    return sql


# GX's queries on the gate's in-memory DuckDB: aggregates and LIMIT queries over Parquet stream, so
# a bounded memory suffices whatever a batch's size
GATE_DUCKDB_CONFIG = {"memory_limit": "1GB"}


def gate_landing_files(table: str, files: list[Path], root: Path | None = None) -> SuiteOutcome:
    """The landing gate on a batch's raw zone files, validated in DuckDB by GX's SQL datasource:
    each expectation is a query over ``landing_query`` (no row leaves DuckDB but a sample of
    failing values)."""
    from orchestration.quality import duckdb_dialect

    root = Path(root or gx_dir())
    name = f"landing_{table}"
    if not files:  # nothing new: the suite holds, over no rows
        return SuiteOutcome(name, 0, True)
    context = _context(root)
    source = context.data_sources.add_or_update_sql(
        name="crm_landing",
        connection_string=duckdb_dialect.URL,
        kwargs={"connect_args": {"config": GATE_DUCKDB_CONFIG}},
    )
    batch = source.add_query_asset(name=name, query=landing_query(table, files)).add_batch_definition_whole_table(
        "whole"
    )
    result, failures = _run_checkpoint(context, root, name, batch, landing_expectations(table))
    counts = [(r.result or {}).get("element_count") for run in result.run_results.values() for r in run.results]
    rows = max((int(n) for n in counts if n is not None), default=0)
    return SuiteOutcome(name, rows, bool(result.success), failures, _docs_url(context))


def gate_landing_frame_spark(table: str, frame, root: Path | None = None) -> SuiteOutcome:
    """The landing gate on a Spark dataframe through GX's Spark datasource: the same expectations,
    with the parsed copies computed in Spark SQL."""
    import great_expectations as gx
    from pyspark.sql import functions as F

    rules = row_rules(table, dbt_var)
    df = frame.select(
        *[F.when(F.trim(F.col(c)) == "", None).otherwise(F.trim(F.col(c))).alias(c) for c in TABLE_COLUMNS[table]]
    )
    for c in sorted(set(rules["non_negative"] + rules["positive"]) | set(rules["maximum"])):
        df = df.withColumn(f"{c}__number", F.expr(f"try_cast({c} as double)"))
    for kind, pattern in (("decimal", DECIMAL_PATTERN), ("integer", INTEGER_PATTERN)):
        for c in rules[f"{kind}s"]:
            df = df.withColumn(f"{c}__not_{kind}", F.when(~F.col(c).rlike(pattern), F.col(c)))
    for c in rules["allowed"]:
        df = df.withColumn(f"{c}__code", F.lower(F.col(c)))
    earliest = dbt_var("earliest_valid_date")
    for c in rules["timestamps"]:
        parsed = F.expr(f"try_cast(regexp_replace({c}, {spark_text(ZONE_SUFFIX)}, 'Z') as timestamp)")
        df = df.withColumn(f"{c}__unparseable", F.when(F.col(c).isNotNull() & parsed.isNull(), F.col(c)))
        df = df.withColumn(f"{c}__implausible", F.when(parsed < F.lit(earliest).cast("timestamp"), F.col(c)))
    context = _context(root)
    name = f"landing_{table}_spark"
    batch = _whole_dataframe_batch(context.data_sources.add_or_update_spark(name="crm_warehouse_spark"), name)
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=landing_expectations(table)))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": df},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE},
    )
    failures = _failures(result.results)
    return SuiteOutcome(name, df.count(), bool(result.success), failures)
