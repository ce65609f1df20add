"""Endpoint and deployment documents as Azure ML users write them, and the rules Azure ML
enforces, refused with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forgeml.core.errors import SpecError
from forgeml.core.specs.base import load_resource, validate_spec
from forgeml.core.specs.endpoints import (
    BatchEndpoint,
    ModelBatchDeployment,
    OnlineDeployment,
    OnlineEndpoint,
    PipelineComponentBatchDeployment,
    batch_deployment_model,
    parse_traffic,
)

ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: my-endpoint
auth_mode: key
"""

BLUE = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: my-endpoint
model:
  path: ../../model-1/model/
code_configuration:
  code: ../../model-1/onlinescoring/
  scoring_script: score.py
environment:
  conda_file: ../../model-1/environment/conda.yaml
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
instance_type: Standard_DS3_v2
instance_count: 1
request_settings:
  request_timeout_ms: 3000
data_collector:
  collections:
    model_inputs: {enabled: 'True'}
    model_outputs: {enabled: 'True'}
"""

BATCH = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
endpoint_name: mnist-batch
name: mnist-torch-dpl
model: azureml:mnist-classifier@latest
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment: azureml:torch-env@latest
compute: azureml:batch-cluster
resources:
  instance_count: 1
max_concurrency_per_instance: 2
mini_batch_size: 10
output_action: append_row
output_file_name: predictions.csv
retry_settings:
  max_retries: 3
  timeout: 30
error_threshold: -1
logging_level: info
"""


def write(tmp_path: Path, text: str, name: str = "doc.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_azure_ml_online_documents_load_unchanged(tmp_path: Path) -> None:
    endpoint = load_resource(OnlineEndpoint, write(tmp_path, ENDPOINT))
    assert endpoint.name == "my-endpoint" and endpoint.auth_mode == "key"
    assert endpoint.traffic == {}
    blue = load_resource(OnlineDeployment, write(tmp_path, BLUE, "blue.yml"))
    assert blue.code_configuration is not None
    assert blue.code_configuration.scoring_script == "score.py"
    assert blue.request_settings.request_timeout_ms == 3000
    assert blue.readiness_probe.failure_threshold == 30  # Azure ML's default
    assert blue.data_collector is not None
    assert set(blue.data_collector.collections) == {"model_inputs", "model_outputs"}


def test_an_mlflow_model_deploys_without_code_or_environment() -> None:
    made = validate_spec(
        OnlineDeployment,
        {"name": "green", "endpoint_name": "my-endpoint", "model": "azureml:iris@latest"},
    )
    assert made.environment is None and made.code_configuration is None


def test_a_legacy_batch_deployment_has_its_settings_moved(tmp_path: Path) -> None:
    path = write(tmp_path, BATCH)
    doc = load_resource(batch_deployment_model, path)
    assert isinstance(doc, ModelBatchDeployment)
    assert doc.settings.max_concurrency_per_instance == 2
    assert doc.settings.retry_settings.timeout == 30
    assert doc.settings.output_action == "append_row"


def test_batch_endpoints_and_pipeline_deployments() -> None:
    endpoint = validate_spec(
        BatchEndpoint, {"name": "mnist-batch", "defaults": {"deployment_name": "dpl"}}
    )
    assert endpoint.default_deployment == "dpl"
    made = validate_spec(
        PipelineComponentBatchDeployment,
        {
            "name": "hello",
            "endpoint_name": "mnist-batch",
            "type": "pipeline",
            "component": "azureml:hello@latest",
            "settings": {"default_compute": "batch-cluster"},
        },
    )
    assert made.component == "azureml:hello@latest"
    with pytest.raises(SpecError, match="'model' or 'pipeline'") as err:
        batch_deployment_model({"type": "spark"})
    assert err.value.field == "type"


def test_the_cli_traffic_form_is_parsed() -> None:
    assert parse_traffic("blue=90 green=10") == {"blue": 90, "green": 10}
    with pytest.raises(SpecError, match='--traffic "blue=90 green=10"'):
        parse_traffic("blue:90")


BAD: list[tuple[type[Any], dict[str, Any], str, str]] = [
    (OnlineEndpoint, {"name": "ab"}, "name", "3 to 32"),
    (OnlineEndpoint, {"name": "1endpoint"}, "name", "starting with a letter"),
    (OnlineEndpoint, {"name": "ep1", "traffic": {"a": 60, "b": 30}}, "", "add up to 90"),
    (
        OnlineEndpoint,
        {"name": "ep1", "traffic": {"a": 100}, "mirror_traffic": {"b": 60}},
        "",
        "at most 50",
    ),
    (
        OnlineEndpoint,
        {"name": "ep1", "traffic": {"a": 100}, "mirror_traffic": {"a": 10}},
        "",
        "cannot also receive mirrored",
    ),
    (OnlineEndpoint, {"name": "ep1", "auth_mode": "password"}, "auth_mode", "key"),
    (
        OnlineDeployment,
        {
            "name": "blue",
            "endpoint_name": "ep1",
            "model": "azureml:m:1",
            "code_configuration": {"code": ".", "scoring_script": "score.py"},
        },
        "",
        "needs an 'environment'",
    ),
    (OnlineDeployment, {"name": "blue", "endpoint_name": "ep1"}, "", "needs a 'model'"),
    (
        OnlineDeployment,
        {
            "name": "blue",
            "endpoint_name": "ep1",
            "model": "azureml:m:1",
            "request_settings": {"request_timeout_ms": 200_000},
        },
        "request_settings.request_timeout_ms",
        "180000",
    ),
    (
        PipelineComponentBatchDeployment,
        {"name": "p", "endpoint_name": "ep1", "type": "pipeline"},
        "",
        "exactly one of 'component'",
    ),
]


@pytest.mark.parametrize(("model", "body", "field", "message"), BAD)
def test_mistakes_are_refused_naming_the_field(
    model: type[Any], body: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SpecError) as err:
        validate_spec(model, body, file="doc.yml")
    assert message in str(err.value)
    if field:
        assert err.value.field == field
    assert "doc.yml" in str(err.value)
