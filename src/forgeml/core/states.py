"""The lifecycle of a job: its states and the one table of transitions between them.

Every state change anywhere (the scheduler leasing a job, the runner reporting, a user cancelling,
a restart reconciling) goes through `check_transition`, so an illegal move (a completed job
starting again, a canceled job reporting success) is refused in one place. Reporting the state a
job is already in is allowed and means nothing changed, which makes retried reports harmless.
Later kinds of work (pipelines, sweeps) add their states to the same table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from forgeml.core.errors import ConflictError


class JobStatus(StrEnum):
    queued = "queued"
    preparing = "preparing"
    running = "running"
    canceling = "canceling"
    completed = "completed"
    failed = "failed"
    canceled = "canceled"


S = JobStatus

#: state -> the states it may move to. A state missing on the left is terminal.
TRANSITIONS: Final[dict[JobStatus, frozenset[JobStatus]]] = {
    S.queued: frozenset({S.preparing, S.canceled, S.failed}),
    S.preparing: frozenset({S.running, S.completed, S.failed, S.canceling, S.canceled}),
    S.running: frozenset({S.completed, S.failed, S.canceling, S.canceled}),
    # a job asked to stop may still finish first, either way
    S.canceling: frozenset({S.canceled, S.completed, S.failed}),
}

TERMINAL: Final = frozenset(s for s in JobStatus if s not in TRANSITIONS)
#: states in which a process holds a slot of the job's compute
ACTIVE: Final = frozenset({S.preparing, S.running, S.canceling})

#: the MLflow run status that mirrors each job state
MLFLOW_STATUS: Final[dict[JobStatus, str]] = {
    S.queued: "SCHEDULED",
    S.preparing: "SCHEDULED",
    S.running: "RUNNING",
    S.canceling: "RUNNING",
    S.completed: "FINISHED",
    S.failed: "FAILED",
    S.canceled: "KILLED",
}


def parse_status(value: str) -> JobStatus:
    try:
        return JobStatus(value.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise ConflictError(f"'{value}' is not a job state; the states are: {known}.") from None


def is_terminal(status: str | JobStatus) -> bool:
    return JobStatus(status) in TERMINAL


def can_transition(current: str | JobStatus, new: str | JobStatus) -> bool:
    current, new = JobStatus(current), JobStatus(new)
    return current == new or new in TRANSITIONS.get(current, frozenset())


def check_transition(current: str | JobStatus, new: str | JobStatus, *, job: str = "") -> bool:
    """Raise `ConflictError` on an illegal move; return whether the state actually changes."""
    current, new = JobStatus(current), JobStatus(new)
    if current == new:
        return False
    if new not in TRANSITIONS.get(current, frozenset()):
        who = f"job '{job}'" if job else "the job"
        if current in TERMINAL:
            raise ConflictError(
                f"{who} already ended ({current.value}); it cannot become {new.value}.",
                details={"status": current.value},
            )
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        raise ConflictError(
            f"{who} is {current.value} and cannot become {new.value} (from {current.value} it "
            f"can become: {allowed}).",
            details={"status": current.value},
        )
    return True
