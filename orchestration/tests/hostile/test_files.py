"""Files a hostile shop sends: encodings, malformed lines, big multi-line CSVs, suffixes, hidden
files, empty files, archives, files changed after loading (docs/raw-contract.md, "Where")."""

from __future__ import annotations

import dagster as dg

from orchestration.tests.conftest import query
from orchestration.tests.hostile.conftest import BIG_ROWS, MALFORMED_LINES


def _landing_check(run: dg.ExecuteInProcessResult, table: str):
    (check,) = [
        e.event_specific_data
        for e in run.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.path == ["shop", table]
    ]
    return check


def _not_loaded(run: dg.ExecuteInProcessResult, table: str) -> list[dict]:
    return (
        next(
            e.event_specific_data.materialization
            for e in run.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"
            and e.event_specific_data.materialization.asset_key.path == ["shop", table]
        )
        .metadata["not_loaded"]
        .value
    )


def _log(shop, file_path: str) -> dict:
    rows = query(shop.db, f"select * from raw._load_log where file_path = '{file_path}' order by loaded_at")
    return rows.to_dict("records")


def test_a_shift_jis_file_is_read_as_cp932_and_the_encoding_is_logged(hostile):
    (entry,) = _log(hostile, "2025-06-15_rakuten.csv")
    assert entry["status"] == "loaded" and entry["encoding"] == "cp932" and entry["row_count"] == 2
    names = query(
        hostile.db,
        "select product_id, product_name, category from staging.stg_shop__products "
        "where product_id in ('HX001', 'HX002') order by 1",
    )
    assert names["product_name"].tolist() == [
        "ＵＶカット美容液 30ml",
        "薬用 育毛剤\r\n（医薬部外品）",
    ]
    assert names["category"].tolist() == ["スキンケア", "ヘアケア"]


def test_an_unreadable_file_is_reported_with_what_to_do_and_fails_the_check_on_every_run(hostile):
    for run in hostile.runs:  # the first and the next day's run
        check = _landing_check(run, "orders")
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert "2025-06-16_broken.csv could not be read: the text is neither UTF-8 nor CP932" in check.description
        assert (
            "2025-06-17_semicolon.csv could not be read: the header has none of the contract's required"
            in check.description
        )
        assert "What to do: fix the file or replace it" in check.description
        not_loaded = _not_loaded(run, "orders")
        assert {f["path"].rsplit("/", 1)[1] for f in not_loaded if f["problem"] == "failed"} == {
            "2025-06-16_broken.csv",
            "2025-06-17_semicolon.csv",
        }
    # retried on every run (they may have been re-sent complete), never loaded
    assert [e["status"] for e in _log(hostile, "2025-06-16_broken.csv")] == ["failed", "failed"]
    # the other tables' checks are not failed by it
    assert _landing_check(hostile.runs[1], "customers").severity == dg.AssetCheckSeverity.WARN


def test_a_malformed_line_is_quarantined_and_the_other_lines_load(hostile):
    kept = query(
        hostile.db,
        "select order_id from staging.stg_shop__orders where order_id like 'OTR%' order by 1",
    )
    assert kept["order_id"].tolist() == ["OTR1", "OTR2", "OTR3"]
    bad = query(
        hostile.db,
        "select reject_reason, _malformed_line, _source_file from quarantine.quarantine_orders "
        "where _malformed_line is not null order by _row_number",
    )
    assert bad["reject_reason"].tolist() == ["malformed csv line"] * 2
    assert bad["_malformed_line"].tolist() == MALFORMED_LINES
    assert set(bad["_source_file"]) == {"2025-06-18_truncated.csv"}
    (entry,) = _log(hostile, "2025-06-18_truncated.csv")
    assert entry["row_count"] == 5 and entry["malformed_lines"] == 2


def test_a_big_csv_with_line_breaks_in_quoted_fields_loads_whole(hostile):
    (entry,) = _log(hostile, "2025-06-19_big.csv")
    assert entry["status"] == "loaded" and entry["row_count"] == BIG_ROWS
    names = query(
        hostile.db,
        "select count(*) as n, min(product_name) as name from staging.stg_shop__products where product_id like 'HB%'",
    )
    assert names["n"][0] == BIG_ROWS
    assert "\nsecond line, with a comma" in names["name"][0]


def test_suffixes_are_matched_in_any_case_and_hidden_files_are_ignored(hostile):
    (entry,) = _log(hostile, "2025-06-20_extra.PARQUET")
    assert entry["status"] == "loaded" and entry["row_count"] == 2 and entry["encoding"] is None  # read as Parquet
    logged = query(hostile.db, "select file_path from raw._load_log")["file_path"].tolist()
    assert not [p for p in logged if p.startswith(".") or "/." in p]


def test_an_empty_file_is_logged_once_and_not_retried(hostile):
    assert [e["status"] for e in _log(hostile, "2025-06-21_empty.csv")] == ["empty"]
    assert "2025-06-21_empty.csv" not in str(_not_loaded(hostile.runs[1], "orders"))


def test_files_moved_into_a_sub_folder_are_not_read_again(hostile):
    logged = query(hostile.db, "select file_path from raw._load_log")["file_path"].tolist()
    assert not [p for p in logged if "/" in p]
    status = query(hostile.db, "select status from staging.stg_shop__orders where order_id = 'OAR1'")
    assert status["status"].tolist() == ["completed"]  # the correction still wins


def test_a_file_changed_after_loading_is_an_error_and_its_new_content_is_not_loaded(hostile):
    first, second = hostile.runs
    assert "2025-06-24_changed.csv" not in _landing_check(first, "orders").description
    check = _landing_check(second, "orders")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "2025-06-24_changed.csv changed after it was loaded" in check.description
    assert "its new content was NOT loaded" in check.description
    loaded = query(hostile.db, "select order_id from raw.orders where order_id like 'OCH%'")
    assert loaded["order_id"].tolist() == ["OCH1"]


def test_every_row_read_is_accounted_for(hostile):
    rec = query(hostile.db, "select * from quarantine.quarantine_reconciliation")
    assert rec["is_reconciled"].all(), rec
