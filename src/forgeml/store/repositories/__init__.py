"""Repositories: the only code that speaks SQL, one module per aggregate."""

from forgeml.store.repositories.assets import AssetRecord, AssetRepository, ContainerRecord
from forgeml.store.repositories.computes import ComputeRecord, ComputeRepository
from forgeml.store.repositories.endpoints import (
    DeploymentRecord,
    EndpointRecord,
    EndpointRepository,
    InstanceRecord,
)
from forgeml.store.repositories.experiments import ExperimentRepository
from forgeml.store.repositories.jobs import JobRecord, JobRepository
from forgeml.store.repositories.runs import RunRepository

__all__ = [
    "AssetRecord",
    "AssetRepository",
    "ComputeRecord",
    "ComputeRepository",
    "ContainerRecord",
    "DeploymentRecord",
    "EndpointRecord",
    "EndpointRepository",
    "ExperimentRepository",
    "InstanceRecord",
    "JobRecord",
    "JobRepository",
    "RunRepository",
]
