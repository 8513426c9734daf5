"""An incremental day equals a full rebuild (decision 77).

A small generated shop is run day by day as the schedule runs it (ingest the day's files, dbt
build, the model fits, the fitted models) for three days, on top of a warehouse built up to the
first, across a month end. Between the days the shop sends what shops send: a late events file
(half of an earlier day's events, so sessions built days ago receive events), a re-sent copy of
events already loaded (under a name that sorts before the originals), a re-sent order that changes
its status, an order of April re-sent with another customer (the CPM rows of closed months change
for both), and an order whose lines arrived a day before it (an orphan in quarantine, released
the next day), and customers who withdrew their marketing consent. Each day logs its audiences'
entries in the contact log, as the daily job does (the first reconstructs the lookback window from
the data). After the last day, int_sessions and customer_portfolio_monthly are backfilled as of
the second day (as_of_date moves back: each must equal what that day's run built) and the last day
runs again. The incremental warehouse must equal, table
by table and row by row:
- the same warehouse rebuilt with `dbt build --full-refresh` (same raw rows: every model, the
  incremental ones included), and
- a fresh warehouse that loaded all the files at once and was built once with the contact log's
  copy beside it (the marts, the contact log and audience_lift included, and the quarantine), and
  whose reconstruction of the log from the data (int_reconstructed_entries) equals the day's.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.activation.contact_log import copy_path, log_day, rebuild_marts, restore
from orchestration.ingest.load import ingest
from orchestration.tests.conftest import copy_warehouse, dbt
from orchestration.tools.generate import generate

DAYS = ["2025-06-28", "2025-06-29", "2025-06-30", "2025-07-01"]
RESENT_ORDER_STATUS = "cancelled"
LATE_ORDER = "OLATE0001"
BACKFILLED = DAYS[1]
# int_sessions' incremental state: which run wrote a row (its as_of_date, the newest load it had
# summarised, when it started). A daily table holds rows of several runs; a rebuild's are all of one
# (decision 89).
RUN_STAMPS = ("_as_of_date", "_loaded_through", "_written_at")


def _plant(landing: Path, held: Path) -> dict:
    """Write the hostile files; those that arrive on 06-29 go to ``held`` (moved in that morning)."""
    planted = {}
    # a late file: every other row of 06-20's events arrives only on 06-29
    day = landing / "events" / "2025-06-20.parquet"
    events = pq.read_table(day)
    keep = [i for i in range(events.num_rows) if i % 2 == 0]
    late = [i for i in range(events.num_rows) if i % 2 == 1]
    pq.write_table(events.take(keep), day)
    (held / "events").mkdir(parents=True)
    pq.write_table(events.take(late), held / "events" / "2025-06-20_late.parquet")
    planted["late_sessions"] = set(events.take(late).column("session_id").to_pylist()) & set(
        events.take(keep).column("session_id").to_pylist()
    )
    # a re-sent copy of 50 events of 06-27, under a name that sorts before the originals
    copy = pq.read_table(landing / "events" / "2025-06-27.parquet").slice(0, 50)
    pq.write_table(copy, held / "events" / "2025-06-19_copy.parquet")
    planted["copied_events"] = copy.num_rows
    # a re-sent order: an order of 06-10 cancelled on 06-29
    order = pq.read_table(landing / "orders" / "2025-06-10.parquet").slice(0, 1).to_pylist()[0]
    (held / "orders").mkdir(parents=True)
    (held / "orders" / "2025-06-29_resend.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total,updated_at\n"
        f"{order['order_id']},{order['customer_id']},{order['ordered_at']},{RESENT_ORDER_STATUS},"
        f"{order['order_total']},2025-06-29 09:00:00\n"
    )
    planted["resent_order"] = order["order_id"]
    # an order of April re-sent on 06-29 with another customer (a guest order claimed by an account)
    april = pq.read_table(landing / "orders" / "2025-04-15.parquet").to_pylist()
    moved = next(o for o in april if o["status"] == "completed" and o["customer_id"])
    claimant = next(o["customer_id"] for o in april if o["customer_id"] not in (None, moved["customer_id"]))
    (held / "orders" / "2025-06-29_claimed.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total,updated_at\n"
        f"{moved['order_id']},{claimant},{moved['ordered_at']},completed,{moved['order_total']},2025-06-29 09:30:00\n"
    )
    planted["moved_order"] = (moved["order_id"], moved["customer_id"], claimant)
    # a consent change: 40 customers who had consented to a channel withdraw both on 06-29
    customers = pa.concat_tables([pq.read_table(f) for f in sorted((landing / "customers").glob("*.parquet"))])
    consented = [
        r
        for r in customers.to_pylist()
        if "true" in (r["line_opt_in"], r["email_opt_in"]) and r["registered_at"] < "2025-06"
    ][:40]
    withdrawn = [
        {**r, "line_opt_in": "false", "email_opt_in": "false", "updated_at": "2025-06-29 09:00:00"} for r in consented
    ]
    (held / "customers").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(withdrawn, schema=customers.schema), held / "customers" / "2025-06-29_consent.parquet"
    )
    planted["withdrawn"] = [r["customer_id"] for r in withdrawn]
    # an orphan: the lines of an order of 06-28 arrive on 06-28, the order itself on 06-29
    product = pq.read_table(landing / "order_items" / "2025-06-10.parquet").column("product_id")[0].as_py()
    (landing / "order_items" / "2025-06-28_early.csv").write_text(
        f"order_id,line_number,product_id,quantity,unit_price\n{LATE_ORDER},1,{product},2,1500\n"
    )
    (held / "orders" / "2025-06-28_late.csv").write_text(
        "order_id,customer_id,ordered_at,status,order_total\n"
        f"{LATE_ORDER},{order['customer_id']},2025-06-28 15:00:00,completed,3000\n"
    )
    return planted


def _sessions(db: Path) -> pd.DataFrame:
    """int_sessions without the columns that record the run that wrote each row."""
    return _tables(db, ("intermediate",), RUN_STAMPS)["intermediate.int_sessions"]


def _portfolio(db: Path) -> pd.DataFrame:
    return _tables(db, ("marts",))["marts.customer_portfolio_monthly"]


def _build(db: Path, as_of: str, full_refresh: bool = False) -> str:
    """What the daily job does: dbt build, the model fits, the models that read them."""
    from orchestration.predict.fit import fit_warehouse
    from orchestration.predict.sbg import fit_and_store

    flags = ["--full-refresh"] if full_refresh else []
    out = dbt(db, ["build", *flags], {"as_of_date": as_of}).stdout
    fit_warehouse(db, date.fromisoformat(as_of))
    fit_and_store(db, as_of)
    dbt(db, ["build", "--select", "tag:fitted_parameters+", *flags], {"as_of_date": as_of})
    return out


def _tables(db: Path, schemas: tuple[str, ...], drop: tuple[str, ...] = ()) -> dict[str, pd.DataFrame]:
    """Every table and view of ``schemas`` without the columns ``drop``, rows sorted by every column."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1"
        ).fetchall()
        out = {}
        for (name,) in names:
            df = con.execute(f"select * from {name}").df()
            df = df.drop(columns=[c for c in drop if c in df.columns])
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def _assert_same(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame], what: str) -> None:
    assert got.keys() == expected.keys()
    for name, frame in expected.items():
        try:
            pd.testing.assert_frame_equal(got[name], frame, check_dtype=False)
        except AssertionError as exc:
            raise AssertionError(f"{name} differs from {what}: {exc}") from None


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    landing, held = root / "landing", root / "held"
    generate(
        landing,
        customers=500,
        start=date(2025, 3, 1),
        end=date(2025, 7, 1),
        seed=11,
        bad_share=0.003,
    )
    planted = _plant(landing, held)

    daily = root / "daily.duckdb"
    logs = {}
    for day in DAYS:
        if day == "2025-06-29":  # the files that arrive this morning
            for path in held.rglob("*.*"):
                target = landing / path.relative_to(held)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
        ingest(landing, daily, verbose=False, up_to=date.fromisoformat(day))
        logs[day] = _build(daily, day)
        planted.setdefault("logged", {})[day] = log_day(daily, day)
        rebuild_marts(daily, day)
        if day == "2025-06-28":
            with duckdb.connect(str(daily), read_only=True) as con:
                planted["orphan_on_first_day"] = con.execute(
                    "select reject_reason from quarantine.quarantine_order_items where order_id = ?",
                    [LATE_ORDER],
                ).fetchall()
        if day == BACKFILLED:
            planted["sessions_built_that_day"] = _sessions(daily)
            planted["portfolio_built_that_day"] = _portfolio(daily)
    # the CPM as the daily runs left it, before the backfill below redoes every row of it
    planted["portfolio_daily"] = _portfolio(daily)

    # a backfill: int_sessions and the CPM as of an earlier day than their last run (as_of_date
    # moves back), then the last day again (forward from the backfill)
    backfill_log = dbt(
        daily, ["run", "--select", "+int_sessions", "+customer_portfolio_monthly"], {"as_of_date": BACKFILLED}
    ).stdout
    planted["sessions_backfilled"] = _sessions(daily)
    planted["portfolio_backfilled"] = _portfolio(daily)
    # the CPM as of that day rebuilt whole from the same rows (orders loaded since may be dated
    # before it: the late order of 06-25 arrives on 06-30, so the day's own table cannot be the reference)
    backfill_reference = root / "backfill_reference.duckdb"
    shutil.copy(daily, backfill_reference)
    dbt(
        backfill_reference,
        ["run", "--select", "int_customer_month_ends", "customer_portfolio_monthly", "--full-refresh"],
        {"as_of_date": BACKFILLED},
    )
    planted["portfolio_rebuilt_that_day"] = _portfolio(backfill_reference)
    logs["backfill"] = backfill_log
    logs["after_backfill"] = _build(daily, DAYS[-1])
    rebuild_marts(daily, DAYS[-1])  # the day was logged: the marts that read the log, as the job builds them

    rebuilt = root / "rebuilt.duckdb"  # the same raw rows, every model rebuilt whole
    shutil.copy(daily, rebuilt)
    _build(rebuilt, DAYS[-1], full_refresh=True)

    once = root / "once.duckdb"  # every file loaded at once, built once, the log's copy beside it
    ingest(landing, once, verbose=False, up_to=date.fromisoformat(DAYS[-1]))
    for table in ("contact_log", "contact_log_days"):
        shutil.copy(copy_path(daily, table), copy_path(once, table))
    planted["restored"] = restore(once)
    _build(once, DAYS[-1])
    planted["once_logged"] = log_day(once, DAYS[-1])
    rebuild_marts(once, DAYS[-1])
    return {"daily": daily, "rebuilt": rebuilt, "once": once, "planted": planted, "logs": logs}


def test_the_daily_runs_were_incremental_and_saw_the_planted_files(runs):
    first, second = runs["logs"][DAYS[0]], runs["logs"][DAYS[1]]
    # the first run built the incremental models whole, the next ones added to them
    for model in (
        "staging.base_shop__event_arrivals",
        "intermediate.int_session_summaries",
        "intermediate.int_sessions",
        "quarantine.quarantine_events",
        "marts.customer_portfolio_monthly",
    ):
        assert f"sql incremental model {model}" in second, second[-3000:]
    assert first.count("sql incremental model") >= 2
    assert runs["planted"]["orphan_on_first_day"] == [("orphan: order_id not among valid orders",)]
    assert runs["planted"]["late_sessions"], "the late file splits no session: nothing to test"
    with duckdb.connect(str(runs["daily"]), read_only=True) as con:
        status = con.execute(
            "select status from marts.fct_orders where order_id = ?",
            [runs["planted"]["resent_order"]],
        ).fetchone()
        assert status == (RESENT_ORDER_STATUS,)
        assert con.execute("select count(*) from marts.fct_orders where order_id = ?", [LATE_ORDER]).fetchone() == (1,)
        assert con.execute(
            "select count(*) from quarantine.quarantine_order_items where order_id = ?",
            [LATE_ORDER],
        ).fetchone() == (0,)
        superseded = con.execute(
            "select count(*) from staging.base_shop__event_arrivals "
            "where arrival_outcome = 'superseded' and _source_file = '2025-06-19_copy.parquet'"
        ).fetchone()[0]
        assert superseded == runs["planted"]["copied_events"]  # the first arrival stays kept
        # the quarantined events of every day's load were added to the first day's, each once
        loads = con.execute(
            "select count(distinct _loaded_at), count(*) - count(distinct (_source_file, _row_number)) "
            "from quarantine.quarantine_events"
        ).fetchone()
        loads_with_bad_events = con.execute(
            "select count(distinct _loaded_at) from staging.base_shop__events where row_outcome = 'quarantined'"
        ).fetchone()[0]
        assert loads[0] == loads_with_bad_events >= 2 and loads[1] == 0, loads
        # sessions the late file touched are summarised from both files' events
        late = sorted(runs["planted"]["late_sessions"])[:20]
        got = con.execute(
            "select s.session_id, s.count_events, count(*) from intermediate.int_sessions s "
            "join staging.stg_shop__events e using (session_id) "
            f"where s.session_id in ({', '.join('?' for _ in late)}) group by 1, 2",
            late,
        ).fetchall()
        assert got and all(count_events == events for _, count_events, events in got)


def test_a_backfill_moves_int_sessions_back_to_that_day(runs):
    # as_of_date moved back: the pre-hook emptied the table and every session was redone as of
    # that day, which equals what the day's own run had built
    assert "sql incremental model intermediate.int_sessions" in runs["logs"]["backfill"]
    planted = runs["planted"]
    assert planted["sessions_backfilled"]["started_at"].max() < pd.Timestamp(BACKFILLED) + pd.Timedelta(days=1)
    pd.testing.assert_frame_equal(planted["sessions_backfilled"], planted["sessions_built_that_day"], check_dtype=False)


def test_a_backfill_moves_the_cpm_back_to_that_day(runs):
    assert "sql incremental model marts.customer_portfolio_monthly" in runs["logs"]["backfill"]
    planted = runs["planted"]
    backfilled, that_day = planted["portfolio_backfilled"], planted["portfolio_built_that_day"]
    # no row after that day stays, and the rows equal a full rebuild as of that day from the same rows
    assert str(backfilled["month_end_date"].max())[:10] == BACKFILLED == str(that_day["month_end_date"].max())[:10]
    pd.testing.assert_frame_equal(backfilled, planted["portfolio_rebuilt_that_day"], check_dtype=False)


def test_the_daily_runs_left_the_cpm_a_full_rebuild_would_build(runs):
    # before the backfill (which redoes every row): the rows the days kept and the rows they redid
    pd.testing.assert_frame_equal(runs["planted"]["portfolio_daily"], _portfolio(runs["rebuilt"]), check_dtype=False)


def test_an_order_claimed_by_another_customer_moves_in_the_closed_months(runs):
    order_id, before, after = runs["planted"]["moved_order"]
    daily = runs["planted"]["portfolio_daily"]
    april = daily[(daily.month_end_date == pd.Timestamp("2025-04-30")) & daily.customer_id.isin([before, after])]
    rows = list(zip(april.customer_id, april.count_purchases_to_date))
    with duckdb.connect(str(runs["daily"]), read_only=True) as con:
        assert con.execute("select customer_id from marts.fct_orders where order_id = ?", [order_id]).fetchone() == (
            after,
        )
        # the April month end as the daily runs left it, against the orders known
        expected = con.execute(
            "select customer_id, count(*) from marts.fct_orders where is_purchase and order_date <= date '2025-04-30' "
            "and customer_id in (?, ?) group by 1",
            [before, after],
        ).fetchall()
    assert sorted(rows) == sorted(expected) and after in {c for c, _ in rows}


def test_an_incremental_day_equals_a_full_refresh_of_the_same_raw_rows(runs):
    schemas = ("staging", "intermediate", "quarantine", "marts")
    # and the newest stamp each unique test saw, which for int_sessions is when its run started
    drop = (*RUN_STAMPS, "tested_through")
    _assert_same(
        _tables(runs["daily"], schemas, drop),
        _tables(runs["rebuilt"], schemas, drop),
        "dbt build --full-refresh",
    )


def test_an_incremental_day_equals_one_build_of_every_file(runs):
    # the load times differ (one load, not three); nothing else may
    schemas, drop = ("marts", "quarantine"), ("_loaded_at",)
    _assert_same(
        _tables(runs["daily"], schemas, drop),
        _tables(runs["once"], schemas, drop),
        "a warehouse that loaded every file at once",
    )


def test_a_day_and_a_rebuild_log_and_reconstruct_the_same_entries(runs):
    """The contact log: each day logged its own entries once; the rebuild, its copy restored, logs
    nothing again; its marts (contact_log, audience_lift) are compared above. Both reconstruct the
    log from the same data alike, and the withdrawn customers are in neither's entries of the day."""
    planted, logged = runs["planted"], runs["planted"]["logged"]
    assert logged[DAYS[0]].days_reconstructed > 0 and all(logged[d].days_reconstructed == 0 for d in DAYS[1:])
    assert sum(logged[d].entries for d in DAYS) > 0
    assert planted["restored"] > 0 and planted["once_logged"].already_logged
    daily, once = (
        _tables(runs[name], ("intermediate",))["intermediate.int_reconstructed_entries"] for name in ("daily", "once")
    )
    assert len(daily) > 0
    pd.testing.assert_frame_equal(daily, once, check_dtype=False)
    withdrawn = planted["withdrawn"]
    with duckdb.connect(str(runs["daily"]), read_only=True) as con:
        consent = con.execute(
            "select count(*) from staging.stg_shop__customers where (line_opt_in or email_opt_in) "
            f"and customer_id in ({', '.join('?' for _ in withdrawn)})",
            withdrawn,
        ).fetchone()[0]
        exported = con.execute(
            "select count(*) from marts.customer_audiences where channel is not null "
            f"and customer_id in ({', '.join('?' for _ in withdrawn)})",
            withdrawn,
        ).fetchone()[0]
    assert len(withdrawn) == 40 and consent == 0 and exported == 0
    assert not set(daily.customer_id) & set(withdrawn)


def _scoped_unique_tests(db: Path) -> tuple[subprocess.CompletedProcess, dict[str, object]]:
    """The two `unique_incremental` tests (event_id of the kept arrivals, session_id of int_sessions)
    as the day's build runs them, and the watermarks they left (decision 153)."""
    proc = dbt(db, ["test", "--select", "test_name:unique_incremental"], {"as_of_date": DAYS[-1]}, check=False)
    with duckdb.connect(str(db), read_only=True) as con:
        marks = dict(
            con.execute("select model_relation, tested_through from intermediate.data_test_watermarks").fetchall()
        )
    return proc, marks


_PLANTED = (
    ("staging.base_shop__event_arrivals", "event_id", "_loaded_at", "arrival_outcome = 'kept'"),
    ("intermediate.int_sessions", "session_id", "_written_at", "true"),
)


def _plant_duplicates(db: Path, when: str) -> None:
    """A key written twice, in the kept events and in int_sessions, as a bug in either model would
    leave it: both rows written by a run after every row there (``when`` = "later": a second after
    the newest stamp) or before every row there (``earlier``: a day before the oldest stamp)."""
    stamp = {"later": "max({}) + interval 1 second", "earlier": "min({}) - interval 1 day"}[when]
    with duckdb.connect(str(db)) as con:
        for table, key, stamp_column, kept in _PLANTED:
            for _ in range(2):
                con.execute(
                    f"insert into {table} select * replace ('planted' as {key}, "
                    f"(select {stamp.format(stamp_column)} from {table}) as {stamp_column}) "
                    f"from {table} where {kept} and {key} = (select min({key}) from {table} where {kept})"
                )


def _remove_duplicates(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        for table, key, _, _ in _PLANTED:
            con.execute(f"delete from {table} where {key} = 'planted'")


def test_the_unique_tests_of_the_incremental_models_check_what_changed(runs, tmp_path):
    db = copy_warehouse(runs["daily"], tmp_path / "daily.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        newest = con.execute(
            "select (select max(_loaded_at) from staging.base_shop__event_arrivals), "
            "(select max(_written_at) from intermediate.int_sessions)"
        ).fetchone()
    # the daily runs' tests passed: each remembers the newest stamp its model held
    proc, marks = _scoped_unique_tests(db)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert marks == {"base_shop__event_arrivals": newest[0], "int_sessions": newest[1]}

    # a duplicate written by a later run: found, and the failing tests forget what they had checked
    _plant_duplicates(db, "later")
    proc, marks = _scoped_unique_tests(db)
    assert proc.returncode != 0 and proc.stdout.count("Got 1 result") == 2, proc.stdout[-3000:]
    assert marks == {}
    # so the next run checks every row: a duplicate among the oldest rows is found too
    _remove_duplicates(db)
    _plant_duplicates(db, "earlier")
    proc, marks = _scoped_unique_tests(db)
    assert proc.returncode != 0 and proc.stdout.count("Got 1 result") == 2, proc.stdout[-3000:]

    # clean again: both pass and remember; from then on a key whose rows all predate that run is
    # not read again
    _remove_duplicates(db)
    proc, marks = _scoped_unique_tests(db)
    assert proc.returncode == 0 and marks == {"base_shop__event_arrivals": newest[0], "int_sessions": newest[1]}
    _plant_duplicates(db, "earlier")
    proc, _ = _scoped_unique_tests(db)
    assert proc.returncode == 0, proc.stdout[-3000:]

    # a rebuild of the arrivals keeps their stamps, so it forgets what their test checked
    dbt(db, ["run", "--select", "base_shop__event_arrivals", "--full-refresh"], {"as_of_date": DAYS[-1]})
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select model_relation from intermediate.data_test_watermarks").fetchall() == [
            ("int_sessions",)
        ]
