"""The iris pipeline of pipeline.yml, written with the Python DSL instead of YAML.

The same components, bindings and settings as pipeline.yml: calling a component inside a
`@pipeline` function adds a step, named after the variable it is assigned to (prep, train,
evaluate, register), and passing one step's output to another is the binding that orders them.
`build()` returns the pipeline job without submitting it; run this file to submit it to the
workspace at FORGEML_URL (default http://127.0.0.1:8080) and follow its logs:

    python samples/pipelines/pipeline_dsl.py
"""

# no `from __future__ import annotations`: the decorator reads the parameters' annotations
# (Input, float, int) as objects to learn the pipeline's input types, as azure-ai-ml's does
from pathlib import Path
from typing import Any

from forgeml import Input, MLClient, Output, load_component
from forgeml.dsl import pipeline

HERE = Path(__file__).resolve().parent

prep_component = load_component(source=HERE / "components" / "prep.yml")
train_component = load_component(source=HERE / "components" / "train.yml")
evaluate_component = load_component(source=HERE / "components" / "evaluate.yml")
register_component = load_component(source=HERE / "components" / "register.yml")


@pipeline(
    name=None,
    display_name="iris pipeline (DSL)",
    experiment_name="iris-pipeline",
    default_compute="local",
)
def iris_pipeline(raw_data: Input, test_size: float = 0.25, n_estimators: int = 50) -> Any:
    """Splits the iris data, trains a random forest, evaluates it and gates its registration."""
    prep = prep_component(raw_data=raw_data, test_size=test_size)
    train = train_component(train_data=prep.outputs.train_data, n_estimators=n_estimators)
    evaluate = evaluate_component(model=train.outputs.model, test_data=prep.outputs.test_data)
    register = register_component(model=train.outputs.model, report=evaluate.outputs.report)
    return {"registered_model": register.outputs.registered_model}


def build() -> Any:
    """The pipeline job, ready to submit: the iris CSV as input, the model output named."""
    job = iris_pipeline(
        raw_data=Input(type="uri_file", path=str(HERE / "data" / "iris.csv"))
    )
    # as in pipeline.yml: the workspace registers this output as the model `iris-classifier`
    job.outputs["registered_model"] = Output(type="mlflow_model", name="iris-classifier")
    return job


def main() -> None:
    client = MLClient()  # FORGEML_URL, or http://127.0.0.1:8080
    job = client.jobs.create_or_update(build())
    assert job.name is not None  # the workspace names every job it accepts
    client.jobs.stream(job.name)


if __name__ == "__main__":
    main()
