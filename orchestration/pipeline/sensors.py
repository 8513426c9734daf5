"""The failure digest of a run the Dagster daemon launched (the schedule, the UI): a failed run
sends what failed (orchestration/publish/digest.py). A run executed in a process of its own
(``crm run``, tagged by recovery.process_tags) sends its own."""

from __future__ import annotations

import dagster as dg

from orchestration.pipeline.recovery import TAG_PID
from orchestration.pipeline.schedules import daily_refresh


@dg.run_failure_sensor(
    name="failure_digest",
    monitored_jobs=[daily_refresh],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Send the morning digest's failure message when the daily job fails.",
)
def failure_digest(context: dg.RunFailureSensorContext) -> None:
    from orchestration.publish.digest import compose_failure, publish_digest

    run = context.dagster_run
    if run.tags.get(TAG_PID):
        return  # an in-process run: `crm run` sends its own failure digest
    as_of = run.tags.get("dagster/partition", "?")
    failures = [
        f"{event.step_key}: {root_cause(event.event_specific_data.error)}"
        for event in context.get_step_failure_events()
    ] or [" ".join((context.failure_event.message or "").split())[:1500]]
    _, sent = publish_digest(compose_failure(as_of, failures))
    for line in sent:
        context.log.info(line)


def root_cause(error) -> str:
    """The innermost message of a step's error (Dagster wraps the exception that was raised)."""
    if error is None:
        return "(no error recorded)"
    while error.cause is not None:
        error = error.cause
    return " ".join(error.message.split())[:1500]
