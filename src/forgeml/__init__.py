"""forgeml: a self-hosted machine-learning workspace.

The public SDK surface. Heavy modules load on first use, so `import forgeml` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from forgeml.client import MLClient as MLClient
    from forgeml.client.endpoints import DeploymentFailedError as DeploymentFailedError
    from forgeml.client.jobs import JobFailedError as JobFailedError
    from forgeml.core.errors import (
        ConflictError as ConflictError,
    )
    from forgeml.core.errors import (
        ForbiddenError as ForbiddenError,
    )
    from forgeml.core.errors import (
        ForgemlError as ForgemlError,
    )
    from forgeml.core.errors import (
        NotFoundError as NotFoundError,
    )
    from forgeml.core.errors import (
        SpecError as SpecError,
    )
    from forgeml.core.errors import (
        UserError as UserError,
    )
    from forgeml.core.specs import (
        CommandComponent as CommandComponent,
    )
    from forgeml.core.specs import (
        Data as Data,
    )
    from forgeml.core.specs import (
        Environment as Environment,
    )
    from forgeml.core.specs import (
        LocalCompute as LocalCompute,
    )
    from forgeml.core.specs import (
        Model as Model,
    )
    from forgeml.core.specs import (
        RayCompute as RayCompute,
    )
    from forgeml.core.specs import (
        load_component as load_component,
    )
    from forgeml.core.specs import (
        load_compute as load_compute,
    )
    from forgeml.core.specs import (
        load_data as load_data,
    )
    from forgeml.core.specs import (
        load_environment as load_environment,
    )
    from forgeml.core.specs import (
        load_model as load_model,
    )
    from forgeml.core.specs.endpoints import BatchEndpoint as BatchEndpoint
    from forgeml.core.specs.endpoints import CodeConfiguration as CodeConfiguration
    from forgeml.core.specs.endpoints import ModelBatchDeployment as ModelBatchDeployment
    from forgeml.core.specs.endpoints import OnlineDeployment as OnlineDeployment
    from forgeml.core.specs.endpoints import OnlineEndpoint as OnlineEndpoint
    from forgeml.core.specs.endpoints import (
        PipelineComponentBatchDeployment as PipelineComponentBatchDeployment,
    )
    from forgeml.core.specs.endpoints import load_batch_deployment as load_batch_deployment
    from forgeml.core.specs.endpoints import load_batch_endpoint as load_batch_endpoint
    from forgeml.core.specs.endpoints import load_online_deployment as load_online_deployment
    from forgeml.core.specs.endpoints import load_online_endpoint as load_online_endpoint
    from forgeml.core.specs.job import CommandJob as CommandJob
    from forgeml.core.specs.job import Input as Input
    from forgeml.core.specs.job import Output as Output
    from forgeml.core.specs.job import command as command
    from forgeml.core.specs.job import load_job as load_job
    from forgeml.core.types import AssetTypes as AssetTypes

_EXPORTS = {
    "MLClient": "forgeml.client",
    "AssetTypes": "forgeml.core.types",
    "CommandComponent": "forgeml.core.specs",
    "Data": "forgeml.core.specs",
    "Environment": "forgeml.core.specs",
    "LocalCompute": "forgeml.core.specs",
    "RayCompute": "forgeml.core.specs",
    "Model": "forgeml.core.specs",
    "load_component": "forgeml.core.specs",
    "load_compute": "forgeml.core.specs",
    "load_data": "forgeml.core.specs",
    "load_environment": "forgeml.core.specs",
    "load_model": "forgeml.core.specs",
    "ForgemlError": "forgeml.core.errors",
    "UserError": "forgeml.core.errors",
    "SpecError": "forgeml.core.errors",
    "NotFoundError": "forgeml.core.errors",
    "ConflictError": "forgeml.core.errors",
    "ForbiddenError": "forgeml.core.errors",
    "command": "forgeml.core.specs.job",
    "Input": "forgeml.core.specs.job",
    "Output": "forgeml.core.specs.job",
    "CommandJob": "forgeml.core.specs.job",
    "load_job": "forgeml.core.specs.job",
    "JobFailedError": "forgeml.client.jobs",
    "DeploymentFailedError": "forgeml.client.endpoints",
    "OnlineEndpoint": "forgeml.core.specs.endpoints",
    "OnlineDeployment": "forgeml.core.specs.endpoints",
    "BatchEndpoint": "forgeml.core.specs.endpoints",
    "ModelBatchDeployment": "forgeml.core.specs.endpoints",
    "PipelineComponentBatchDeployment": "forgeml.core.specs.endpoints",
    "CodeConfiguration": "forgeml.core.specs.endpoints",
    "load_online_endpoint": "forgeml.core.specs.endpoints",
    "load_online_deployment": "forgeml.core.specs.endpoints",
    "load_batch_endpoint": "forgeml.core.specs.endpoints",
    "load_batch_deployment": "forgeml.core.specs.endpoints",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'forgeml' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
