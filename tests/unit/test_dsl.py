"""The pipeline DSL: a `@pipeline` function gives the same job, and graph, as the same YAML.

The iris sample's pipeline_dsl.py is compared with its pipeline.yml; a small pipeline with a
nested pipeline component is written here both ways and compared too. The other tests cover how
steps are named, the errors a user sees at the line that made the mistake, and how parameters
become literal or data pipeline inputs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from forgeml import Input, Output, load_component
from forgeml.core.errors import SpecError
from forgeml.core.specs.component import CommandComponent
from forgeml.core.specs.job import JobInput, load_job
from forgeml.core.specs.pipeline import PipelineComponent, PipelineJob, PipelineStep
from forgeml.dsl import CommandNode, PipelineNode, pipeline
from forgeml.pipelines.graph import build_graph, port_of_input, port_of_output

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pipelines"

MAKE = """\
type: command
name: make_data
inputs:
  seed: {type: integer, default: 1, min: 0}
outputs:
  data: {type: uri_folder}
code: ./src
environment: azureml:AzureML-sklearn-1.5@latest
command: python make.py --seed ${{inputs.seed}} --out ${{outputs.data}}
"""

TRANSFORM = """\
type: command
name: transform_data
inputs:
  data: {type: uri_folder}
  seed: {type: integer, default: 3}
  scale: {type: number, optional: true}
outputs:
  result: {type: uri_folder}
code: ./src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python transform.py --data ${{inputs.data}} --seed ${{inputs.seed}}
  $[[--scale ${{inputs.scale}}]] --out ${{outputs.result}}
"""

SCORE = """\
type: command
name: score_file
inputs:
  table: {type: uri_file}
  label: {type: string, default: species}
outputs:
  report: {type: uri_folder}
  model: {type: mlflow_model}
code: ./src
environment: azureml:AzureML-sklearn-1.5@latest
command: >-
  python score.py --table ${{inputs.table}} --label ${{inputs.label}}
  --report ${{outputs.report}} --model ${{outputs.model}}
"""

INNER = """\
type: pipeline
name: inner
inputs:
  data: {type: uri_folder}
  seed: {type: integer, default: 3}
outputs:
  result: {type: uri_folder}
jobs:
  transform:
    type: command
    component: ./transform.yml
    inputs:
      data: ${{parent.inputs.data}}
      seed: ${{parent.inputs.seed}}
    outputs:
      result: ${{parent.outputs.result}}
"""

OUTER = """\
type: pipeline
experiment_name: nested
settings:
  default_compute: local
  continue_on_step_failure: true
inputs:
  seed: 7
  table:
    type: uri_file
    path: ./table.csv
outputs:
  final: {type: uri_folder}
jobs:
  make:
    type: command
    component: ./make.yml
    compute: local
    environment_variables: {MODE: fast}
    inputs:
      seed: ${{parent.inputs.seed}}
  nested:
    type: pipeline
    component: ./inner.yml
    inputs:
      data: ${{parent.jobs.make.outputs.data}}
      seed: ${{parent.inputs.seed}}
    outputs:
      result: ${{parent.outputs.final}}
  score:
    type: command
    component: ./score.yml
    inputs:
      table: ${{parent.inputs.table}}
    outputs:
      model: {mode: upload}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in {
        "make.yml": MAKE,
        "transform.yml": TRANSFORM,
        "score.yml": SCORE,
        "inner.yml": INNER,
        "pipeline.yml": OUTER,
    }.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "src").mkdir()
    (tmp_path / "table.csv").write_text("a,species\n1,x\n")
    return tmp_path


@pytest.fixture
def make(folder: Path) -> CommandComponent:
    return load_component(source=folder / "make.yml")


@pytest.fixture
def transform(folder: Path) -> CommandComponent:
    return load_component(source=folder / "transform.yml")


@pytest.fixture
def score(folder: Path) -> CommandComponent:
    return load_component(source=folder / "score.yml")


# ---------------------------------------------------------------------- comparing two jobs


def _input(base: Path, value: Any) -> tuple[str, Any]:
    port = value if isinstance(value, JobInput) else None
    if port is None:
        return (type(value).__name__, value)
    if port.is_literal:
        return (port.type, port.given)
    path = port.path
    return (port.type, str((base / path).resolve()) if path else None)


def _graph(jobs: dict[str, PipelineStep], ins: dict[str, Any], outs: dict[str, Any]) -> Any:
    graph = build_graph(jobs, ins, outs)
    return (
        graph.order,
        {
            name: (node.upstream, node.bindings, node.promoted, node.output_settings)
            for name, node in graph.nodes.items()
        },
        graph.sources,
        graph.warnings,
    )


def _component(comp: Any) -> Any:
    if isinstance(comp, CommandComponent):
        return ("command", comp.name, comp.command, str(comp.environment), comp.base_path)
    assert isinstance(comp, PipelineComponent)
    ins = {k: port_of_input(v) for k, v in comp.inputs.items()}
    outs = {k: port_of_output(v) for k, v in comp.outputs.items()}
    return (
        "pipeline",
        comp.name,
        {k: v.model_dump() for k, v in comp.inputs.items()},
        {k: v.model_dump() for k, v in comp.outputs.items()},
        _steps(comp.jobs),
        _graph(comp.jobs, ins, outs),
    )


def _steps(jobs: dict[str, PipelineStep]) -> Any:
    return {
        name: (
            step.type,
            _component(step.component),
            step.inputs,
            step.outputs,
            step.compute,
            step.environment_variables,
        )
        for name, step in jobs.items()
    }


def _describe(job: PipelineJob) -> dict[str, Any]:
    ins = {k: port_of_input(job.input_port(k)) for k in job.inputs}
    outs = {k: port_of_output(v) for k, v in job.outputs.items()}
    return {
        "steps": _steps(job.jobs),
        "step order": list(job.jobs),
        "inputs": {k: _input(job.base_path, v) for k, v in job.inputs.items()},
        "outputs": {k: v.model_dump() for k, v in job.outputs.items()},
        "settings": job.settings.model_dump(),
        "experiment": job.experiment_name,
        "compute": job.compute,
        "graph": _graph(job.jobs, ins, outs),
    }


def _load_sample() -> Any:
    path = SAMPLE / "pipeline_dsl.py"
    spec = importlib.util.spec_from_file_location("forgeml_sample_pipeline_dsl", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (SAMPLE / "pipeline_dsl.py").is_file(), reason="no pipeline sample")
def test_sample_dsl_and_yaml_give_the_same_pipeline() -> None:
    from_yaml = load_job(SAMPLE / "pipeline.yml")
    assert isinstance(from_yaml, PipelineJob)
    from_dsl = _load_sample().build()
    assert isinstance(from_dsl, PipelineJob)

    dsl, yml = _describe(from_dsl), _describe(from_yaml)
    for key in yml:
        assert dsl[key] == yml[key], key
    assert list(from_dsl.jobs) == ["prep", "train", "evaluate", "register"]
    # the step holds the loaded component itself, based in its folder, so its code is uploaded
    for step in from_dsl.jobs.values():
        assert isinstance(step.component, CommandComponent)
        assert step.component.base_path == SAMPLE / "components"
    assert from_dsl.display_name == "iris pipeline (DSL)"
    assert from_dsl.description is not None and "random forest" in from_dsl.description
    assert from_dsl.base_path == Path.cwd()


def test_nested_dsl_and_yaml_give_the_same_pipeline(
    folder: Path,
    make: CommandComponent,
    transform: CommandComponent,
    score: CommandComponent,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @pipeline(name="inner")
    def inner(data: Input, seed: int = 3) -> Any:
        transform_step = transform(data=data, seed=seed)
        transform_step.name = "transform"
        return {"result": transform_step.outputs.result}

    @pipeline(default_compute="azureml:local", continue_on_step_failure=True)
    def outer(table: Input, seed: int = 7) -> Any:
        made = make(seed=seed)
        made.name = "make"
        made.compute = "local"
        made.environment_variables = {"MODE": "fast"}
        nested = inner(data=made.outputs.data, seed=seed)
        scored = score(table=table)
        scored.name = "score"
        scored.outputs.model.mode = "upload"
        return {"final": nested.outputs.result}

    monkeypatch.chdir(folder)
    from_dsl = outer(table=Input(type="uri_file", path="./table.csv"))
    from_dsl.experiment_name = "nested"
    from_yaml = load_job(folder / "pipeline.yml")
    assert isinstance(from_yaml, PipelineJob)

    dsl, yml = _describe(from_dsl), _describe(from_yaml)
    for key in yml:
        assert dsl[key] == yml[key], key
    nested = from_dsl.jobs["nested"].component
    assert isinstance(nested, PipelineComponent)
    assert nested.jobs["transform"].component is transform


# ------------------------------------------------------------------------------- naming


def test_steps_are_named_after_their_variables(
    make: CommandComponent, transform: CommandComponent
) -> None:
    @pipeline
    def two_of_one() -> None:
        first = make(seed=1)
        Second = make(seed=2)  # a capital letter is lowered, as in azure-ai-ml
        transform(data=first.outputs.data)
        transform(data=Second.outputs.data)
        step = transform(data=first.outputs.data)
        step = transform(data=Second.outputs.data)
        del step  # a deleted variable names nothing

    job = two_of_one()
    assert list(job.jobs) == [
        "first",
        "second",
        "transform_data",
        "transform_data_1",
        "transform_data_2",
        "transform_data_3",
    ]
    assert job.jobs["transform_data_1"].inputs == {"data": "${{parent.jobs.second.outputs.data}}"}
    assert job.display_name == "two_of_one"


def test_a_name_set_on_the_node_wins_and_a_reassigned_variable_names_its_last_step(
    make: CommandComponent, transform: CommandComponent
) -> None:
    @pipeline
    def renamed() -> Any:
        made = make()
        made.name = "source"
        step = transform(data=made.outputs.data)
        step = transform(data=step.outputs.result)
        return step.outputs.result

    job = renamed()
    assert list(job.jobs) == ["source", "transform_data", "step"]
    assert job.jobs["step"].inputs == {"data": "${{parent.jobs.transform_data.outputs.result}}"}
    assert job.jobs["step"].outputs == {"result": "${{parent.outputs.result}}"}
    assert job.outputs["result"].type == "uri_folder"


def test_step_names_must_be_valid_and_unique(make: CommandComponent) -> None:
    @pipeline
    def bad_name() -> None:
        made = make()
        made.name = "make-data"

    with pytest.raises(SpecError, match=r"step name 'make-data'.*lowercase letters"):
        bad_name()

    @pipeline
    def clash() -> None:
        a = make()
        a.name = "b"
        b = make()
        b.compute = "local"

    with pytest.raises(SpecError, match=r"two steps .* named 'b'"):
        clash()


def test_steps_made_in_a_helper_are_named_and_a_profiler_is_left_alone(
    make: CommandComponent, transform: CommandComponent
) -> None:
    def helper(data: Any) -> Any:
        return transform(data=data)

    @pipeline
    def with_helper() -> Any:
        made = make()
        helped = helper(made.outputs.data)
        return helped.outputs.result

    events: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        events.append(event)

    sys.setprofile(profile)
    try:
        job = with_helper()
        assert sys.getprofile() is profile
    finally:
        sys.setprofile(None)
    assert events, "the user's profiler saw nothing while the pipeline was built"
    assert list(job.jobs) == ["made", "helped"]


# ------------------------------------------------------------------------------- errors


def test_an_unknown_input_names_the_component_and_its_inputs(
    make: CommandComponent, transform: CommandComponent
) -> None:
    with pytest.raises(TypeError) as caught:
        transform(dat=make().outputs.data)
    message = str(caught.value)
    assert "'transform_data' has no input 'dat'" in message
    assert "data, seed, scale" in message


def test_values_that_are_not_inputs_are_refused(
    make: CommandComponent, transform: CommandComponent, score: CommandComponent
) -> None:
    with pytest.raises(TypeError, match=r"input 'data' of the component 'transform_data' cannot"):
        transform(data=object())
    with pytest.raises(TypeError, match=r"'table' .* is data \(uri_file\).*Input\(type='uri_file'"):
        score(table="./table.csv")
    with pytest.raises(TypeError, match=r"whole step .*<step>\.outputs\.report, <step>\."):
        transform(data=score(table=Input(type="uri_file", path="t.csv")))
    with pytest.raises(SpecError, match=r"'seed' is of type integer: 'x' is not an integer"):
        make(seed="x")
    with pytest.raises(SpecError, match=r"make_data.*'seed'.*-1 is below the minimum 0"):
        make(seed=-1)
    # a step with one output stands for that output
    node = transform(data=make())
    assert isinstance(node, CommandNode)
    assert node.inputs.data.value is not None and node.inputs.data.value.port == "data"


def test_node_settings_and_ports_are_checked(make: CommandComponent) -> None:
    node = make()
    with pytest.raises(AttributeError, match=r"no setting 'computer'.*compute"):
        node.computer = "local"
    with pytest.raises(AttributeError, match=r"has no output 'model' \(its outputs: data\)"):
        _ = node.outputs.model
    with pytest.raises(ValueError, match=r"not an output mode"):
        node.outputs.data.mode = "copy"
    node.inputs.seed = 4
    assert node.inputs["seed"].value == 4


def test_mistakes_in_the_pipeline_function(
    make: CommandComponent, transform: CommandComponent
) -> None:
    @pipeline
    def branches(flag: bool = True) -> None:
        if flag:
            make()

    with pytest.raises(TypeError, match=r"'flag' has no value while the pipeline is built"):
        branches()

    @pipeline
    def returns_a_step() -> Any:
        return make()

    with pytest.raises(TypeError, match=r"return None, one step output"):
        returns_a_step()

    outside = make()

    @pipeline
    def uses_a_stray_step() -> None:
        transform(data=outside.outputs.data)

    with pytest.raises(SpecError, match=r"a step made outside"):
        uses_a_stray_step()

    @pipeline
    def needs(seed: int) -> None:
        make(seed=seed)

    with pytest.raises(TypeError, match=r"needs\(\): missing a required argument: 'seed'"):
        needs()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"needs\(\): got an unexpected keyword argument 'sed'"):
        needs(seed=1, sed=1)  # type: ignore[call-arg]

    @pipeline
    def takes_data(data: Input) -> None:
        transform(data=data)

    with pytest.raises(TypeError, match=r"annotated as data .*Input\(type='uri_folder'"):
        takes_data(data="./folder")  # type: ignore[arg-type]

    @pipeline
    def wrong_types(data: Input) -> None:
        transform(data=data)

    with pytest.raises(
        SpecError, match=r"step 'transform_data': input 'data' is of type uri_folder but"
    ):
        wrong_types(data=Input(type="uri_file", path="x.csv"))


def test_a_type_mismatch_names_the_step_and_input(
    make: CommandComponent, score: CommandComponent
) -> None:
    @pipeline
    def mismatch() -> None:
        made = make()
        scorer = score(table=made.outputs.data)
        scorer.compute = "local"

    with pytest.raises(SpecError) as caught:
        mismatch()
    assert caught.value.field == "jobs.scorer.inputs.table"
    assert "uri_file" in str(caught.value) and "'mismatch'" in str(caught.value)


# ------------------------------------------------------------------------ pipeline inputs


def test_parameters_become_literal_or_data_inputs(
    make: CommandComponent, transform: CommandComponent, folder: Path
) -> None:
    @pipeline(experiment_name="exp", tags={"team": "ml"}, compute="local", force_rerun=True)
    def typed(
        data: Input,
        seed: int = 5,
        scale: float = 1,
        label: str | None = None,
        extra: Any = None,  # typed from the component input it is given to
    ) -> Any:
        """Scales the data."""
        made = make(seed=extra)
        step = transform(data=data, seed=seed, scale=scale)
        del label
        return {"scaled": step.outputs.result, "made": made.outputs.data}

    job = typed(data=Input(type="uri_folder", path=str(folder / "src")), seed=6)
    assert job.inputs["seed"] == 6
    assert job.inputs["scale"] == 1.0 and isinstance(job.inputs["scale"], float)
    data = job.inputs["data"]
    assert isinstance(data, JobInput) and data.type == "uri_folder"
    label, extra = job.input_port("label"), job.input_port("extra")
    assert label is not None and (label.type, label.optional, label.given) == ("string", True, None)
    assert extra is not None and (extra.type, extra.optional) == ("integer", True)
    assert job.jobs["step"].inputs == {
        "data": "${{parent.inputs.data}}",
        "seed": "${{parent.inputs.seed}}",
        "scale": "${{parent.inputs.scale}}",
    }
    assert job.description == "Scales the data."
    assert (job.experiment_name, job.tags, job.compute) == ("exp", {"team": "ml"}, "local")
    assert job.settings.force_rerun is True
    assert set(job.outputs) == {"scaled", "made"}

    # as in azure-ai-ml, outputs and settings can be changed on the job afterwards
    job.outputs["scaled"] = Output(type="uri_folder", name="scaled-data")
    job.settings.default_compute = "local"
    assert job.outputs["scaled"].name == "scaled-data"

    with pytest.raises(SpecError, match=r"'scale' of typed\(\) is annotated as number"):
        typed(data=Input(path="."), scale="fast")  # type: ignore[arg-type]


def test_inputs_given_to_steps_directly(score: CommandComponent, folder: Path) -> None:
    @pipeline
    def direct(target: str = "local") -> Any:
        scored = score(table=Input(type="uri_file", path="table.csv", mode="download"))
        scored.compute = target  # chosen per run: the step reads the pipeline input
        scored.outputs.report.mode = "upload"
        scored.outputs.report.name = "reports"
        scored.force_rerun = True
        scored.display_name = "Score it"
        return scored.outputs.model

    job = direct()
    step = job.jobs["scored"]
    assert job.inputs == {"target": "local"}
    assert step.compute == "${{parent.inputs.target}}"
    assert step.inputs == {"table": {"type": "uri_file", "path": "table.csv", "mode": "download"}}
    assert step.outputs == {
        "report": {"mode": "upload", "name": "reports"},
        "model": "${{parent.outputs.model}}",
    }
    assert (step.force_rerun, step.display_name) == (True, "Score it")
    assert job.outputs["model"].type == "mlflow_model"


# ------------------------------------------------------------------------------- nesting


def test_a_nested_pipeline_is_a_pipeline_step(
    make: CommandComponent, transform: CommandComponent, folder: Path
) -> None:
    @pipeline
    def twice(data: Input, scale: float | None = None, extra: Input | None = None) -> Any:
        first = transform(data=data, scale=scale)
        second = transform(data=first.outputs.result, seed=4)
        del extra
        return {"out": second.outputs.result}

    @pipeline
    def wrapper() -> Any:
        made = make()
        inner = twice(data=made.outputs.data, scale=0.5)
        again = twice(data=Input(type="uri_folder", path=str(folder / "src")))
        return {"out": inner.outputs.out, "again": again.outputs.out}

    job = wrapper()
    assert list(job.jobs) == ["made", "inner", "again"]
    step = job.jobs["inner"]
    assert step.type == "pipeline"
    assert step.inputs == {"data": "${{parent.jobs.made.outputs.data}}", "scale": 0.5}
    comp = step.component
    assert isinstance(comp, PipelineComponent)
    assert comp.name == "twice"
    assert {k: (v.type, v.optional, v.default) for k, v in comp.inputs.items()} == {
        "data": ("uri_folder", False, None),
        "scale": ("number", True, None),
        "extra": ("uri_folder", True, None),
    }
    assert list(comp.jobs) == ["first", "second"]
    assert comp.jobs["first"].inputs == {
        "data": "${{parent.inputs.data}}",
        "scale": "${{parent.inputs.scale}}",
    }
    assert job.jobs["again"].inputs["data"]["type"] == "uri_folder"

    # a pipeline component, loaded or built, is called like any component
    called = comp(data=Input(path="."))
    assert isinstance(called, PipelineNode) and list(called.outputs) == ["out"]


def test_a_pipeline_cannot_contain_itself(make: CommandComponent) -> None:
    @pipeline
    def forever() -> None:
        make()
        forever()

    with pytest.raises(SpecError, match=r"'forever' calls itself"):
        forever()
