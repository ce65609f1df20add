"""MLflow's filter grammar, parsed without a server: what is accepted and what is refused."""

from __future__ import annotations

import pytest

from forgeml.core import mlflow_search as s
from forgeml.core.errors import UserError


def test_a_conjunction_of_comparisons() -> None:
    got = s.parse_filter(
        "metrics.acc > 0.5 and params.alpha = '0.5' AND tags.`mlflow.user` != \"ana\" "
        "and attributes.status = 'FINISHED' and run_name LIKE 'r%'",
        s.RUNS,
    )
    assert got == [
        s.Comparison("metric", "acc", ">", 0.5),
        s.Comparison("param", "alpha", "=", "0.5"),
        s.Comparison("tag", "mlflow.user", "!=", "ana"),
        s.Comparison("attribute", "status", "=", "FINISHED"),
        s.Comparison("attribute", "run_name", "LIKE", "r%"),
    ]


def test_lists_nulls_aliases_and_datasets() -> None:
    got = s.parse_filter(
        "attributes.run_id IN ('a', 'b') and params.x IS NULL and tags.t IS NOT NULL "
        "and created >= 10 and datasets.context = 'train' and metric.loss<=-1e-3",
        s.RUNS,
    )
    assert got == [
        s.Comparison("attribute", "run_id", "IN", ("a", "b")),
        s.Comparison("param", "x", "IS NULL", None),
        s.Comparison("tag", "t", "IS NOT NULL", None),
        s.Comparison("attribute", "start_time", ">=", 10.0),
        s.Comparison("dataset", "context", "=", "train"),
        s.Comparison("metric", "loss", "<=", -0.001),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc >> 1", "Invalid comparator '>>'"),
        ("metrics.acc > 1 OR metrics.acc < 0", "Invalid clause(s) in filter string: 'OR'"),
        ("metrics.acc = 'high'", "Expected numeric value"),
        ("params.alpha = 0.5", "Expected a quoted string value"),
        ("bogus.x = '1'", "Invalid entity type 'bogus'"),
        ("attributes.color = 'red'", "Invalid attribute key 'color'"),
        ("run_name IN ('a')", "Invalid comparator 'IN'"),
        ("tags.t = 'unterminated", "Unterminated"),
    ],
)
def test_bad_filters_are_refused_with_mlflows_messages(text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        s.parse_filter(text, s.RUNS)
    assert message in err.value.message


def test_order_by_and_page_tokens() -> None:
    assert s.parse_order_by(["metrics.acc DESC", "run_name", "tags.`a b` asc"], s.RUNS) == [
        s.OrderKey("metric", "acc", False),
        s.OrderKey("attribute", "run_name", True),
        s.OrderKey("tag", "a b", True),
    ]
    with pytest.raises(UserError):
        s.parse_order_by(["artifact_uri DESC"], s.EXPERIMENTS)
    assert s.page_offset(s.page_token(40)) == 40
    assert s.page_token(1) == "eyJvZmZzZXQiOiAxfQ=="  # the reference server's own token
    with pytest.raises(UserError):
        s.page_offset("not-a-token")


def test_in_memory_evaluation_matches_sql_semantics() -> None:
    assert s.compare("LIKE", "Ready", "R%")
    assert not s.compare("LIKE", "ready", "R%")
    assert s.compare("ILIKE", "ready", "R%")
    assert not s.compare("=", None, "x")  # a missing key matches nothing...
    assert s.compare("IS NULL", None, None)  # ...but IS NULL
    assert s.compare(">", 3, 2.5)
    assert s.like_to_glob("a%b_[c]*") == "a*b?[[]c][*]"
