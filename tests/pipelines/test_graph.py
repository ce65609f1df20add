"""Pipeline documents and their graphs, without a workspace: what `load_job` reads from the
files a user brings and what `build_graph` refuses at submit, each mistake named by its field.

The graphs are built from YAML files as the workspace builds them (pipeline inputs and outputs
as ports, component files loaded and re-based to their own folders); nothing here needs the
Python DSL.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from forgeml.core.errors import SpecError
from forgeml.core.specs import CommandComponent
from forgeml.core.specs.job import load_job
from forgeml.core.specs.pipeline import PipelineComponent, PipelineJob, SweepJob
from forgeml.pipelines.graph import Graph, build_graph, port_of_input, port_of_output
from tests.pipelines.conftest import write

TRAIN = """\
type: command
name: train
version: 1
is_deterministic: true
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.1, min: 0}
  depth: {type: integer, optional: true}
outputs:
  model: {type: mlflow_model}
code: ./src
environment: {image: python:3.11}
command: >-
  python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}
  $[[--depth ${{inputs.depth}}]] --model ${{outputs.model}}
"""

#: a pipeline whose steps `{steps}` are filled in by each case
HEAD = """\
type: pipeline
settings:
  default_compute: local
inputs:
  raw: {type: uri_folder, path: ./data}
  lr: 0.5
outputs:
  model: {type: mlflow_model}
jobs:
"""

PREP = """\
  prep:
    command: cp -r ${{inputs.raw}}/. ${{outputs.clean}}
    environment: {image: python:3.11}
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      clean:
"""


def graph_of(path: Path) -> Graph:
    """The graph of a pipeline file, with its ports as the workspace derives them."""
    job = load_job(path)
    assert isinstance(job, PipelineJob)
    inputs = {k: port_of_input(job.input_port(k)) for k in job.inputs}
    outputs = {k: port_of_output(v) for k, v in job.outputs.items()}
    return build_graph(job.jobs, inputs, outputs)


def project(tmp_path: Path, steps: str, head: str = HEAD) -> Path:
    write(tmp_path, "components/train.yml", TRAIN)
    (tmp_path / "components" / "src").mkdir(exist_ok=True)
    (tmp_path / "data").mkdir(exist_ok=True)
    return write(tmp_path, "pipeline.yml", head + steps)


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first occurrence of `text` in a file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} is not in {path}")


# ------------------------------------------------------------------------- a good graph


def test_a_pipeline_becomes_a_graph_ordered_by_its_bindings(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        PREP
        + """\
  train:
    type: command
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      lr: ${{parent.inputs.lr}}
      unknown_knob: 3
    outputs:
      model: ${{parent.outputs.model}}
  report:
    command: ls ${{inputs.m}} ${{inputs.raw}}
    environment: {image: python:3.11}
    inputs:
      m: ${{parent.jobs.train.outputs.model}}
      raw: ${{parent.jobs.prep.inputs.raw}}
  side:
    command: echo ${{inputs.n}}
    environment: {image: python:3.11}
    inputs:
      n: 3
""",
    )
    graph = graph_of(path)

    assert graph.order.index("prep") < graph.order.index("train") < graph.order.index("report")
    assert graph.nodes["side"].upstream == () and graph.nodes["prep"].upstream == ()
    assert graph.nodes["train"].upstream == ("prep",)
    assert graph.nodes["report"].upstream == ("train",)  # reading prep's input is no edge
    assert graph.downstream("prep") == {"train", "report"}
    assert graph.downstream("side") == set()
    assert graph.sources == {"model": ("train", "model")}
    assert graph.nodes["train"].promoted == {"model": "model"}

    train = graph.nodes["train"]
    assert set(train.inputs) == {"data", "lr", "depth"}  # declared, whatever the step gives
    assert train.bindings["lr"].kind == "parent_input"
    assert train.bindings["depth"].kind == "unset"  # optional, not given
    assert train.is_deterministic
    assert any("unknown_knob" in w for w in graph.warnings)
    assert graph.nodes["report"].bindings["raw"].kind == "parent_input"
    assert graph.nodes["side"].inputs["n"].type == "integer"


def test_a_default_fills_an_input_the_step_leaves_out(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        PREP
        + """\
  train:
    component: file:components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
    )
    train = graph_of(path).nodes["train"]
    assert train.bindings["lr"].kind == "literal" and train.bindings["lr"].value == 0.1


# ----------------------------------------------------------------- what submit refuses

BAD_GRAPHS = [
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.nope.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "reads the step 'nope', which does not exist (steps: prep, train)",
        id="unknown-step",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.cleaned}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "step 'prep' has no output 'cleaned' (its outputs: clean)",
        id="unknown-output-port",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
      lr: ${{parent.inputs.learning_rate}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.lr",
        "the pipeline has no input 'learning_rate' (its inputs: lr, raw)",
        id="unknown-pipeline-input",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.weights}}
""",
        "jobs.train.outputs.model",
        "the pipeline has no output 'weights' (its outputs: model)",
        id="unknown-pipeline-output",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
      metrics:
""",
        "jobs.train.outputs.metrics",
        "step 'train' has no output 'metrics' (its outputs: model)",
        id="unknown-step-output",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.inputs.lr}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "input 'data' is of type uri_folder but ${{parent.inputs.lr}} is of type number",
        id="literal-into-data",
    ),
    pytest.param(
        """\
  split:
    command: cp ${{inputs.raw}}/a.csv ${{outputs.one}}
    environment: {image: python:3.11}
    inputs:
      raw: ${{parent.inputs.raw}}
    outputs:
      one: {type: uri_file}
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.split.outputs.one}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "input 'data' is of type uri_folder but ${{parent.jobs.split.outputs.one}} is of type "
        "uri_file",
        id="file-into-folder",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      lr: 0.2
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "the required input 'data' (uri_folder) is not bound",
        id="required-input-unbound",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
""",
        "outputs.model",
        "the pipeline output 'model' is not filled by any step",
        id="pipeline-output-unfilled",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
  again:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.again.outputs.model",
        "the pipeline output 'model' is filled by both step 'train' and step 'again'",
        id="pipeline-output-filled-twice",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.outputs.model}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "an input cannot read ${{parent.outputs.model}}",
        id="input-reads-pipeline-output",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}/sub
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.inputs.data",
        "is not a binding forgeml understands",
        id="binding-inside-text",
    ),
    pytest.param(
        """\
  Train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.Train",
        "the step name 'Train' is not allowed",
        id="step-name",
    ),
    pytest.param(
        """\
  train:
    type: parallel
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        "jobs.train.type",
        "step 'train' is of type 'parallel', which is not supported yet",
        id="step-type",
    ),
    pytest.param(
        """\
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
  loose:
    command: echo hi
""",
        "jobs.loose.environment",
        "the inline command step 'loose' needs an 'environment'",
        id="inline-step-without-environment",
    ),
]


@pytest.mark.parametrize(("steps", "field", "message"), BAD_GRAPHS)
def test_a_broken_graph_is_refused_naming_the_step_and_port(
    tmp_path: Path, steps: str, field: str, message: str
) -> None:
    path = project(tmp_path, PREP + steps)
    with pytest.raises(SpecError) as err:
        graph_of(path)
    assert err.value.field == field
    assert message in str(err.value)


def test_a_cycle_is_refused_naming_the_steps_on_it(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """\
  first:
    command: cp -r ${{inputs.x}}/. ${{outputs.out}}
    environment: {image: python:3.11}
    inputs:
      x: ${{parent.jobs.third.outputs.out}}
    outputs:
      out:
  second:
    command: cp -r ${{inputs.x}}/. ${{outputs.out}}
    environment: {image: python:3.11}
    inputs:
      x: ${{parent.jobs.first.outputs.out}}
    outputs:
      out:
  third:
    command: cp -r ${{inputs.x}}/. ${{outputs.out}}
    environment: {image: python:3.11}
    inputs:
      x: ${{parent.jobs.second.outputs.out}}
    outputs:
      out:
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.third.outputs.out}}
    outputs:
      model: ${{parent.outputs.model}}
""",
    )
    with pytest.raises(SpecError, match="the steps form a cycle") as err:
        graph_of(path)
    text = str(err.value)
    cycle = text[text.index("(") + 1 : text.index(")")].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["first", "second", "third"]
    for a, b in itertools.pairwise(cycle):  # each step feeds the next
        assert {"first": "second", "second": "third", "third": "first"}[a] == b
    assert err.value.field is not None
    assert err.value.field.removesuffix(".inputs").removeprefix("jobs.") in cycle
    assert "train" not in text  # downstream of the cycle, not on it


def test_a_step_reading_its_own_output_is_refused(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """\
  loop:
    command: cp -r ${{inputs.x}}/. ${{outputs.out}}
    environment: {image: python:3.11}
    inputs:
      x: ${{parent.jobs.loop.outputs.out}}
    outputs:
      out: ${{parent.outputs.model}}
""",
    )
    with pytest.raises(SpecError, match="cannot read its own outputs") as err:
        graph_of(path)
    assert err.value.field == "jobs.loop.inputs.x"


def test_a_broken_graph_inside_a_pipeline_component_names_its_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        "inner.yml",
        """\
        type: pipeline
        name: inner
        inputs:
          n: {type: integer}
        jobs:
          one:
            command: echo ${{inputs.n}}
            environment: {image: python:3.11}
            inputs:
              n: ${{parent.inputs.m}}
        """,
    )
    path = write(
        tmp_path,
        "pipeline.yml",
        """\
        type: pipeline
        jobs:
          sub:
            type: pipeline
            component: ./inner.yml
            inputs:
              n: 3
        """,
    )
    job = load_job(path)
    assert isinstance(job, PipelineJob)
    assert isinstance(job.jobs["sub"].component, PipelineComponent)
    assert build_graph(job.jobs, {}, {}).order == ["sub"]  # the outer graph is fine
    inner = job.jobs["sub"].component
    ports = {k: port_of_input(v) for k, v in inner.inputs.items()}
    with pytest.raises(SpecError, match="no input 'm'") as err:
        build_graph(inner.jobs, ports, {})
    assert err.value.field == "jobs.one.inputs.n"


# -------------------------------------------------------------- what load_job reads


def test_unknown_keys_pass_through_in_settings_and_steps_but_nowhere_else(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        PREP
        + """\
    comment: a note on the step
    queue_settings: {job_tier: spot}
  train:
    component: ./components/train.yml
    inputs:
      data: ${{parent.jobs.prep.outputs.clean}}
    outputs:
      model: ${{parent.outputs.model}}
""",
        head=HEAD.replace(
            "  default_compute: local\n",
            "  default_compute: azureml:local\n  default_datastore: azureml:workspaceblobstore\n"
            "  default_datestore: typo-tolerated\n  continue_on_step_failure: true\n",
        ),
    )
    job = load_job(path)
    assert isinstance(job, PipelineJob)
    assert job.settings.default_compute == "local"
    assert job.settings.continue_on_step_failure is True
    assert (job.settings.model_extra or {}).get("default_datestore") == "typo-tolerated"
    prep = job.jobs["prep"]
    assert (prep.model_extra or {}).get("comment") == "a note on the step"
    assert graph_of(path).order[0] == "prep"

    text = path.read_text().replace("jobs:\n", "descripton: typo\njobs:\n")
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_job(path)
    assert err.value.field == "descripton"
    assert err.value.file == str(path)
    assert err.value.line == line_of(path, "descripton:")


def test_component_files_load_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    write(tmp_path, "lib/train.yml", TRAIN)
    (tmp_path / "lib" / "src").mkdir()
    write(
        tmp_path,
        "lib/twice.yml",
        """\
        type: pipeline
        name: twice
        inputs:
          data: {type: uri_folder}
        outputs:
          model: {type: mlflow_model}
        jobs:
          first:
            component: ./train.yml
            inputs:
              data: ${{parent.inputs.data}}
          second:
            component: file:train.yml
            inputs:
              data: ${{parent.inputs.data}}
            outputs:
              model: ${{parent.outputs.model}}
        """,
    )
    path = write(
        tmp_path,
        "pipelines/p.yml",
        """\
        type: pipeline
        inputs:
          raw: {type: uri_folder, path: ../data}
        jobs:
          nested:
            type: pipeline
            component: ../lib/twice.yml
            inputs:
              data: ${{parent.inputs.raw}}
          inline:
            component:
              command: echo ${{inputs.x}}
              environment: {image: python:3.11}
              inputs:
                x: {type: integer}
            inputs:
              x: 4
          tune:
            type: sweep
            trial: ../lib/train.yml
            inputs:
              data: ${{parent.inputs.raw}}
            search_space:
              lr: {type: choice, values: [0.1, 0.2]}
            objective: {goal: maximize, primary_metric: acc}
        """,
    )
    job = load_job(path)
    assert isinstance(job, PipelineJob)
    nested = job.jobs["nested"].component
    assert isinstance(nested, PipelineComponent)
    for step in ("first", "second"):
        comp = nested.jobs[step].component
        assert isinstance(comp, CommandComponent)
        assert comp.base_path == (tmp_path / "lib").resolve()  # where its ./src lives
        assert comp.source == str((tmp_path / "lib" / "train.yml").resolve())
    assert isinstance(job.jobs["inline"].component, CommandComponent)
    trial = job.jobs["tune"].trial
    assert isinstance(trial, CommandComponent) and trial.name == "train"

    graph = graph_of(path)
    assert graph.nodes["nested"].kind == "pipeline"
    assert set(graph.nodes["nested"].outputs) == {"model"}
    tune = graph.nodes["tune"]
    assert tune.kind == "sweep"
    assert "lr" not in tune.inputs  # the search space replaces the component's input
    assert set(tune.outputs) == {"model"}


def test_a_standalone_sweep_loads_its_trial_file(tmp_path: Path) -> None:
    write(tmp_path, "train.yml", TRAIN)
    path = write(
        tmp_path,
        "sweep.yml",
        """\
        type: sweep
        trial: ./train.yml
        inputs:
          data: {type: uri_folder, path: ./data}
        search_space:
          lr: {type: uniform, min_value: 0.01, max_value: 0.1}
        objective: {goal: minimize, primary_metric: loss}
        limits: {max_total_trials: 4, max_concurrent_trials: 2}
        """,
    )
    job = load_job(path)
    assert isinstance(job, SweepJob)
    assert isinstance(job.trial, CommandComponent)
    assert job.limits.max_total_trials == 4 and job.limits.max_concurrent_trials == 2


def test_a_missing_component_file_names_the_pipeline_file_and_step(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """\
  train:
    component: ./components/trian.yml
""",
    )
    with pytest.raises(SpecError, match=r"trian\.yml does not exist") as err:
        load_job(path)
    assert err.value.field == "jobs.train.component"
    assert err.value.file == str(path)


def test_a_missing_component_file_names_the_line_of_the_step(tmp_path: Path) -> None:
    path = project(tmp_path, "  train:\n    component: ./components/trian.yml\n")
    with pytest.raises(SpecError) as err:
        load_job(path)
    assert err.value.line == line_of(path, "trian.yml")


def test_a_mistake_in_a_component_file_names_that_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "components/train.yml", TRAIN.replace("command: >-", "comand: >-"))
    path = write(
        tmp_path,
        "pipeline.yml",
        """\
        type: pipeline
        jobs:
          train:
            component: ./components/train.yml
        """,
    )
    with pytest.raises(SpecError) as err:
        load_job(path)
    assert err.value.file == str(bad.resolve())
    assert err.value.field == "comand"
    assert err.value.line == line_of(bad, "comand:")

    write(tmp_path, "components/train.yml", TRAIN.replace("type: command", "type: spark"))
    with pytest.raises(SpecError, match="'spark' is not supported in pipelines") as err:
        load_job(path)
    assert err.value.field == "type"


def test_a_pipeline_component_that_includes_itself_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path,
        "loop.yml",
        """\
        type: pipeline
        name: loop
        jobs:
          again:
            type: pipeline
            component: ./loop.yml
        """,
    )
    path = write(
        tmp_path,
        "pipeline.yml",
        """\
        type: pipeline
        jobs:
          start:
            type: pipeline
            component: ./loop.yml
        """,
    )
    with pytest.raises(SpecError, match="includes itself") as err:
        load_job(path)
    assert err.value.field == "jobs.again.component"
