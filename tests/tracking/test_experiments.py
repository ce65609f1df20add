"""Experiments through the real mlflow client: create, find, search, rename, delete, tags."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException


def test_the_default_experiment_exists(tracking_uri: str) -> None:
    default = MlflowClient().get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert MlflowClient().get_experiment_by_name("Default").experiment_id == "0"


def test_set_experiment_creates_a_missing_experiment_then_reuses_it(
    tracking_uri: str, unique: str
) -> None:
    import mlflow

    assert MlflowClient().get_experiment_by_name(f"new-{unique}") is None
    created = mlflow.set_experiment(f"new-{unique}")
    again = mlflow.set_experiment(f"new-{unique}")
    assert created.experiment_id == again.experiment_id
    assert created.artifact_location == f"mlflow-artifacts:/{created.experiment_id}"


def test_experiment_crud_and_tags(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    eid = c.create_experiment(f"crud-{unique}", tags={"team": "vision"})
    got = c.get_experiment(eid)
    assert got.name == f"crud-{unique}"
    assert got.tags == {"team": "vision"}

    c.set_experiment_tag(eid, "owner", "ana")
    c.delete_experiment_tag(eid, "team")
    assert c.get_experiment(eid).tags == {"owner": "ana"}

    c.rename_experiment(eid, f"renamed-{unique}")
    assert c.get_experiment_by_name(f"renamed-{unique}").experiment_id == eid
    assert c.get_experiment_by_name(f"crud-{unique}") is None

    c.delete_experiment(eid)
    assert c.get_experiment(eid).lifecycle_stage == "deleted"
    active = [e.experiment_id for e in c.search_experiments()]
    deleted = [e.experiment_id for e in c.search_experiments(view_type=ViewType.DELETED_ONLY)]
    assert eid not in active
    assert eid in deleted
    c.restore_experiment(eid)
    assert c.get_experiment(eid).lifecycle_stage == "active"


def test_search_experiments_filters_orders_and_pages(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    ids = [c.create_experiment(f"srch-{unique}-{i}", tags={"k": str(i % 2)}) for i in range(5)]
    found = c.search_experiments(
        filter_string=f"name LIKE 'srch-{unique}-%'", order_by=["name DESC"]
    )
    assert [e.experiment_id for e in found] == list(reversed(ids))
    odd = c.search_experiments(filter_string=f"name LIKE 'srch-{unique}%' AND tags.k = '1'")
    assert sorted(e.experiment_id for e in odd) == sorted([ids[1], ids[3]])

    first = c.search_experiments(
        filter_string=f"name LIKE 'srch-{unique}%'", max_results=2, order_by=["name"]
    )
    assert [e.name for e in first] == [f"srch-{unique}-0", f"srch-{unique}-1"]
    assert first.token
    second = c.search_experiments(
        filter_string=f"name LIKE 'srch-{unique}%'",
        max_results=2,
        order_by=["name"],
        page_token=first.token,
    )
    assert [e.name for e in second] == [f"srch-{unique}-2", f"srch-{unique}-3"]


def test_errors_are_mlflow_errors_with_mlflow_codes(tracking_uri: str, unique: str) -> None:
    c = MlflowClient()
    c.create_experiment(f"dup-{unique}")
    with pytest.raises(MlflowException) as exists:
        c.create_experiment(f"dup-{unique}")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert f"dup-{unique}" in exists.value.message

    with pytest.raises(MlflowException) as missing:
        c.get_experiment("987654")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with pytest.raises(MlflowException) as bad:
        c.search_experiments(filter_string="name >> 'x'")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid comparator '>>'" in bad.value.message
