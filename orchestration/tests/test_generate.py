from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq
import pytest

from orchestration.contract import TABLE_COLUMNS
from orchestration.tools import generate as gen


def _read_all(folder):
    return {p.relative_to(folder).as_posix(): pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))}


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        gen.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--customers", "--start", "--end", "--seed", "--out"):
        assert option in text


def test_same_seed_same_rows_other_seed_other_rows(tmp_path):
    kwargs = {"customers": 150, "start": date(2025, 1, 1), "end": date(2025, 2, 28)}
    gen.generate(tmp_path / "a", seed=3, **kwargs)
    gen.generate(tmp_path / "b", seed=3, **kwargs)
    gen.generate(tmp_path / "c", seed=4, **kwargs)
    a, b, c = (_read_all(tmp_path / x) for x in "abc")
    assert a.keys() == b.keys()
    assert all(a[k].equals(b[k]) for k in a)
    assert any(k not in c or not a[k].equals(c[k]) for k in a)


def test_writes_every_contract_table_with_contract_columns_one_file_per_day(tmp_path):
    planted = gen.generate(tmp_path, customers=200, start=date(2025, 3, 1), end=date(2025, 3, 31), seed=1)
    for table, columns in TABLE_COLUMNS.items():
        files = sorted((tmp_path / table).glob("*.parquet"))
        assert files, table
        assert pq.read_schema(files[0]).names == columns
    order_files = [p.stem for p in (tmp_path / "orders").glob("*.parquet")]
    assert all(len(stem) == 10 for stem in order_files)  # YYYY-MM-DD
    assert json.loads((tmp_path / "_planted.json").read_text())["seed"] == 1
    # every bad-row kind of the contract is planted at least once
    for table, kinds in gen.BAD_ROW_KINDS.items():
        assert set(planted["bad_rows"][table]) == set(kinds), table


def test_csv_and_monthly_files(tmp_path):
    gen.main(
        [
            "--out",
            str(tmp_path),
            "--customers",
            "100",
            "--start",
            "2025-01-01",
            "--end",
            "2025-03-31",
            "--format",
            "csv",
            "--files-per",
            "month",
            "--tables",
            "orders,order_items",
        ]
    )
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == [
        "2025-01.csv",
        "2025-02.csv",
        "2025-03.csv",
    ]
    assert not (tmp_path / "events").exists()


def test_planted_funnel_abandons_about_70_percent_of_carts(tmp_path):
    gen.generate(
        tmp_path,
        customers=400,
        start=date(2025, 1, 1),
        end=date(2025, 3, 31),
        seed=5,
        tables=("events",),
    )
    events = pq.read_table(tmp_path / "events").to_pandas()
    per_session = events.groupby("session_id")["event_type"].agg(set)
    carts = per_session.apply(lambda s: bool(s & {"add_to_cart", "checkout_start", "purchase"}))
    bought = per_session.apply(lambda s: "purchase" in s)
    abandonment = 1 - bought.sum() / carts.sum()
    assert 0.6 < abandonment < 0.8
