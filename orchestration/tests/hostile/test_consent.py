"""Consent and the ties the contract breaks by load order (docs/raw-contract.md, "Order of work"):
a withdrawal re-sent under a name that sorts first still wins when it is loaded later, versions that
tie within one run give no consent, a quoted "false" is never consent; and what a hostile file must
not leave in the warehouse (an e-mail from a malformed line, a byte-order mark inside a key)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.activation.exports import audit_exports, write_exports
from orchestration.ingest.load import ingest
from orchestration.tests.conftest import build_with_fits, dbt, query
from orchestration.tools.generate import generate

AS_OF = "2025-06-30"
CUSTOMERS_HEADER = (
    "customer_id,registered_at,acquisition_source,email,full_name,email_opt_in,line_opt_in,line_user_id\n"
)
ORDERS_HEADER = "order_id,customer_id,ordered_at,status,order_total\n"
LEAKED_EMAIL = "leak.malformed@example.jp"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---- one run: same-run ties, a malformed customers line, a BOM inside a concatenated export ------


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("consent_one_run")
    landing = root / "landing"
    # C1: e-mail consent differs between two files of one run (the file sorting last says yes),
    #     LINE consent agrees; C2: yes against unknown; C3: two rows of one file, no then yes;
    #     C4: only in one file, yes; C5: a malformed line (an extra field) carrying an e-mail
    write(
        landing / "customers" / "2025-06-01_a.csv",
        CUSTOMERS_HEADER
        + "C1,2025-01-01 10:00:00,,a@example.jp,A,false,true,\n"
        + "C2,2025-01-02 10:00:00,,,,true,,\n"
        + "C3,2025-01-03 10:00:00,,,,false,false,\n"
        + "C3,2025-01-03 10:00:00,,,,true,true,\n"
        + "C4,2025-01-04 10:00:00,,,,true,true,\n"
        + f"C5,2025-01-05 10:00:00,web,{LEAKED_EMAIL},Leak Name,true,true,Uleak,EXTRA\n",
    )
    write(
        landing / "customers" / "2025-06-01_b.csv",
        CUSTOMERS_HEADER + "C1,2025-01-01 10:00:00,,a@example.jp,A,true,true,\n" + "C2,2025-01-02 10:00:00,,,,,,\n",
    )
    # an export of two files concatenated: the second began with a byte-order mark and re-sends O1
    write(
        landing / "orders" / "2025-06-01.csv",
        ORDERS_HEADER + "O1,C1,2025-06-01 10:00:00,completed,100\n",
    )
    write(
        landing / "orders" / "2025-06-02_concat.csv",
        ORDERS_HEADER + "O2,C2,2025-06-02 10:00:00,completed,50\n" + "\ufeffO1,C1,2025-06-01 10:00:00,completed,100\n",
    )
    db = root / "warehouse.duckdb"
    ingest(landing, db, verbose=False)
    dbt(
        db,
        ["run", "--select", "+stg_shop__customers", "+stg_shop__orders", "+quarantine_customers"],
        {"as_of_date": AS_OF},
    )
    return db


def test_versions_that_tie_within_one_run_give_no_consent(one_run):
    got = query(
        one_run,
        "select customer_id, email_opt_in, line_opt_in from staging.stg_shop__customers order by 1",
    ).to_dict("records")
    assert [(r["customer_id"], r["email_opt_in"], r["line_opt_in"]) for r in got] == [
        ("C1", False, True),  # yes (file sorting last) against no: no; both yes: yes
        ("C2", False, None),  # yes against unknown: no; unknown on both: unknown
        ("C3", False, False),  # two rows of one file, no then yes: no
        ("C4", True, True),
    ]


def test_a_malformed_customers_line_leaves_no_email_in_the_warehouse(one_run):
    quarantined = query(
        one_run,
        "select customer_id, registered_at, _malformed_line, reject_reason from quarantine.quarantine_customers",
    )
    assert list(quarantined.reject_reason) == ["malformed csv line"]
    # the fields before the first personal column are kept; the text is not
    assert quarantined.customer_id[0] == "C5" and quarantined.registered_at[0] == "2025-01-05 10:00:00"
    assert "characters" in quarantined._malformed_line[0]
    with duckdb.connect(str(one_run), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns where data_type = 'VARCHAR'"
        ).fetchall()
        hits = [
            (s, t, c)
            for s, t, c in columns
            if con.execute(
                f'select count(*) from "{s}"."{t}" where contains("{c}", ?) or contains("{c}", ?) '
                f'or contains("{c}", ?)',
                [LEAKED_EMAIL, "Leak Name", "Uleak"],
            ).fetchone()[0]
        ]
    assert hits == []


def test_a_byte_order_mark_inside_a_concatenated_export_is_not_data(one_run):
    assert query(one_run, "select count(*) as n from raw.orders where order_id like '\ufeff%'").n[0] == 0
    orders = query(one_run, "select order_id, order_total from staging.stg_shop__orders order by 1")
    assert list(orders.order_id) == ["O1", "O2"]
    assert float(orders.order_total.sum()) == 150.0


def test_a_quoted_false_is_never_consent(one_run):
    """The var as a quoted "false" (truthy as a Jinja string) or "true": unknown stays no consent."""
    sql = (
        "select {{ consent_channel('cast(null as boolean)', 'cast(null as boolean)') }} as channel, "
        "{{ consent_channel('cast(null as boolean)', 'true') }} as email_only"
    )
    for value, expected in (('"false"', None), ('"true"', None), ("false", None), ("true", "line")):
        proc = dbt(
            one_run,
            ["show", "--inline", sql, "--output", "json", "--log-format", "json"],
            json.loads(f'{{"activation_unknown_consent_is_consent": {value}}}'),
        )
        shown = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        rows = next(json.loads(e["data"]["preview"]) for e in shown if "preview" in e.get("data", {}))
        assert rows == [{"channel": expected, "email_only": "email" if expected is None else "line"}], value


# ---- two runs: a withdrawal re-sent under a name that sorts first --------------------------------


@pytest.fixture(scope="module")
def withdrawal(tmp_path_factory):
    root = tmp_path_factory.mktemp("consent_withdrawal")
    landing = root / "landing"
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
    assert (landing / "customers" / "2025-06.csv").exists()
    db = root / "warehouse.duckdb"
    ingest(landing, db, verbose=False)
    build_with_fits(db, AS_OF)
    before = write_exports(db, root / "exports-1", AS_OF)
    # an exported customer, preferably one whose kept version is in the last file, 2025-06.csv
    exported = query(
        db,
        "select a.customer_id, b._source_file from marts.customer_audiences a "
        "join staging.base_shop__customers b on a.customer_id = b.customer_id "
        "and b.row_outcome = 'kept' "
        "where a.is_entry and not a.is_holdout and a.channel is not null "
        "order by b._source_file desc, a.customer_id",
    )
    assert sum(before.values()) == len(exported) > 0
    customer, kept_file = exported.customer_id[0], exported._source_file[0]
    # the version the warehouse keeps, sent again as it is but for the consents
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute(
            "select r.* exclude (_malformed_line, _source_file, _row_number, _loaded_at) "
            "from raw.customers r join staging.base_shop__customers b using (_source_file, _row_number) "
            "where b.customer_id = ? and b.row_outcome = 'kept'",
            [customer],
        ).df()
    assert len(kept) == 1
    kept["email_opt_in"], kept["line_opt_in"] = "false", "false"
    # 2025-06-30-zz-withdraw.csv for a version kept from 2025-06.csv
    name = f"{kept_file.removesuffix('.csv')}-30-zz-withdraw.csv"
    assert name < kept_file  # the file name alone would keep the old consent
    kept.to_csv(landing / "customers" / name, index=False)
    ingest(landing, db, verbose=False)  # a later run
    build_with_fits(db, AS_OF)
    after = write_exports(db, root / "exports-2", AS_OF)
    return db, root, customer, before, after, name


def test_a_withdrawal_loaded_later_wins_whatever_its_name(withdrawal):
    db, _, customer, _, _, name = withdrawal
    got = query(
        db,
        f"select email_opt_in, line_opt_in, _source_file from staging.stg_shop__customers "
        f"where customer_id = '{customer}'",
    ).to_dict("records")
    assert got == [{"email_opt_in": False, "line_opt_in": False, "_source_file": name}]


def test_a_withdrawn_customer_is_in_no_export(withdrawal):
    db, root, customer, before, after, _ = withdrawal
    assert sum(after.values()) == sum(before.values()) - 1
    for path in sorted((root / "exports-2").glob("*.csv")):
        assert customer not in path.read_text(encoding="utf-8-sig"), path.name
    assert audit_exports(db, root / "exports-2") == []
    assert any(customer in p.read_text(encoding="utf-8-sig") for p in (root / "exports-1").glob("*.csv"))


def test_a_rebuild_from_the_same_load_log_keeps_the_winner(withdrawal, tmp_path):
    """A full rebuild of the marts from the same raw rows (same load times) keeps the withdrawal."""
    db, _, customer, _, _, _ = withdrawal
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(db, copy)
    dbt(copy, ["run", "--select", "+stg_shop__customers", "--full-refresh"], {"as_of_date": AS_OF})
    got = query(
        copy,
        f"select email_opt_in from staging.stg_shop__customers where customer_id = '{customer}'",
    )
    assert list(got.email_opt_in) == [False]


# ---- two runs: later versions that do not count ---------------------------------------------------

LATER_HEADER = (
    "customer_id,registered_at,updated_at,acquisition_source,email,full_name,email_opt_in,line_opt_in,line_user_id\n"
)


@pytest.fixture(scope="module")
def later_versions(tmp_path_factory):
    """G1..G6 consent to both channels in a first load; a second load sends versions that do not
    count: quarantined (a value that breaks the contract) or pending (dated after AS_OF)."""
    root = tmp_path_factory.mktemp("consent_later_versions")
    landing = root / "landing"
    write(
        landing / "customers" / "2025-06-01.csv",
        LATER_HEADER
        + "".join(f"G{i},2025-01-0{i} 10:00:00,2025-06-01 10:00:00,,,,true,true,U{i}\n" for i in range(1, 7)),
    )
    db = root / "warehouse.duckdb"
    ingest(landing, db, verbose=False)
    write(
        landing / "customers" / "2025-06-02.csv",
        LATER_HEADER
        # a withdrawal the contract cannot read (quarantined), LINE still yes
        + "G1,2025-01-01 10:00:00,2025-06-02 10:00:00,,,,いいえ,true,U1\n"
        # a withdrawal of e-mail dated after AS_OF (pending)
        + "G2,2025-01-02 10:00:00,2025-07-05 10:00:00,,,,false,true,U2\n"
        # an unreadable version older than the kept one: not after it
        + "G3,2025-01-03 10:00:00,2025-05-01 10:00:00,,,,maybe,maybe,U3\n"
        # quarantined for its time (unknown), consenting to both: no doubt
        + "G4,not a date,,,,,true,true,U4\n"
        # quarantined for its time, consent unknown: no consent
        + "G5,not a date,,,,,,,U5\n"
        # a later version dated after AS_OF that consents: no doubt
        + "G6,2025-01-06 10:00:00,2025-07-06 10:00:00,,,,true,true,U6\n",
    )
    ingest(landing, db, verbose=False)  # a later run
    dbt(db, ["run", "--select", "+stg_shop__customers"], {"as_of_date": AS_OF})
    return db


def test_a_later_version_that_does_not_count_withdraws_the_consent_it_does_not_give(later_versions):
    got = query(
        later_versions,
        "select customer_id, email_opt_in, line_opt_in from staging.stg_shop__customers order by 1",
    )
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        ("G1", False, True),
        ("G2", False, True),
        ("G3", True, True),
        ("G4", True, True),
        ("G5", False, False),
        ("G6", True, True),
    ]
    outcomes = query(
        later_versions,
        "select customer_id, row_outcome from staging.base_shop__customers "
        "where _source_file like '%2025-06-02%' order by 1",
    )
    assert list(outcomes.row_outcome) == [
        "quarantined",
        "pending",
        "quarantined",
        "quarantined",
        "quarantined",
        "pending",
    ]
