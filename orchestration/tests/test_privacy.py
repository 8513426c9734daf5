"""Erasure on request (docs/privacy.md): after `crm erase`, no file under the warehouse, publish,
GX and log folders holds the person's id, e-mail, name or LINE id; totals are unchanged; a re-sent
old file brings nobody back; a file the shop edited is not an error; the next run is green. And the
consent rules of the Python side never read text as consent."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.activation.exports import EXPORT_COLUMNS, audit_exports
from orchestration.cli import main as crm
from orchestration.contract import TABLE_COLUMNS
from orchestration.pipeline.assets import PIPELINE_ASSETS
from orchestration.pipeline.checks import MART_CHECKS
from orchestration.pipeline.resources import WarehouseResource, dbt_resource
from orchestration.privacy import consent
from orchestration.privacy.erase import erase
from orchestration.privacy.register import (
    REGISTER_FILE,
    TOMBSTONE_PREFIX,
    apply_register_to_rows,
    erasure_key,
    keyed_hash,
    privacy_dir,
    record_erasures,
    tombstone,
)
from orchestration.tests.conftest import query
from orchestration.tools.generate import generate

END = "2025-06-30"
LINE_ID = "Uf00dfeedc0ffee0123456789abcdef01"
ORDERS_HEADER = "order_id,customer_id,ordered_at,status,order_total\n"


def _run(wh: WarehouseResource) -> dg.ExecuteInProcessResult:
    with mock.patch.dict(os.environ, {"CRM_PUBLISH_DOCS": "0"}):
        return dg.materialize(
            [*PIPELINE_ASSETS, *MART_CHECKS],
            partition_key=END,
            resources={"warehouse": wh, "dbt": dbt_resource()},
            raise_on_error=False,
        )


def _failed_checks(result: dg.ExecuteInProcessResult, severity: str | None = None) -> list[str]:
    return [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.event_specific_data.passed
        and severity in (None, e.event_specific_data.severity.value)
    ]


def _totals(db: Path) -> dict:
    return (
        query(
            db,
            "select count(*) as orders, sum(order_total) as revenue, "
            "count(distinct customer_id) as customers from staging.stg_shop__orders",
        )
        .iloc[0]
        .to_dict()
    )


def _mart_revenue(db: Path) -> float:
    return float(query(db, "select sum(revenue) as r from marts.kpi_monthly").r[0])


def _found(roots: list[Path], values: list[str]) -> list[str]:
    """Every place under ``roots`` that holds one of ``values``: the bytes of any file (an id only
    where it stands alone), the rows of Parquet files (compressed) and of DuckDB files."""
    hits = []
    patterns = [re.compile(rb"(?<![0-9A-Za-z_\-])" + re.escape(v.encode()) + rb"(?![0-9A-Za-z_\-])") for v in values]
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes()
            hits += [f"{path}: {v}" for v, pattern in zip(values, patterns, strict=True) if pattern.search(data)]
            if path.suffix == ".parquet":
                text = pq.read_table(path).to_pandas().astype(str).to_csv()
                hits += [f"{path} (rows): {v}" for v in values if re.search(rf"\b{re.escape(v)}\b", text)]
            elif data[8:12] == b"DUCK":
                with duckdb.connect(str(path), read_only=True) as con:
                    columns = con.execute(
                        "select table_schema, table_name, column_name from information_schema.columns "
                        "where data_type = 'VARCHAR'"
                    ).fetchall()
                    for s, t, c in columns:
                        for v in values:
                            if con.execute(
                                f'select count(*) from "{s}"."{t}" where contains("{c}", ?)', [v]
                            ).fetchone()[0]:
                                hits.append(f"{path} {s}.{t}.{c}: {v}")
    return hits


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    landing = tmp_path_factory.mktemp("privacy_landing")
    root = tmp_path_factory.mktemp("privacy_run")
    generate(
        landing,
        customers=400,
        start=date(2024, 7, 1),
        end=date(2025, 6, 30),
        seed=21,
        bad_share=0.0,
        fmt="csv",
        grain="month",
    )
    wh = WarehouseResource(
        database=str(root / "warehouse" / "warehouse.duckdb"),
        landing=str(landing),
        publish=str(root / "published"),
        gx=str(root / "gx"),
    )
    # the first run, to find a customer who is exported today
    first = _run(wh)
    assert first.success and not _failed_checks(first)
    db = Path(wh.database)
    person = query(
        db,
        "select customer_id from marts.customer_audiences where is_entry and not is_holdout "
        "and channel is not null order by customer_id limit 1",
    ).customer_id[0]
    customers_file = landing / "customers" / "2025-06.csv"
    old = pd.read_csv(customers_file, dtype=str, keep_default_na=False)
    row = old[old.customer_id == person]
    if row.empty:  # registered earlier: their row is in an earlier month's file
        customers_file = next(p for p in sorted((landing / "customers").glob("*.csv")) if person in p.read_text())
        old = pd.read_csv(customers_file, dtype=str, keep_default_na=False)
        row = old[old.customer_id == person]
    email, name = row.email.iloc[0], row.full_name.iloc[0]
    assert email and name
    # their LINE id arrives in a later file; a malformed order line names them (its text is kept:
    # orders hold no personal column); a run log and the previous published generation hold them
    (landing / "customers" / "2025-06-29-line.csv").write_text(row.assign(line_user_id=LINE_ID).to_csv(index=False))
    (landing / "orders" / "2025-06-29-bad.csv").write_text(
        ORDERS_HEADER + f"OXB1,{person},2025-06-29 10:00:00,completed,100,EXTRA\n"
    )
    second = _run(wh)
    # the malformed line is a warning of the landing check, nothing blocks
    assert second.success and _failed_checks(second) == ["landing_gate"] and not _failed_checks(second, "ERROR")
    logs = root / "logs"
    logs.mkdir()
    (logs / "run-2025-06-30-000000.log").write_text(f"exported {person} <{email}> {name} {LINE_ID}\n")
    exports = Path(wh.publish) / "exports"
    assert any(person in p.read_text(encoding="utf-8-sig") for p in exports.glob("*.csv"))
    assert query(db, f"select count(*) as n from raw.customers where line_user_id = '{LINE_ID}'").n[0] == 1
    before = _totals(db), _mart_revenue(db)
    roots = [db.parent, Path(wh.publish), Path(wh.gx), logs]
    assert len(_found(roots, [person, email, name, LINE_ID])) > 5

    report = erase([person], db, roots=roots, publish=Path(wh.publish), landing=landing)
    return SimpleNamespace(
        wh=wh,
        db=db,
        root=root,
        roots=roots,
        landing=landing,
        person=person,
        email=email,
        name=name,
        before=before,
        report=report,
        customers_file=customers_file,
    )


def test_erased_values_are_nowhere(erased):
    assert erased.report.not_cleaned == []
    assert _found(erased.roots, [erased.person, erased.email, erased.name, LINE_ID]) == []
    # the register holds the keyed hash, not the id
    assert (privacy_dir(erased.db) / REGISTER_FILE).read_text().split()[0] == keyed_hash(
        (privacy_dir(erased.db) / "erasure.key").read_text().strip(), erased.person
    )


def test_totals_stay_with_the_tombstone(erased):
    assert (_totals(erased.db), _mart_revenue(erased.db)) == erased.before
    ghost = erased.report.tombstones[erased.person]
    assert ghost.startswith(TOMBSTONE_PREFIX)
    kept = query(
        erased.db,
        f"select email_opt_in, line_opt_in from staging.stg_shop__customers where customer_id = '{ghost}'",
    )
    assert kept.to_dict("records") == [{"email_opt_in": False, "line_opt_in": False}]
    orders = query(
        erased.db,
        f"select count(*) as n from staging.stg_shop__orders where customer_id = '{ghost}'",
    )
    assert orders.n[0] > 0


def test_a_resent_or_edited_file_brings_nobody_back_and_the_next_run_is_green(erased):
    customers = erased.landing / "customers"
    # the old file re-sent under a new name, and the loaded file edited to remove the person
    shutil.copy(erased.customers_file, customers / "resent-old-export.csv")
    lines = erased.customers_file.read_text().splitlines(keepends=True)
    erased.customers_file.write_text("".join(line for line in lines if erased.person not in line))
    result = _run(erased.wh)
    assert result.success and not _failed_checks(result)
    landing_events = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert not any(
        e.event_specific_data.materialization.metadata.get("not_loaded")
        and e.event_specific_data.materialization.metadata["not_loaded"].value
        for e in landing_events
    )
    assert (
        query(
            erased.db,
            "select count(*) as n from raw._load_log where status not in ('loaded', 'empty')",
        ).n[0]
        == 0
    )
    assert _found(erased.roots, [erased.person, erased.email, erased.name]) == []
    assert (
        query(
            erased.db,
            "select count(*) as n from raw.customers where _source_file = 'resent-old-export.csv'",
        ).n[0]
        == len(lines) - 1
    )
    assert (_totals(erased.db), _mart_revenue(erased.db)) == erased.before
    ghost = erased.report.tombstones[erased.person]
    exported = "".join(p.read_text(encoding="utf-8-sig") for p in (Path(erased.wh.publish) / "exports").glob("*.csv"))
    assert ghost not in exported  # no consent: never exported


def test_cli_erase_reads_a_file_of_ids(tmp_path):
    db = tmp_path / "wh" / "warehouse.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create schema raw; create table raw.orders (order_id varchar, customer_id varchar, "
            "_source_file varchar, _row_number bigint)"
        )
        con.execute("insert into raw.orders values ('O1', 'C7', 'a.csv', 1), ('O2', 'C70', 'a.csv', 2)")
    ids = tmp_path / "ids.txt"
    ids.write_text("# requests of June\nC7\n\n")
    # the run logs, the Dagster instance and the delivery's upload files, each where the settings
    # put them, away from the warehouse's folder
    logs, home, lists = tmp_path / "logs", tmp_path / "dagster", tmp_path / "lists"
    for folder, name in ((logs, "run-2025-06-30.log"), (home, "history.txt"), (lists, "2025-06-30-email.csv")):
        folder.mkdir()
        (folder / name).write_text("customer_id,channel\nC7,email\nC70,email\n")
    config = tmp_path / "shop.yml"
    config.write_text(f"delivery:\n  files:\n    dir: {lists}\n")
    with mock.patch.dict(
        os.environ,
        {
            "CRM_CONFIG": str(config),
            "CRM_PUBLISH_DIR": str(tmp_path / "pub"),
            "CRM_GX_DIR": str(tmp_path / "gx"),
            "CRM_LANDING_DIR": str(tmp_path / "landing"),
            "CRM_LOGS_DIR": str(logs),
            "DAGSTER_HOME": str(home),
        },
    ):
        assert crm(["erase", "--file", str(ids), "--database", str(db)]) == 0
    key = (privacy_dir(db) / "erasure.key").read_text().strip()
    assert query(db, "select customer_id from raw.orders order by order_id").customer_id.tolist() == [
        tombstone(key, "C7"),
        "C70",
    ]
    for path in (logs / "run-2025-06-30.log", home / "history.txt", lists / "2025-06-30-email.csv"):
        assert path.read_text() == f"customer_id,channel\n{tombstone(key, 'C7')},email\nC70,email\n", path


# ---- consent is never text ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["false", "true", "False", 1, "yes", None, 0])
def test_only_a_real_true_is_consent(value):
    assert consent.is_consent(value) is False
    with mock.patch.object(consent, "dbt_var", return_value=value):
        assert consent.unknown_consent_is_consent() is False
    assert consent.is_consent(True) is True


def test_the_export_audit_does_not_read_a_quoted_false_as_consent(tmp_path):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema staging; create schema marts")
        con.execute(
            "create table staging.stg_shop__customers as select 'C1' as customer_id, "
            "cast(null as boolean) as line_opt_in, cast(null as boolean) as email_opt_in"
        )
        con.execute(
            "create table marts.customer_audiences as select 'C1' as customer_id, 'a' as audience, "
            "false as is_holdout, true as is_entry"
        )
    out = tmp_path / "exports"
    out.mkdir()
    row = {c: [None] for c in EXPORT_COLUMNS} | {
        "customer_id": ["C1"],
        "audience": ["a"],
        "channel": ["line"],
    }
    pq.write_table(pa.table({c: pa.array(v, pa.string()) for c, v in row.items()}), out / "line.parquet")
    with mock.patch.object(consent, "dbt_var", return_value="false"):
        problems = audit_exports(db, out)
    assert problems and "has no consent for its channel" in problems[0]
    with mock.patch.object(consent, "dbt_var", return_value=True):
        assert audit_exports(db, out) == []


def test_a_spark_warehouse_adopts_the_register_the_spark_load_read_before(tmp_path, monkeypatch):
    """On Spark the ingest reads the register beside the DuckDB file beside its raw zone; a shop
    upgraded from the Spark load of old (which read the one beside ``warehouse_path``) keeps its
    erased customers erased, and a register of its own is never replaced."""
    from orchestration.ingest.spark import adopt_erasure_register
    from orchestration.privacy.register import erased_hashes

    earlier, spark_db = tmp_path / "warehouse.duckdb", tmp_path / "spark" / "spark_tables.duckdb"
    monkeypatch.setenv("CRM_DUCKDB_PATH", str(earlier))
    assert adopt_erasure_register(spark_db) is None  # nothing to adopt
    key = erasure_key(earlier, create=True)
    record_erasures(earlier, [keyed_hash(key, "C0000101")])
    assert adopt_erasure_register(spark_db) == privacy_dir(earlier)
    assert erasure_key(spark_db) == key and erased_hashes(spark_db) == {keyed_hash(key, "C0000101")}
    record_erasures(earlier, [keyed_hash(key, "C0000102")])
    assert adopt_erasure_register(spark_db) is None
    assert erased_hashes(spark_db) == {keyed_hash(key, "C0000101")}
    assert adopt_erasure_register(earlier) is None  # the DuckDB target: the same file


def test_rows_of_a_new_raw_zone_file_keep_an_erased_customer_erased(tmp_path):
    """Rows written outside the DuckDB file (a raw zone file, which Spark's raw tables read too): the
    register turns an erased customer's rows (a padded id too) into the tombstone, without personal
    data or consent, and leaves everyone else's rows as they were."""
    database = tmp_path / "warehouse.duckdb"
    key = erasure_key(database, create=True)
    record_erasures(database, [keyed_hash(key, "C0000101")])
    loaded_at = pd.Timestamp("2025-07-01 06:00:00").to_pydatetime()
    columns = TABLE_COLUMNS["customers"]
    values = {
        "customer_id": [" C0000101", "C0000102"],
        "email": ["a@example.com", "b@example.com"],
        "full_name": ["山田 花子", "佐藤 太郎"],
        "line_user_id": ["U" + "1" * 32, "U" + "2" * 32],
        "email_opt_in": ["true", "true"],
        "line_opt_in": ["true", None],
    }
    rows = pa.table(
        {
            **{c: pa.array(values.get(c, ["x", "y"]), pa.string()) for c in columns},
            "_source_file": pa.array(["2025-07-01.csv"] * 2),
            "_row_number": pa.array([1, 2], pa.int64()),
            "_malformed_line": pa.array([None, None], pa.string()),
            "_loaded_at": pa.array([loaded_at] * 2, pa.timestamp("us")),
        }
    )
    erased, changed = apply_register_to_rows(rows, database, "customers")
    assert changed == 1 and erased.schema == rows.schema
    first, second = erased.to_pylist()
    assert first["customer_id"] == tombstone(key, "C0000101")
    assert (first["email"], first["full_name"], first["line_user_id"]) == (None, None, None)
    assert (first["email_opt_in"], first["line_opt_in"]) == ("false", "false")
    assert second == rows.to_pylist()[1]
    assert apply_register_to_rows(rows, tmp_path / "other" / "warehouse.duckdb", "customers") == (rows, 0)
