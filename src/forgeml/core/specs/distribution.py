"""The `distribution` and `resources` of command jobs and components, checked when submitted.

Azure ML's distribution types and their counts, so that a typo fails the submission with the
field's name instead of the job at run time.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

#: Azure ML's distribution types and their counts (each a whole number, at least the minimum)
_DISTRIBUTIONS: dict[str, dict[str, int]] = {
    "pytorch": {"process_count_per_instance": 1},
    "mpi": {"process_count_per_instance": 1},
    "tensorflow": {"worker_count": 1, "parameter_server_count": 0},
    "ray": {},
}


def check_distribution(value: Any) -> Any:
    """A `distribution` Azure ML knows, with whole counts: checked at submission, not at run."""
    if value is None:
        return value
    if not isinstance(value, dict):
        raise ValueError("must be a mapping with a `type` (pytorch, mpi, tensorflow or ray).")
    kind = str(value.get("type", "")).lower()
    if kind not in _DISTRIBUTIONS:
        raise ValueError(
            f"the distribution type '{value.get('type')}' is not supported; use one of "
            f"{', '.join(_DISTRIBUTIONS)}."
        )
    for key, least in _DISTRIBUTIONS[kind].items():
        count = value.get(key)
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < least
        ):
            raise ValueError(f"`{key}` must be a whole number of at least {least}, not {count!r}.")
    return {**value, "type": kind}


def check_resources(value: Any) -> Any:
    if isinstance(value, dict) and value.get("instance_count") is not None:
        count = value["instance_count"]
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(
                f"`instance_count` must be a whole number of at least 1, not {count!r}."
            )
    return value


#: a document's `distribution`, checked as it loads
Distribution = Annotated[dict[str, Any] | None, AfterValidator(check_distribution)]
#: a document's `resources`, its `instance_count` checked as it loads
Resources = Annotated[dict[str, Any] | None, AfterValidator(check_resources)]
