"""The pure decisions of an Azure-ML-compatible sweep job: what to try next and what to stop.

A sweep's YAML (`search_space`, `sampling_algorithm`, `objective`, `limits`, `early_termination`)
is parsed here into frozen values, and two functions turn the persisted trials into decisions:
`suggest` gives the hyperparameters of trial `index` and `to_stop` names the running trials an
early-termination policy cuts now. Both are functions of their arguments alone (no database, no
clock, no global random state), so the orchestrator can rebuild every decision after a restart
from the trials it stored. Sampling is Optuna's (random, Sobol, grid, TPE): each call builds a
fresh in-memory study holding the earlier trials and asks it once, with the sampler seeded from
the sweep's seed and the trial index, which makes the answer reproducible for the same history.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import statistics
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from forgeml.core.errors import SpecError

# optuna announces every study and trial at INFO; a sweep creates one study per decision
optuna.logging.set_verbosity(optuna.logging.WARNING)

JsonScalar: TypeAlias = str | int | float | bool | None

_PARAMS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
SPACE_TYPES: tuple[str, ...] = tuple(_PARAMS)
SAMPLING_TYPES = ("random", "grid", "bayesian")
_BAYESIAN_TYPES = ("choice", "uniform", "quniform")
_FINISHED = ("completed", "failed", "canceled")
# the normal family is sampled as a quantile u in (0, 1); keep u off the ends where inv_cdf fails
_EPS = 1e-12


@dataclass(frozen=True)
class Expression:
    """One hyperparameter: its Azure expression `type` and the parameters that type uses.

    Unused parameters keep their zero defaults. `integral` marks quantized types whose numbers
    (bounds or mu/sigma, and q) were all written as integers: their values come out as ints.
    """

    name: str
    type: str
    values: tuple[JsonScalar, ...] = ()
    upper: int = 0
    min_value: float = 0.0
    max_value: float = 0.0
    mu: float = 0.0
    sigma: float = 0.0
    q: float = 0.0
    integral: bool = False

    def distribution(self) -> BaseDistribution:
        """The distribution Optuna samples for this hyperparameter (before `to_value`).

        Choices are sampled by position so that any JSON scalar survives unchanged; log types
        by exponent; the normal family by quantile, mapped through the inverse normal CDF.
        """
        if self.type == "choice":
            return CategoricalDistribution(list(range(len(self.values))))
        if self.type == "randint":
            return IntDistribution(0, self.upper - 1)
        if self.type in ("uniform", "quniform", "loguniform", "qloguniform"):
            return FloatDistribution(self.min_value, self.max_value)
        return FloatDistribution(0.0, 1.0)

    def to_value(self, x: Any, logbase: float) -> JsonScalar:
        """Map a value Optuna sampled from `distribution()` to the hyperparameter's value."""
        if self.type == "choice":
            return self.values[int(x)]
        if self.type == "randint":
            return int(x)
        if self.type in ("uniform", "quniform"):
            v = float(x)
        elif self.type in ("loguniform", "qloguniform"):
            v = self._power(logbase, float(x))
        else:
            u = min(max(float(x), _EPS), 1.0 - _EPS)
            v = statistics.NormalDist(self.mu, self.sigma).inv_cdf(u)
            if self.type in ("lognormal", "qlognormal"):
                v = self._power(logbase, v)
        if self.type.startswith("q"):
            return _quantize(v, self.q, self.integral)
        return v

    def to_internal(self, value: Any) -> Any | None:
        """Inverse of `to_value` for a persisted value, or None when it does not fit.

        Only the types grid and bayesian sampling accept need it: random sampling ignores history.
        """
        if self.type == "choice":
            for i, v in enumerate(self.values):
                if v == value and type(v) is type(value):
                    return i
            return next((i for i, v in enumerate(self.values) if v == value), None)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return None
        if self.type == "randint":
            return min(max(round(value), 0), self.upper - 1)
        if self.type in ("uniform", "quniform"):
            return min(max(float(value), self.min_value), self.max_value)
        return None

    def _power(self, base: float, exponent: float) -> float:
        try:
            return float(base**exponent)
        except OverflowError:
            raise SpecError(
                f"{base:g} ** {exponent:g} overflows a float: {self.type} takes its bounds in log "
                "space (exponents), so use smaller values",
                field=f"search_space.{self.name}",
            ) from None


@dataclass(frozen=True)
class SearchSpace:
    """The parsed `search_space`: one expression per hyperparameter, in the YAML's order."""

    expressions: tuple[Expression, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.expressions)

    def __getitem__(self, name: str) -> Expression:
        for e in self.expressions:
            if e.name == name:
                return e
        raise KeyError(name)


@dataclass(frozen=True)
class Sampling:
    """The parsed `sampling_algorithm`.

    `rule` (random | sobol) and `logbase` belong to random sampling; `logbase` is the base of
    every log type (loguniform, qloguniform, lognormal, qlognormal), e unless given.
    """

    type: str = "random"
    seed: int | None = None
    rule: str = "random"
    logbase: float = math.e


@dataclass(frozen=True)
class Objective:
    goal: str  # "maximize" | "minimize"
    primary_metric: str


@dataclass(frozen=True)
class Limits:
    max_total_trials: int = 1000
    max_concurrent_trials: int = 1000
    timeout: int = 5_184_000  # the whole sweep, seconds (60 days, Azure's documented default)
    trial_timeout: int | None = None


@dataclass(frozen=True)
class BanditPolicy:
    """Azure's bandit policy; exactly one of `slack_factor` and `slack_amount` is set.

    At a due interval k the trial's k-th value is compared with the best k-th value of every trial
    that reached k, itself included (so a lone trial is never cut). Maximize cuts values below
    best / (1 + slack_factor) or best - slack_amount; minimize cuts values above
    best * (1 + slack_factor) or best + slack_amount. For a negative best the factor is applied
    the other way round, so that the threshold always lies on the lenient side of the best.
    """

    slack_factor: float | None = None
    slack_amount: float | None = None
    evaluation_interval: int = 1
    delay_evaluation: int = 0


@dataclass(frozen=True)
class MedianStoppingPolicy:
    """Azure's median stopping policy.

    At a due interval k, with at least two trials having reached k: the running average of each
    such trial's first k values (the candidate's included) is taken, and the candidate is cut
    when its best value so far (over its first k values) is worse than the median of those
    averages.
    """

    evaluation_interval: int = 1
    delay_evaluation: int = 0


@dataclass(frozen=True)
class TruncationSelectionPolicy:
    """Azure's truncation selection policy.

    At a due interval k the trials that reached k (with `exclude_finished_jobs`, only those still
    running or queued, plus the candidate) are ranked by their k-th value. Of n such trials the
    floor(n * truncation_percentage / 100) worst are cut: the candidate goes when at least
    n - that many trials did strictly better, so ties never cut and small pools cut nobody.
    """

    truncation_percentage: int
    exclude_finished_jobs: bool = False
    evaluation_interval: int = 1
    delay_evaluation: int = 0


Policy: TypeAlias = BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy


@dataclass(frozen=True)
class TrialRecord:
    """One trial as the orchestrator persisted it.

    `history` holds the primary metric's (step, value) pairs in logging order: the k-th pair is
    interval k (1-based), whatever its step says. `value` is the last logged value of a
    completed trial.
    """

    index: int
    params: dict[str, Any]
    state: str  # "running" | "completed" | "failed" | "canceled" | "queued"
    value: float | None = None
    history: list[tuple[int, float]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------- parsing


def _check_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str, what: str) -> None:
    for key in raw:
        if key not in allowed:
            raise SpecError(
                f"unknown parameter '{key}' for {what}; its parameters are: {', '.join(allowed)}",
                field=f"{where}.{key}",
            )


def _number(raw: Any, where: str) -> float:
    """A finite number; numeric strings ("1e-3", as some YAML loaders leave them) are accepted."""
    value: Any = raw
    if isinstance(raw, str):
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"must be a finite number, not {raw!r}", field=where)
    return value


def _int(raw: Any, where: str, *, minimum: int, maximum: int | None = None) -> int:
    value = _number(raw, where)
    if not float(value).is_integer():
        raise SpecError(f"must be a whole number, not {raw!r}", field=where)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise SpecError(f"must be {bound}, not {raw!r}", field=where)
    return int(value)


def _parse_expression(name: str, raw: Any) -> Expression:
    where = f"search_space.{name}"
    if not isinstance(raw, Mapping):
        raise SpecError(
            f"must be an expression such as {{type: uniform, min_value: 0, max_value: 1}}, "
            f"not {raw!r}; types: {', '.join(SPACE_TYPES)}",
            field=where,
        )
    kind = raw.get("type")
    if kind is None:
        raise SpecError(f"missing 'type'; use one of: {', '.join(SPACE_TYPES)}", field=where)
    kind = str(kind).lower()
    if kind not in _PARAMS:
        raise SpecError(
            f"unknown type '{raw['type']}'; use one of: {', '.join(SPACE_TYPES)}",
            field=f"{where}.type",
        )
    params = _PARAMS[kind]
    _check_keys(raw, ("type", *params), where, f"type {kind}")
    for p in params:
        if raw.get(p) is None:
            raise SpecError(
                f"type {kind} needs '{p}' (its parameters: {', '.join(params)})",
                field=f"{where}.{p}",
            )
    if kind == "choice":
        return Expression(name, kind, values=_choice_values(raw["values"], f"{where}.values"))
    if kind == "randint":
        return Expression(name, kind, upper=_int(raw["upper"], f"{where}.upper", minimum=1))
    nums = {p: _number(raw[p], f"{where}.{p}") for p in params}
    if "min_value" in nums and nums["min_value"] > nums["max_value"]:
        raise SpecError(
            f"min_value {nums['min_value']} is greater than max_value {nums['max_value']}",
            field=f"{where}.min_value",
        )
    for p in ("sigma", "q"):
        if p in nums and nums[p] <= 0:
            raise SpecError(f"{p} must be greater than 0, not {nums[p]}", field=f"{where}.{p}")
    integral = "q" in nums and all(isinstance(v, int) for v in nums.values())
    return Expression(name, kind, integral=integral, **nums)  # type: ignore[arg-type]


def _choice_values(raw: Any, where: str) -> tuple[JsonScalar, ...]:
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence) or not raw:
        raise SpecError(f"must be a non-empty list of values, not {raw!r}", field=where)
    for i, v in enumerate(raw):
        if isinstance(v, Mapping):
            raise SpecError(
                "nested search spaces inside choice are not supported yet; "
                "flatten them into separate hyperparameters",
                field=f"{where}[{i}]",
            )
        if v is not None and not isinstance(v, str | int | float | bool):
            raise SpecError(
                f"choice values must be strings, numbers, booleans or null, not {v!r}",
                field=f"{where}[{i}]",
            )
    return tuple(raw)


def parse_search_space(raw: Mapping[str, Any] | None) -> SearchSpace:
    """Parse `search_space`: a mapping of hyperparameter name to expression."""
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(
            "must map each hyperparameter name to an expression such as "
            "{type: choice, values: [1, 2]}",
            field="search_space",
        )
    exprs = []
    for name, spec in raw.items():
        if not isinstance(name, str) or not name:
            raise SpecError(
                f"hyperparameter names must be strings, not {name!r}", field="search_space"
            )
        exprs.append(_parse_expression(name, spec))
    return SearchSpace(tuple(exprs))


def parse_sampling(raw: str | Mapping[str, Any] | None) -> Sampling:
    """Parse `sampling_algorithm`: `random` (default), `grid`, `bayesian`, or an object."""
    where = "sampling_algorithm"
    if raw is None:
        return Sampling()
    obj: Mapping[str, Any] = {"type": raw} if isinstance(raw, str) else raw
    if not isinstance(obj, Mapping):
        raise SpecError(f"must be one of {', '.join(SAMPLING_TYPES)} or an object", field=where)
    kind = str(obj.get("type", "")).lower()
    if kind not in SAMPLING_TYPES:
        raise SpecError(
            f"unknown sampling algorithm {obj.get('type')!r}; use one of: "
            f"{', '.join(SAMPLING_TYPES)}",
            field=f"{where}.type",
        )
    allowed = ("type", "seed", "rule", "logbase") if kind == "random" else ("type", "seed")
    _check_keys(obj, allowed, where, f"{kind} sampling")
    seed = None if obj.get("seed") is None else _int(obj["seed"], f"{where}.seed", minimum=0)
    rule = str(obj.get("rule") or "random").lower()
    if rule not in ("random", "sobol"):
        raise SpecError(f"unknown rule {obj['rule']!r}; use random or sobol", field=f"{where}.rule")
    if rule == "sobol" and importlib.util.find_spec("scipy") is None:
        raise SpecError(
            "rule sobol needs the scipy package on the workspace server; install scipy there "
            "or use rule: random",
            field=f"{where}.rule",
        )
    logbase: float = math.e
    raw_base = obj.get("logbase")
    if raw_base is not None and str(raw_base).lower() != "e":
        logbase = _number(raw_base, f"{where}.logbase")
        if logbase <= 0 or logbase == 1:
            raise SpecError(
                f"must be a positive number other than 1, or 'e', not {raw_base!r}",
                field=f"{where}.logbase",
            )
    return Sampling(kind, seed, rule, logbase)


def check_compatible(space: SearchSpace, sampling: Sampling) -> None:
    """Refuse expression types the sampling algorithm cannot handle, naming the first culprit."""
    allowed = {"grid": ("choice",), "bayesian": _BAYESIAN_TYPES}.get(sampling.type)
    if allowed is None:
        return
    for e in space.expressions:
        if e.type not in allowed:
            raise SpecError(
                f"{sampling.type} sampling takes only {', '.join(allowed)} expressions, and "
                f"'{e.name}' is {e.type}; change it or use sampling_algorithm: random",
                field=f"search_space.{e.name}.type",
            )


def grid_size(space: SearchSpace) -> int:
    """How many points a grid sweep has: the product of the choice lengths."""
    check_compatible(space, Sampling("grid"))
    return math.prod(len(e.values) for e in space.expressions)


def _goal(raw: Any, where: str = "objective.goal") -> str:
    goal = str(raw).lower()
    if goal not in ("maximize", "minimize"):
        raise SpecError(f"must be maximize or minimize, not {raw!r}", field=where)
    return goal


def parse_objective(raw: Mapping[str, Any] | None) -> Objective:
    """Parse `objective`: `goal` (case-insensitive) and the `primary_metric` trials log."""
    if not isinstance(raw, Mapping):
        raise SpecError(
            "is required: {goal: maximize|minimize, primary_metric: <metric name>}",
            field="objective",
        )
    _check_keys(raw, ("goal", "primary_metric"), "objective", "objective")
    metric = raw.get("primary_metric")
    if not isinstance(metric, str) or not metric.strip():
        raise SpecError(
            "is required: the metric name the trials log with mlflow.log_metric",
            field="objective.primary_metric",
        )
    if raw.get("goal") is None:
        raise SpecError("is required: maximize or minimize", field="objective.goal")
    return Objective(_goal(raw["goal"]), metric)


def parse_limits(raw: Mapping[str, Any] | None) -> Limits:
    """Parse `limits`, with Azure's defaults; max_concurrent_trials defaults to the total."""
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field="limits")
    keys = ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout")
    _check_keys(raw, keys, "limits", "limits")
    total = _int(raw.get("max_total_trials", 1000), "limits.max_total_trials", minimum=1)
    if total > 1000:
        raise SpecError(f"must be between 1 and 1000, not {total}", field="limits.max_total_trials")
    concurrent = raw.get("max_concurrent_trials")
    timeout = raw.get("timeout")
    trial_timeout = raw.get("trial_timeout")
    return Limits(
        max_total_trials=total,
        max_concurrent_trials=total
        if concurrent is None
        else _int(concurrent, "limits.max_concurrent_trials", minimum=1),
        timeout=5_184_000 if timeout is None else _int(timeout, "limits.timeout", minimum=1),
        trial_timeout=None
        if trial_timeout is None
        else _int(trial_timeout, "limits.trial_timeout", minimum=1),
    )


_POLICY_KEYS = {
    "bandit": ("slack_factor", "slack_amount"),
    "median_stopping": (),
    "truncation_selection": ("truncation_percentage", "exclude_finished_jobs"),
}


def parse_early_termination(raw: Mapping[str, Any] | None) -> Policy | None:
    """Parse `early_termination`; absent means no policy.

    `evaluation_interval` 0 (the how-to's default) is read as 1, the reference's default.
    """
    where = "early_termination"
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object with a 'type'", field=where)
    kind = str(raw.get("type", "")).lower()
    if kind not in _POLICY_KEYS:
        raise SpecError(
            f"unknown policy {raw.get('type')!r}; use one of: {', '.join(_POLICY_KEYS)}",
            field=f"{where}.type",
        )
    keys = ("type", "evaluation_interval", "delay_evaluation", *_POLICY_KEYS[kind])
    _check_keys(raw, keys, where, f"the {kind} policy")
    interval = _int(raw.get("evaluation_interval", 1), f"{where}.evaluation_interval", minimum=0)
    common: dict[str, Any] = {
        "evaluation_interval": max(interval, 1),
        "delay_evaluation": _int(
            raw.get("delay_evaluation", 0), f"{where}.delay_evaluation", minimum=0
        ),
    }
    if kind == "median_stopping":
        return MedianStoppingPolicy(**common)
    if kind == "truncation_selection":
        if raw.get("truncation_percentage") is None:
            raise SpecError("is required (1-99)", field=f"{where}.truncation_percentage")
        percentage = _int(
            raw["truncation_percentage"], f"{where}.truncation_percentage", minimum=1, maximum=99
        )
        exclude = raw.get("exclude_finished_jobs", False)
        if not isinstance(exclude, bool):
            raise SpecError(
                f"must be true or false, not {exclude!r}", field=f"{where}.exclude_finished_jobs"
            )
        return TruncationSelectionPolicy(percentage, exclude, **common)
    given = [k for k in ("slack_factor", "slack_amount") if raw.get(k) is not None]
    if len(given) != 1:
        raise SpecError(
            "the bandit policy needs exactly one of slack_factor (a ratio) or slack_amount "
            "(an absolute distance)",
            field=f"{where}.slack_factor",
        )
    slack = _number(raw[given[0]], f"{where}.{given[0]}")
    if slack < 0:
        raise SpecError(f"must be 0 or more, not {slack}", field=f"{where}.{given[0]}")
    if given[0] == "slack_factor":
        return BanditPolicy(slack_factor=slack, **common)
    return BanditPolicy(slack_amount=slack, **common)


# --------------------------------------------------------------------------------------- sampling


def _seed(*parts: object) -> int:
    """A 32-bit seed from the parts, the same in every process (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _quantize(x: float, q: float, integral: bool) -> int | float:
    steps = round(x / q)
    if integral:
        return int(steps) * int(q)
    # round to q's own decimals: 3 * 0.1 should read 0.3, not 0.30000000000000004
    exponent = Decimal(repr(float(q))).as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return round(steps * q, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence optuna's ExperimentalWarning and scipy's Sobol balance note (we ask one point)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="The balance properties of Sobol")
        yield


class _SobolPoint(optuna.samplers.QMCSampler):
    """A scrambled Sobol' sampler pinned to point `point` of its sequence.

    QMCSampler counts its points in study attributes and learns the space from a first trial;
    a sweep's study is rebuilt per call, so both come from the arguments instead: trial i always
    gets point i of the sequence the seed defines. Choices fall back to the independent sampler.
    """

    def __init__(
        self,
        space: Mapping[str, BaseDistribution],
        point: int,
        seed: int,
        independent_sampler: optuna.samplers.BaseSampler,
    ) -> None:
        super().__init__(
            qmc_type="sobol",
            scramble=True,
            seed=seed,
            independent_sampler=independent_sampler,
            warn_independent_sampling=False,
        )
        self._space = {k: d for k, d in space.items() if not isinstance(d, CategoricalDistribution)}
        self._point = point

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._space)

    # a private hook of QMCSampler (optuna is pinned below 5; a unit test checks the spread)
    def _find_sample_id(self, study: optuna.Study, search_space: Any) -> int:
        return self._point


def _sampler(
    space: SearchSpace,
    sampling: Sampling,
    seed: int,
    index: int,
    distributions: Mapping[str, BaseDistribution],
) -> optuna.samplers.BaseSampler:
    per_trial = _seed(seed, index)
    if sampling.type == "grid":
        # the shuffle is fixed by the sweep's seed; trial i then takes the i-th shuffled point
        grid = {e.name: list(range(len(e.values))) for e in space.expressions}
        return optuna.samplers.GridSampler(grid, seed=_seed(seed, "grid"))
    if sampling.type == "bayesian":
        # the constant liar keeps concurrent trials from piling onto one point
        return optuna.samplers.TPESampler(seed=per_trial, constant_liar=True)
    independent = optuna.samplers.RandomSampler(seed=per_trial)
    if sampling.rule == "sobol":
        return _SobolPoint(distributions, index, _seed(seed, "sobol"), independent)
    return independent


def _history(
    space: SearchSpace,
    distributions: Mapping[str, BaseDistribution],
    index: int,
    trials: Sequence[TrialRecord],
) -> list[FrozenTrial]:
    """Trials 0..index-1 as Optuna sees them; a missing one becomes a failed trial, so that the
    study's numbering matches the sweep's indices."""
    by_index = {t.index: t for t in trials if 0 <= t.index < index}
    out = []
    for i in range(index):
        t = by_index.get(i)
        if t is None:
            out.append(optuna.trial.create_trial(state=TrialState.FAIL))
            continue
        params, dists = {}, {}
        for e in space.expressions:
            x = e.to_internal(t.params.get(e.name)) if e.name in t.params else None
            if x is not None:
                params[e.name], dists[e.name] = x, distributions[e.name]
        curve = {k: v for k, (_, v) in enumerate(t.history, start=1) if not math.isnan(v)}
        if t.state == "completed" and t.value is not None and not math.isnan(t.value):
            state, value = TrialState.COMPLETE, float(t.value)
        elif t.state in ("running", "queued"):
            state, value = TrialState.RUNNING, None
        elif t.state == "canceled" and curve:
            # cut by early termination: TPE ranks pruned trials by their last value
            state, value = TrialState.PRUNED, None
        else:
            state, value = TrialState.FAIL, None
        out.append(
            optuna.trial.create_trial(
                state=state,
                value=value,
                params=params,
                distributions=dists,
                intermediate_values=curve if state == TrialState.PRUNED else None,
            )
        )
    return out


def suggest(
    space: SearchSpace,
    sampling: Sampling,
    index: int,
    trials: Sequence[TrialRecord],
    goal: str,
    *,
    default_seed: int = 0,
) -> dict[str, Any] | None:
    """The hyperparameters of trial `index` (0-based), or None once a grid is exhausted.

    The answer depends only on (seed, index, earlier trials): `sampling.seed`, or `default_seed`
    when the YAML gives none (pass something sweep-specific, so unseeded sweeps differ). Trials
    with an index of `index` or more are ignored, so the same call after a restart returns what
    it returned before, provided the earlier trials are the same. Random sampling (either rule)
    ignores history by design; grid hands out the seed-shuffled grid point `index`; bayesian
    runs TPE over the earlier trials (completed ones with values; running and queued ones as
    pending; canceled ones with a metric curve as pruned; the rest as failed).
    """
    if index < 0:
        raise ValueError(f"trial index must be 0 or more, not {index}")
    direction = _goal(goal, "goal")
    check_compatible(space, sampling)
    if sampling.type == "grid" and index >= grid_size(space):
        return None
    seed = sampling.seed if sampling.seed is not None else default_seed
    distributions = {e.name: e.distribution() for e in space.expressions}
    with _quiet():
        study = optuna.create_study(
            direction=direction, sampler=_sampler(space, sampling, seed, index, distributions)
        )
        if sampling.type != "random":
            study.add_trials(_history(space, distributions, index, trials))
        trial = study.ask(distributions)
    return {e.name: e.to_value(trial.params[e.name], sampling.logbase) for e in space.expressions}


# ------------------------------------------------------------------------------ early termination


def _due_interval(policy: Policy, logged: int) -> int | None:
    """The latest interval k <= logged at which the policy applies: k a multiple of
    evaluation_interval and k > delay_evaluation."""
    k = logged - logged % policy.evaluation_interval
    return k if k > policy.delay_evaluation else None


def _curves(trials: Sequence[TrialRecord]) -> dict[int, list[float]]:
    return {t.index: [v for _, v in t.history] for t in trials}


def _at(curve: list[float], k: int) -> float | None:
    return curve[k - 1] if len(curve) >= k and not math.isnan(curve[k - 1]) else None


def _bandit(p: BanditPolicy, maximize: bool, v: float, best: float) -> tuple[bool, str]:
    if p.slack_amount is not None:
        threshold = best - p.slack_amount if maximize else best + p.slack_amount
        sign = "-" if maximize else "+"
        formula = f"{best:.4g} {sign} {p.slack_amount:g}"
    else:
        factor = 1 + (p.slack_factor or 0.0)
        # divide toward zero when maximizing a positive best, and so on: always the lenient side
        shrink = maximize == (best >= 0)
        threshold = best / factor if shrink else best * factor
        formula = f"{best:.4g} {'/' if shrink else '*'} (1 + {p.slack_factor:g})"
    worse = v < threshold if maximize else v > threshold
    side = "below" if maximize else "above"
    return worse, f"is {side} the best {formula} = {threshold:.4g}"


def _judge(
    policy: Policy,
    maximize: bool,
    trial: TrialRecord,
    k: int,
    trials: Sequence[TrialRecord],
    curves: Mapping[int, list[float]],
    metric: str,
) -> str | None:
    own = curves[trial.index]
    v = _at(own, k)
    if v is None:
        return None

    def better(a: float, b: float) -> bool:
        return a > b if maximize else a < b

    if isinstance(policy, BanditPolicy):
        values = [x for c in curves.values() if (x := _at(c, k)) is not None]
        best = max(values) if maximize else min(values)
        worse, text = _bandit(policy, maximize, v, best)
        return f"bandit policy: {metric} {v:.4g} at interval {k} {text}" if worse else None
    if isinstance(policy, MedianStoppingPolicy):
        reached = [
            [x for x in c[:k] if not math.isnan(x)]
            for c in curves.values()
            if _at(c, k) is not None
        ]
        if len(reached) < 2:
            return None
        median = statistics.median(statistics.fmean(c) for c in reached)
        seen = [x for x in own[:k] if not math.isnan(x)]
        best_so_far = max(seen) if maximize else min(seen)
        if not better(median, best_so_far):
            return None
        return (
            f"median stopping policy: best {metric} so far {best_so_far:.4g} at interval {k} is "
            f"{'below' if maximize else 'above'} the median {median:.4g} of the running averages "
            f"of {len(reached)} trials"
        )
    pool = [
        x
        for t in trials
        if t.index == trial.index or not (policy.exclude_finished_jobs and t.state in _FINISHED)
        if (x := _at(curves[t.index], k)) is not None
    ]
    cut = len(pool) * policy.truncation_percentage // 100
    if len(pool) < 2 or cut == 0 or sum(better(x, v) for x in pool) < len(pool) - cut:
        return None
    return (
        f"truncation selection policy: {metric} {v:.4g} at interval {k} is among the "
        f"{cut} worst of {len(pool)} trials (lowest {policy.truncation_percentage}%)"
    )


def to_stop(
    policy: Policy,
    goal: str,
    trials: Sequence[TrialRecord],
    *,
    metric: str = "primary metric",
) -> dict[int, str]:
    """The running trials the policy cuts now: trial index -> the reason, naming `metric`.

    Interval k is a trial's k-th logged value of the primary metric. Each running trial is judged
    once per call, at its latest due interval (see `_due_interval`), against every trial's k-th
    value (canceled and finished trials included, unless the policy excludes them).
    """
    maximize = _goal(goal, "goal") == "maximize"
    curves = _curves(trials)
    out: dict[int, str] = {}
    for t in trials:
        if t.state != "running":
            continue
        k = _due_interval(policy, len(t.history))
        if k is None:
            continue
        reason = _judge(policy, maximize, t, k, trials, curves, metric)
        if reason:
            out[t.index] = reason
    return out


def best_trial(goal: str, trials: Sequence[TrialRecord]) -> TrialRecord | None:
    """The completed trial with the best value (the lowest index on ties), or None."""
    maximize = _goal(goal, "goal") == "maximize"
    done = [
        t
        for t in trials
        if t.state == "completed" and t.value is not None and not math.isnan(t.value)
    ]
    if not done:
        return None
    return min(done, key=lambda t: ((-t.value if maximize else t.value), t.index))  # type: ignore[operator]
