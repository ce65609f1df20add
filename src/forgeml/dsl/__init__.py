"""The pipeline DSL, `from forgeml.dsl import pipeline`, shaped like azure-ai-ml's `dsl` module.

Inside a `@pipeline` function, calling a component (`load_component(...)` returns one) makes a
step; passing one step's output to another component binds the two. Calling the decorated
function returns the `PipelineJob` that the equivalent pipeline YAML loads to, ready for
`MLClient().jobs.create_or_update(job)`.
"""

from __future__ import annotations

from forgeml.dsl.decorator import pipeline
from forgeml.dsl.nodes import (
    CommandNode,
    Node,
    NodeInput,
    NodeOutput,
    PipelineInput,
    PipelineNode,
    component_node,
)

__all__ = [
    "CommandNode",
    "Node",
    "NodeInput",
    "NodeOutput",
    "PipelineInput",
    "PipelineNode",
    "component_node",
    "pipeline",
]
