"""Tracking entities (experiments, runs, metrics, logged models, registry views) and their rules.

These are MLflow's objects as forgeml holds them: plain dataclasses the store fills and the
server renders to MLflow's JSON. The validation functions enforce MLflow's names and limits
(key characters, batch sizes, value lengths, aliases) with MLflow's own messages, raising
`UserError` so every caller answers 400 rather than failing later in the database.
"""

from __future__ import annotations

import posixpath
import random
import re
from dataclasses import dataclass, field

from forgeml.core.errors import UserError

ACTIVE, DELETED = "active", "deleted"
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TERMINAL_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
STAGES = ("None", "Staging", "Production", "Archived")
LOGGED_MODEL_STATUSES = ("LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED")
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_BYTES = 1_000_000
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
MAX_EXPERIMENT_NAME = 500
MAX_EXPERIMENT_TAG_VALUE = 20_000
MAX_REGISTRY_TAG_VALUE = 100_000
MAX_ALIAS = 255

_KEY_CHARS = re.compile(r"^[/\w.\- :]*$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Metric:
    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    info: RunInfo
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    creation_time: int
    last_updated_time: int
    model_type: str | None = None
    source_run_id: str | None = None
    creator_id: str | None = None
    status_message: str | None = None
    lifecycle_stage: str = ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    current_stage: str = "None"
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    status: str = "READY"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    latest_versions: list[ModelVersion] = field(default_factory=list)


# ------------------------------------------------------------------------------ validation


def invalid(message: str, field_name: str | None = None) -> UserError:
    return UserError(message, details={"field": field_name} if field_name else None)


def missing(field_name: str) -> UserError:
    return invalid(
        f"Missing value for required parameter '{field_name}'. See the API docs for more "
        "information about request parameters.",
        field_name,
    )


def check_key(key: str | None, field_name: str = "key") -> str:
    """A metric, param or tag key: MLflow's characters, a normalised relative path, ≤ 250."""
    if key is None or key == "":
        raise missing(field_name)
    if not _KEY_CHARS.match(key):
        raise invalid(
            f"Invalid value \"{key}\" for parameter '{field_name}' supplied: Names may only "
            "contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
            "colon(:) and slashes (/).",
            field_name,
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        raise invalid(
            f"Invalid value \"{key}\" for parameter '{field_name}' supplied: Names may be "
            "treated as files in certain cases, and must not resolve to other names when "
            f"treated as such. This name would resolve to {norm!r}",
            field_name,
        )
    if len(key) > MAX_KEY:
        raise invalid(
            f"'{field_name}' exceeds the maximum length of {MAX_KEY} characters (got {len(key)}).",
            field_name,
        )
    return key


def truncate(value: str, limit: int) -> str:
    """MLflow's server truncates over-long param and tag values rather than refusing them."""
    return value if len(value) <= limit else value[:limit]


def check_length(value: str | None, limit: int, what: str) -> None:
    if value is not None and len(value) > limit:
        raise invalid(f"{what} is {len(value)} characters long; the limit is {limit}.")


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise invalid(
            f"Invalid run ID: '{run_id}'. Run IDs start with a letter or digit and hold only "
            "letters, digits, '_' and '-' (at most 256 characters).",
            "run_id",
        )
    return run_id


def check_experiment_name(name: str | None) -> str:
    if name is None or name == "":
        raise missing("name") if name is None else invalid(f"Invalid experiment name: '{name}'")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise invalid(
            f"Invalid experiment name: the name is {len(name)} characters long; the limit is "
            f"{MAX_EXPERIMENT_NAME}.",
            "name",
        )
    return name


def check_status(status: str, allowed: tuple[str, ...], field_name: str = "status") -> str:
    if status not in allowed:
        raise invalid(
            f"Invalid value '{status}' for parameter '{field_name}': use one of "
            f"{', '.join(allowed)}.",
            field_name,
        )
    return status


def check_batch(n_metrics: int, n_params: int, n_tags: int) -> None:
    if n_metrics > MAX_METRICS_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. "
            f"Got {n_metrics} metrics. Please split up metrics across multiple requests and "
            "try again."
        )
    if n_params > MAX_PARAMS_TAGS_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params. "
            f"Got {n_params} params. Please split up params across multiple requests and try "
            "again."
        )
    if n_tags > MAX_PARAMS_TAGS_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} tags. "
            f"Got {n_tags} tags. Please split up tags across multiple requests and try again."
        )
    total = n_metrics + n_params + n_tags
    if total > MAX_ENTITIES_PER_BATCH:
        raise invalid(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, "
            f"params, and tags in total. Got {total}. Please split up across multiple "
            "requests and try again."
        )


def check_alias(alias: str | None) -> str:
    if not alias:
        raise invalid("Registered model alias name cannot be empty.", "alias")
    if not _ALIAS.match(alias):
        raise invalid(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-).",
            "alias",
        )
    if len(alias) > MAX_ALIAS:
        raise invalid(f"Registered model alias name exceeds {MAX_ALIAS} characters.", "alias")
    if alias.lower() == "latest":
        raise invalid("'latest' alias name (case insensitive) is reserved.", "alias")
    if _VERSION_ALIAS.match(alias):
        raise invalid(f"Version alias name '{alias}' is reserved.", "alias")
    return alias


def canonical_stage(stage: str) -> str:
    for known in STAGES:
        if stage.lower() == known.lower():
            return known
    raise invalid(
        f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(STAGES)}.",
        "stage",
    )


_ADJECTIVES = (  # noqa: SIM905 - a word list reads better as text
    "able amazing bold brave bright calm clean clever cool crisp daring eager fast "
    "fearless gentle glad golden grand happy honest kind lively lucky merry mighty neat "
    "nimble noble polite proud quick quiet rare regal rich sharp shy silent smart smooth "
    "snappy sincere sunny swift tasty thoughtful trusty upbeat valiant vivid warm wise "
    "witty zealous "
).split()
_NOUNS = (  # noqa: SIM905
    "ant ape bass bat bear bee bird boar bug calf cat carp colt conch crab crane cow "
    "deer doe dog dove duck eel elk finch fish fly foal fox frog gnat goat goose gull "
    "hare hawk hen hog horse jay koi lamb lark lion loon mink mole moth mouse mule newt "
    "owl ox panda perch pig pug ram rat roo seal shark sheep shrew slug snail snake sow "
    "squid stag swan toad trout wasp whale wolf worm wren yak zebra "
).split()


def random_run_name() -> str:
    """MLflow's style of generated names: adjective-noun-NNN."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
