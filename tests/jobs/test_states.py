"""The job lifecycle: one transition table, illegal moves refused, repeated reports harmless."""

from __future__ import annotations

import pytest

from forgeml.core.errors import ConflictError
from forgeml.core.states import (
    ACTIVE,
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    check_transition,
    parse_status,
)

S = JobStatus

LEGAL = [
    (S.queued, S.preparing),
    (S.queued, S.canceled),
    (S.queued, S.failed),
    (S.preparing, S.running),
    (S.preparing, S.failed),
    (S.preparing, S.canceling),
    (S.running, S.completed),
    (S.running, S.failed),
    (S.running, S.canceling),
    (S.running, S.canceled),
    (S.canceling, S.canceled),
    (S.canceling, S.completed),
]


@pytest.mark.parametrize(("current", "new"), LEGAL)
def test_the_documented_lifecycle_moves_are_allowed(current: JobStatus, new: JobStatus) -> None:
    assert check_transition(current, new) is True


@pytest.mark.parametrize("done", sorted(TERMINAL))
@pytest.mark.parametrize("new", list(JobStatus))
def test_an_ended_job_never_moves_again(done: JobStatus, new: JobStatus) -> None:
    if new == done:
        assert check_transition(done, new) is False  # the same report again changes nothing
        return
    with pytest.raises(ConflictError, match="already ended"):
        check_transition(done, new, job="j1")


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.queued, S.running),
        (S.queued, S.completed),
        (S.running, S.preparing),
        (S.running, S.queued),
    ],
)
def test_skipping_or_going_back_is_refused_with_what_is_allowed(
    current: JobStatus, new: JobStatus
) -> None:
    with pytest.raises(ConflictError) as err:
        check_transition(current, new, job="j1")
    assert f"is {current.value} and cannot become {new.value}" in str(err.value)
    assert "can become:" in str(err.value)


def test_every_non_terminal_state_can_end() -> None:
    for state, targets in TRANSITIONS.items():
        assert targets & TERMINAL, f"{state} has no way to end"
    assert set(TRANSITIONS) >= ACTIVE


def test_status_names_are_parsed_case_insensitively_and_unknown_ones_listed() -> None:
    assert parse_status("Running") is S.running
    with pytest.raises(ConflictError, match="queued, preparing"):
        parse_status("finished")
