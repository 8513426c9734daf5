"""Recover from runs that died without finishing (kill -9, out-of-memory kill, reboot).

A run executed in a process (`crm run`) is tagged with that process's host, pid and start time.
Before a new run starts (the run command, the daily schedule), every run still marked as started
whose process no longer exists is marked failed with the reason, so the UI shows why it ended, and
the concurrency slots it held in the `warehouse` pool are freed, so the new run is not blocked
forever. Runs launched by the daemon (`dagster dev`) are watched by Dagster's run monitoring
(orchestration/pipeline/dagster.yaml), which marks a dead run worker failed; its slots are freed here too.
The warehouse's own file lock (`resources.WarehouseResource.write_lock`) is an flock: it dies with
its process and needs no recovery. A Dagster home whose storage two processes created at once is
mended before it is opened (``mend_double_stamped_storage``).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import FINISHED_STATUSES, RunsFilter
from dagster._core.storage.sqlite import LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION

TAG_HOST = "crm/host"
TAG_PID = "crm/pid"
TAG_PID_START = "crm/pid_start"
ALIVE_STATUSES = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/<pid>/stat), which tells a live
    process from a later one that reused its pid; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """Tags that identify the process executing a run (for in-process runs)."""
    pid = os.getpid()
    return {
        TAG_HOST: socket.gethostname(),
        TAG_PID: str(pid),
        TAG_PID_START: _process_start(pid) or "",
    }


def _is_dead(run: dg.DagsterRun) -> bool:
    tags = run.tags
    if tags.get(TAG_HOST) != socket.gethostname() or not tags.get(TAG_PID):
        return False  # not ours to judge: another host, or a daemon-launched run (run monitoring)
    start = _process_start(int(tags[TAG_PID]))
    return start is None or (bool(tags.get(TAG_PID_START)) and start != tags[TAG_PID_START])


def recover_crashed_runs(instance: dg.DagsterInstance, log=print) -> list[str]:
    """Mark runs whose process died as failed (with the reason) and free the concurrency slots of
    every finished run. Returns the ids of the runs marked failed."""
    recovered = []
    for run in instance.get_runs(filters=RunsFilter(statuses=ALIVE_STATUSES)):
        if _is_dead(run):
            message = (
                f"Run {run.run_id} ended without finishing: its process (pid {run.tags[TAG_PID]} on "
                f"{run.tags[TAG_HOST]}) is gone (killed, out of memory or the machine restarted). "
                "Marked failed by the next run, which starts over; the warehouse keeps what was "
                "committed and BI keeps the last published marts."
            )
            instance.report_run_failed(run, message=message)
            log(f"[recover] {message}")
            recovered.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = list(storage.get_concurrency_run_ids())
        if holders:
            finished = {
                r.run_id
                for r in instance.get_runs(filters=RunsFilter(run_ids=holders, statuses=list(FINISHED_STATUSES)))
            }
            for run_id in holders:
                if run_id in finished or not instance.has_run(run_id):
                    freed = storage.free_concurrency_slots_for_run(run_id)
                    if freed:
                        log(f"[recover] freed {freed} pool slot(s) held by ended run {run_id}")
    return recovered


def _schema_head() -> str:
    """The newest version of Dagster's storage schema (its alembic scripts' head)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(dg.__file__).parent / "_core" / "storage" / "alembic")).get_current_head()


# The storage files every process of a home opens (made on first use): each run's own event file
# is made by that run alone, so only these can be made by two processes at once.
SHARED_STORAGE = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")


def mend_double_stamped_storage(home: Path) -> list[Path]:
    """Dagster creates its SQLite storage on first use without a lock. When two processes did it at
    once, one stamped the schema's current version and the other, finding the tables already made,
    the older version Dagster assumes for tables it did not stamp itself; every start since fails
    with alembic's "more than one head present". Both made the tables from the current schema, so
    the older stamp is removed. Only that pair is mended; the files mended are returned."""
    older = LAST_KNOWN_STAMPED_SQLITE_ALEMBIC_REVISION
    pair = {_schema_head(), older}
    mended = []
    if len(pair) < 2:  # a Dagster whose assumed version is its newest: nothing can be told apart
        return mended
    for path in (home / name for name in SHARED_STORAGE):
        if not path.exists():
            continue
        con = sqlite3.connect(path)
        try:
            stamps = {row[0] for row in con.execute("select version_num from alembic_version")}
            if stamps == pair:
                with con:  # one transaction
                    con.execute("delete from alembic_version where version_num = ?", (older,))
                mended.append(path)
        except sqlite3.DatabaseError:  # no version table yet: nothing stamped
            pass
        finally:
            con.close()
    return mended
