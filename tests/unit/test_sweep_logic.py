"""Sweep logic: search-space parsing, sampling, restart-safe suggestions, early termination."""

from __future__ import annotations

import json
import math
import statistics
import zlib
from typing import Any

import pytest

from forgeml.core.errors import SpecError
from forgeml.pipelines.sweep import (
    SPACE_TYPES,
    BanditPolicy,
    Limits,
    MedianStoppingPolicy,
    Objective,
    Sampling,
    TrialRecord,
    TruncationSelectionPolicy,
    best_trial,
    check_compatible,
    grid_size,
    parse_early_termination,
    parse_limits,
    parse_objective,
    parse_sampling,
    parse_search_space,
    suggest,
    to_stop,
)

RANDOM = Sampling("random", seed=7)


def _samples(expr: dict[str, Any], n: int = 200, sampling: Sampling = RANDOM) -> list[Any]:
    space = parse_search_space({"h": expr})
    out = []
    for i in range(n):
        params = suggest(space, sampling, i, [], "maximize")
        assert params is not None
        assert json.loads(json.dumps(params)) == params  # JSON scalars, nothing else
        out.append(params["h"])
    return out


def _is_multiple(v: float, q: float) -> bool:
    return abs(v / q - round(v / q)) < 1e-9


# ------------------------------------------------------------------------------ every type


def test_space_types_are_azures_ten() -> None:
    assert set(SPACE_TYPES) == {
        "choice",
        "randint",
        "uniform",
        "loguniform",
        "quniform",
        "qloguniform",
        "normal",
        "lognormal",
        "qnormal",
        "qlognormal",
    }


def test_choice_returns_the_elements_unchanged() -> None:
    values = ["rbf", 3, 0.5, True, None]
    got = _samples({"type": "choice", "values": values})
    assert set(map(repr, got)) == set(map(repr, values))  # each, with its type (True is not 1)


def test_randint_is_an_int_in_zero_to_upper() -> None:
    got = _samples({"type": "randint", "upper": 4})
    assert all(type(v) is int for v in got)
    assert set(got) == {0, 1, 2, 3}


def test_uniform_stays_in_bounds() -> None:
    got = _samples({"type": "uniform", "min_value": -2, "max_value": 3})
    assert all(type(v) is float and -2 <= v <= 3 for v in got)
    assert min(got) < -1.5 and max(got) > 2.5


def test_loguniform_bounds_are_exponents() -> None:
    got = _samples({"type": "loguniform", "min_value": -6, "max_value": -1})
    assert all(math.exp(-6) <= v <= math.exp(-1) for v in got)
    assert min(got) < 0.01  # spread in log space: uniform in [e^-6, e^-1] would rarely go there


def test_loguniform_uses_the_random_logbase() -> None:
    sampling = parse_sampling({"type": "random", "seed": 1, "logbase": 10})
    got = _samples({"type": "loguniform", "min_value": -4, "max_value": -1}, sampling=sampling)
    assert all(1e-4 <= v <= 0.1 for v in got)
    assert min(got) < 1e-3


def test_quniform_with_integers_gives_ints_on_the_grid() -> None:
    got = _samples({"type": "quniform", "min_value": 0, "max_value": 10, "q": 2})
    assert all(type(v) is int and v % 2 == 0 and 0 <= v <= 10 for v in got)
    assert {0, 10} <= set(got)


def test_quniform_with_a_float_step_gives_clean_floats() -> None:
    got = _samples({"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.1})
    assert all(type(v) is float and _is_multiple(v, 0.1) and 0 <= v <= 1 for v in got)
    assert all(len(repr(v)) <= 4 for v in got)  # 0.3, not 0.30000000000000004


def test_qloguniform_quantizes_the_exponential() -> None:
    got = _samples({"type": "qloguniform", "min_value": 0, "max_value": 3, "q": 1})
    assert all(type(v) is int and 1 <= v <= round(math.exp(3)) for v in got)


def test_normal_has_the_right_centre() -> None:
    got = _samples({"type": "normal", "mu": 10, "sigma": 2}, n=300)
    assert all(type(v) is float for v in got)
    assert abs(statistics.fmean(got) - 10) < 0.5
    assert 1.5 < statistics.stdev(got) < 2.5


def test_lognormal_is_exp_of_a_normal() -> None:
    got = _samples({"type": "lognormal", "mu": 1, "sigma": 0.5}, n=300)
    assert all(v > 0 for v in got)
    assert abs(statistics.fmean(math.log(v) for v in got) - 1) < 0.15


def test_qnormal_and_qlognormal_are_quantized() -> None:
    ints = _samples({"type": "qnormal", "mu": 0, "sigma": 5, "q": 1})
    assert all(type(v) is int for v in ints)
    assert len(set(ints)) > 5
    floats = _samples({"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.5})
    assert all(type(v) is float and v >= 0 and _is_multiple(v, 0.5) for v in floats)


def test_sobol_points_are_spread_evenly() -> None:
    pytest.importorskip("scipy")
    sampling = parse_sampling({"type": "random", "seed": 3, "rule": "sobol"})
    got = _samples({"type": "uniform", "min_value": 0, "max_value": 8}, n=8, sampling=sampling)
    # eight consecutive points of a Sobol' sequence fall one per eighth of the range
    assert sorted(int(v) for v in got) == list(range(8))


# ---------------------------------------------------------------------------------- bad input


def _error(raw: dict[str, Any]) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_search_space(raw)
    return info.value


def test_unknown_type_lists_the_valid_ones() -> None:
    err = _error({"lr": {"type": "gaussian", "mu": 0}})
    assert err.field == "search_space.lr.type"
    assert "gaussian" in str(err) and "loguniform" in str(err) and "qlognormal" in str(err)


def test_missing_param_is_named() -> None:
    err = _error({"lr": {"type": "uniform", "min_value": 0}})
    assert err.field == "search_space.lr.max_value"
    assert "max_value" in str(err)


def test_unknown_param_names_the_right_ones() -> None:
    err = _error({"lr": {"type": "uniform", "min": 0, "max_value": 1}})
    assert err.field == "search_space.lr.min"
    assert "min_value" in str(err)


def test_min_above_max_is_refused() -> None:
    err = _error({"lr": {"type": "quniform", "min_value": 5, "max_value": 1, "q": 1}})
    assert err.field == "search_space.lr.min_value"
    assert "greater than max_value" in str(err)


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ({"type": "normal", "mu": 0, "sigma": 0}, "search_space.h.sigma"),
        ({"type": "quniform", "min_value": 0, "max_value": 1, "q": -1}, "search_space.h.q"),
        ({"type": "randint", "upper": 0}, "search_space.h.upper"),
        ({"type": "randint", "upper": 2.5}, "search_space.h.upper"),
        ({"type": "uniform", "min_value": "low", "max_value": 1}, "search_space.h.min_value"),
        ({"type": "choice", "values": []}, "search_space.h.values"),
        ({"type": "choice", "values": [1, [2]]}, "search_space.h.values[1]"),
        ("uniform(0, 1)", "search_space.h"),
    ],
)
def test_bad_params_name_their_field(expr: Any, field: str) -> None:
    assert _error({"h": expr}).field == field


def test_nested_choice_spaces_are_refused_clearly() -> None:
    err = _error({"m": {"type": "choice", "values": [{"kind": "a"}]}})
    assert err.field == "search_space.m.values[0]"
    assert "not supported yet" in str(err)


def test_numbers_written_as_strings_are_read() -> None:
    space = parse_search_space({"lr": {"type": "uniform", "min_value": "1e-3", "max_value": "1"}})
    assert (space["lr"].min_value, space["lr"].max_value) == (0.001, 1)


def test_grid_takes_only_choices_and_names_the_culprit() -> None:
    space = parse_search_space(
        {
            "k": {"type": "choice", "values": ["a", "b"]},
            "lr": {"type": "uniform", "min_value": 0, "max_value": 1},
        }
    )
    with pytest.raises(SpecError) as info:
        check_compatible(space, parse_sampling("grid"))
    assert info.value.field == "search_space.lr.type"
    assert "'lr' is uniform" in str(info.value)
    check_compatible(space, parse_sampling("random"))


def test_bayesian_takes_choice_uniform_quniform_only() -> None:
    ok = parse_search_space(
        {
            "k": {"type": "choice", "values": [1, 2]},
            "u": {"type": "uniform", "min_value": 0, "max_value": 1},
            "q": {"type": "quniform", "min_value": 0, "max_value": 4, "q": 1},
        }
    )
    check_compatible(ok, parse_sampling("bayesian"))
    bad = parse_search_space({"lr": {"type": "loguniform", "min_value": -5, "max_value": -1}})
    with pytest.raises(SpecError, match="'lr' is loguniform"):
        check_compatible(bad, parse_sampling("Bayesian"))


def test_sampling_forms() -> None:
    assert parse_sampling(None) == Sampling("random")
    assert parse_sampling("GRID") == Sampling("grid")
    got = parse_sampling({"type": "random", "seed": 42, "rule": "Sobol", "logbase": "e"})
    assert got == Sampling("random", 42, "sobol", math.e)
    for raw, field in [
        ("annealing", "sampling_algorithm.type"),
        ({"type": "grid", "rule": "sobol"}, "sampling_algorithm.rule"),
        ({"type": "random", "rule": "halton"}, "sampling_algorithm.rule"),
        ({"type": "random", "logbase": 1}, "sampling_algorithm.logbase"),
        ({"type": "random", "seed": "x"}, "sampling_algorithm.seed"),
    ]:
        with pytest.raises(SpecError) as info:
            parse_sampling(raw)  # type: ignore[arg-type]
        assert info.value.field == field


def test_objective() -> None:
    assert parse_objective({"goal": "Maximize", "primary_metric": "acc"}) == Objective(
        "maximize", "acc"
    )
    for raw, field in [
        (None, "objective"),
        ({"goal": "maximize"}, "objective.primary_metric"),
        ({"primary_metric": "acc"}, "objective.goal"),
        ({"goal": "biggest", "primary_metric": "acc"}, "objective.goal"),
    ]:
        with pytest.raises(SpecError) as info:
            parse_objective(raw)
        assert info.value.field == field


def test_limits() -> None:
    assert parse_limits(None) == Limits(1000, 1000, 5_184_000, None)
    assert parse_limits({"max_total_trials": 20, "trial_timeout": 600}) == Limits(
        20, 20, 5_184_000, 600
    )
    with pytest.raises(SpecError) as info:
        parse_limits({"max_total_trials": 5000})
    assert info.value.field == "limits.max_total_trials"


def test_early_termination_forms() -> None:
    assert parse_early_termination(None) is None
    assert parse_early_termination(
        {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 0, "delay_evaluation": 5}
    ) == BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)
    assert parse_early_termination({"type": "median_stopping"}) == MedianStoppingPolicy()
    assert parse_early_termination(
        {"type": "truncation_selection", "truncation_percentage": 20}
    ) == TruncationSelectionPolicy(20)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "bandit"}, "early_termination.slack_factor"),
        (
            {"type": "bandit", "slack_factor": 0.1, "slack_amount": 1},
            "early_termination.slack_factor",
        ),
        ({"type": "truncation_selection"}, "early_termination.truncation_percentage"),
        (
            {"type": "truncation_selection", "truncation_percentage": 100},
            "early_termination.truncation_percentage",
        ),
        ({"type": "median"}, "early_termination.type"),
        ({"type": "median_stopping", "slack_factor": 1}, "early_termination.slack_factor"),
    ]
    for raw, field in cases:
        with pytest.raises(SpecError) as info:
            parse_early_termination(raw)
        assert info.value.field == field


# ------------------------------------------------------------------------------- determinism

MIXED = parse_search_space(
    {
        "lr": {"type": "loguniform", "min_value": -6, "max_value": -1},
        "units": {"type": "randint", "upper": 1000},
        "kernel": {"type": "choice", "values": ["rbf", "linear", "poly"]},
        "noise": {"type": "normal", "mu": 0, "sigma": 1},
    }
)


def test_same_seed_index_and_history_give_the_same_params() -> None:
    first = [suggest(MIXED, RANDOM, i, [], "maximize") for i in range(10)]
    again = [suggest(MIXED, RANDOM, i, [], "maximize") for i in range(10)]
    assert first == again
    assert len({json.dumps(p) for p in first}) == 10  # each index its own point
    other = [suggest(MIXED, Sampling("random", seed=8), i, [], "maximize") for i in range(10)]
    assert other != first


def test_default_seed_stands_in_for_a_missing_seed() -> None:
    unseeded = Sampling("random")
    a = suggest(MIXED, unseeded, 0, [], "maximize", default_seed=1)
    assert a == suggest(MIXED, unseeded, 0, [], "maximize", default_seed=1)
    assert a != suggest(MIXED, unseeded, 0, [], "maximize", default_seed=2)


def _run_sequentially(
    space: Any, sampling: Sampling, n: int, goal: str = "maximize"
) -> list[TrialRecord]:
    """Create trials one by one, each completing two trials later (as concurrent trials do)."""
    trials: list[TrialRecord] = []
    for i in range(n):
        trials = [
            TrialRecord(t.index, t.params, "completed", _score(t.params), [(0, _score(t.params))])
            if t.index <= i - 2
            else t
            for t in trials
        ]
        params = suggest(space, sampling, i, trials, goal)
        if params is None:
            break
        trials.append(TrialRecord(i, params, "running", None, []))
    return trials


def _score(params: dict[str, Any]) -> float:
    return zlib.crc32(json.dumps(params, sort_keys=True).encode()) % 1000 / 1000


@pytest.mark.parametrize(
    ("space", "sampling"),
    [
        (MIXED, RANDOM),
        (
            parse_search_space(
                {
                    "a": {"type": "choice", "values": [1, 2, 3]},
                    "b": {"type": "choice", "values": ["x", "y", "z", "w"]},
                }
            ),
            Sampling("grid", seed=5),
        ),
        (
            parse_search_space(
                {
                    "u": {"type": "uniform", "min_value": 0, "max_value": 1},
                    "k": {"type": "choice", "values": ["a", "b"]},
                }
            ),
            Sampling("bayesian", seed=5),
        ),
    ],
    ids=["random", "grid", "bayesian"],
)
def test_a_restart_reproduces_every_suggestion(space: Any, sampling: Sampling) -> None:
    trials = _run_sequentially(space, sampling, 14)
    assert len(trials) >= 12
    # after a restart the orchestrator has only the persisted trials, in their latest states
    persisted = [TrialRecord(t.index, t.params, "completed", _score(t.params), []) for t in trials]
    for t in trials:
        if sampling.type != "bayesian":  # random and grid do not learn from results
            assert suggest(space, sampling, t.index, persisted, "maximize") == t.params
    # later trials never change an earlier trial's suggestion
    n = len(trials) - 1
    assert suggest(space, sampling, n, persisted, "maximize") == suggest(
        space, sampling, n, persisted[:n], "maximize"
    )


def test_grid_visits_every_point_once_then_stops() -> None:
    space = parse_search_space(
        {
            "a": {"type": "choice", "values": [1, 2, 3]},
            "b": {"type": "choice", "values": ["x", "y"]},
            "c": {"type": "choice", "values": [True, None]},
        }
    )
    assert grid_size(space) == 12
    trials = _run_sequentially(space, Sampling("grid", seed=1), 20)
    points = [(t.params["a"], t.params["b"], t.params["c"]) for t in trials]
    assert len(points) == 12
    assert sorted(points, key=repr) == sorted(
        [(a, b, c) for a in (1, 2, 3) for b in ("x", "y") for c in (True, None)], key=repr
    )
    assert suggest(space, Sampling("grid", seed=1), 12, trials, "maximize") is None
    other = _run_sequentially(space, Sampling("grid", seed=2), 12)
    assert [t.params for t in other] != [t.params for t in trials]  # the seed shuffles


def test_grid_size_refuses_non_choice_spaces() -> None:
    with pytest.raises(SpecError):
        grid_size(MIXED)


# ---------------------------------------------------------------------------------- bayesian

ONE_D = parse_search_space({"x": {"type": "uniform", "min_value": -5, "max_value": 5}})


def _distance_after_learning(sampling: Sampling) -> float:
    trials: list[TrialRecord] = []
    for i in range(40):
        params = suggest(ONE_D, sampling, i, trials, "minimize")
        assert params is not None
        loss = (params["x"] - 2.0) ** 2
        trials.append(TrialRecord(i, params, "completed", loss, [(0, loss)]))
    return float(statistics.median(abs(t.params["x"] - 2.0) for t in trials[20:]))


def test_bayesian_concentrates_near_the_optimum() -> None:
    for seed in (1, 2, 3):
        tpe = _distance_after_learning(Sampling("bayesian", seed=seed))
        rnd = _distance_after_learning(Sampling("random", seed=seed))
        assert tpe < rnd, (seed, tpe, rnd)


def test_bayesian_returns_valid_params_with_all_trial_states() -> None:
    space = parse_search_space(
        {
            "k": {"type": "choice", "values": ["a", "b", "c"]},
            "u": {"type": "uniform", "min_value": 0, "max_value": 1},
            "q": {"type": "quniform", "min_value": 1, "max_value": 9, "q": 2},
        }
    )
    sampling = Sampling("bayesian", seed=4)
    states = ["completed", "failed", "canceled", "running", "queued", "completed"]
    trials: list[TrialRecord] = []
    for i in range(24):
        params = suggest(space, sampling, i, trials, "maximize")
        assert params is not None
        assert params["k"] in ("a", "b", "c")
        assert 0 <= params["u"] <= 1
        assert type(params["q"]) is int and params["q"] % 2 == 0
        state = states[i % len(states)]
        value = params["u"] if state == "completed" else None
        history = [(0, params["u"])] if state in ("completed", "canceled") else []
        trials.append(TrialRecord(i, params, state, value, history))


# ------------------------------------------------------------------------- early termination


def _trial(index: int, values: list[float], state: str = "running") -> TrialRecord:
    final = values[-1] if state == "completed" else None
    return TrialRecord(index, {}, state, final, [(10 * k, v) for k, v in enumerate(values)])


BEST = [0.5, 0.6, 0.7, 0.8, 0.85]


def test_bandit_slack_factor_kills_a_trial_too_far_below_the_best() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    trials = [_trial(0, BEST, "completed"), _trial(1, [0.5, 0.6, 0.6, 0.61])]
    got = to_stop(policy, "maximize", trials, metric="accuracy")
    assert list(got) == [1]
    assert got[1] == (
        "bandit policy: accuracy 0.61 at interval 4 is below the best 0.8 / (1 + 0.1) = 0.7273"
    )
    keep = [_trial(0, BEST, "completed"), _trial(1, [0.5, 0.6, 0.6, 0.75])]
    assert to_stop(policy, "maximize", keep) == {}


def test_bandit_slack_amount_when_minimizing() -> None:
    policy = BanditPolicy(slack_amount=0.2)
    losses = [2.0, 1.5, 1.0]
    assert 1 in to_stop(policy, "minimize", [_trial(0, losses), _trial(1, [2.0, 1.6, 1.3])])
    assert to_stop(policy, "minimize", [_trial(0, losses), _trial(1, [2.0, 1.6, 1.1])]) == {}


def test_bandit_never_cuts_the_best_or_a_lone_trial() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    assert to_stop(policy, "maximize", [_trial(0, [0.1, 0.01])]) == {}
    # with negative metrics the ratio is applied on the lenient side of the best
    negative = [_trial(0, [-0.5]), _trial(1, [-0.52]), _trial(2, [-0.6])]
    assert list(to_stop(policy, "maximize", negative)) == [2]


def test_delay_evaluation_and_evaluation_interval_are_respected() -> None:
    leader = _trial(0, [0.9] * 6, "completed")
    lagging = _trial(1, [0.1] * 4)
    assert 1 in to_stop(BanditPolicy(slack_factor=0.1), "maximize", [leader, lagging])
    # interval 4 is not past a delay of 4; interval 5 is
    delayed = BanditPolicy(slack_factor=0.1, delay_evaluation=4)
    assert to_stop(delayed, "maximize", [leader, lagging]) == {}
    assert 1 in to_stop(delayed, "maximize", [leader, _trial(1, [0.1] * 5)])
    # every 3rd interval: with 4 values logged, interval 3 decides, not interval 4
    every3 = BanditPolicy(slack_factor=0.1, evaluation_interval=3)
    bad_at_4 = _trial(1, [0.9, 0.9, 0.9, 0.1])
    assert to_stop(every3, "maximize", [leader, bad_at_4]) == {}
    bad_at_3 = _trial(1, [0.9, 0.9, 0.1, 0.9])
    assert to_stop(every3, "maximize", [leader, bad_at_3])[1].startswith(
        "bandit policy: primary metric 0.1 at interval 3"
    )
    assert to_stop(every3, "maximize", [leader, _trial(1, [0.1, 0.1])]) == {}


def test_only_running_trials_are_stopped() -> None:
    policy = BanditPolicy(slack_factor=0.1)
    trials = [_trial(0, BEST), _trial(1, [0.1], "completed"), _trial(2, [0.1], "canceled")]
    assert to_stop(policy, "maximize", trials) == {}


def test_median_stopping() -> None:
    policy = MedianStoppingPolicy()
    good = [_trial(0, [0.8, 0.85, 0.9], "completed"), _trial(1, [0.7, 0.8, 0.85])]
    got = to_stop(policy, "maximize", [*good, _trial(2, [0.1, 0.2, 0.3])], metric="acc")
    assert list(got) == [2]
    assert "median stopping policy: best acc so far 0.3 at interval 3" in got[2]
    # its best so far (0.8) beats the median of the running averages
    assert to_stop(policy, "maximize", [*good, _trial(2, [0.8, 0.5, 0.4])]) == {}
    # a lone trial has nothing to compare with
    assert to_stop(policy, "maximize", [_trial(0, [0.1, 0.1])]) == {}
    losses = [_trial(0, [1.0, 0.8]), _trial(1, [1.1, 0.9])]
    assert list(to_stop(policy, "minimize", [*losses, _trial(2, [3.0, 2.0])])) == [2]
    assert to_stop(policy, "minimize", [*losses, _trial(2, [1.2, 0.7])]) == {}


def test_truncation_selection() -> None:
    policy = TruncationSelectionPolicy(truncation_percentage=20)
    pool = [_trial(i, [0.5 + 0.1 * i]) for i in range(1, 5)]
    got = to_stop(policy, "maximize", [*pool, _trial(0, [0.1])], metric="acc")
    assert list(got) == [0]  # 5 trials: the single worst goes
    assert "lowest 20%" in got[0]
    assert list(to_stop(policy, "minimize", [*pool, _trial(0, [0.1])])) == [4]
    # too few trials for 20% to be anyone
    assert to_stop(policy, "maximize", [pool[0], _trial(0, [0.1])]) == {}
    # ties never cut
    assert to_stop(policy, "maximize", [_trial(i, [0.5]) for i in range(10)]) == {}


def test_truncation_selection_can_exclude_finished_trials() -> None:
    trials = [_trial(0, [0.9, 0.9], "completed"), _trial(1, [0.2, 0.2])]
    assert list(to_stop(TruncationSelectionPolicy(50), "maximize", trials)) == [1]
    excluding = TruncationSelectionPolicy(50, exclude_finished_jobs=True)
    assert to_stop(excluding, "maximize", trials) == {}


# ------------------------------------------------------------------------------------- best


def test_best_trial_for_both_goals() -> None:
    trials = [
        TrialRecord(0, {"x": 0}, "completed", 0.5, []),
        TrialRecord(1, {"x": 1}, "completed", 0.9, []),
        TrialRecord(2, {"x": 2}, "failed", None, []),
        TrialRecord(3, {"x": 3}, "running", None, [(0, 5.0)]),
        TrialRecord(4, {"x": 4}, "completed", 0.1, []),
        TrialRecord(5, {"x": 5}, "completed", 0.9, []),
    ]
    best_max = best_trial("maximize", trials)
    best_min = best_trial("MINIMIZE", trials)
    assert best_max is not None and best_max.index == 1  # ties go to the earlier trial
    assert best_min is not None and best_min.index == 4
    assert best_trial("maximize", trials[2:4]) is None
