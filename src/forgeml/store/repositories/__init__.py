"""Repositories: the only code that speaks SQL, one module per aggregate."""

from forgeml.store.repositories.assets import AssetRecord, AssetRepository, ContainerRecord
from forgeml.store.repositories.computes import ComputeRecord, ComputeRepository

__all__ = [
    "AssetRecord",
    "AssetRepository",
    "ComputeRecord",
    "ComputeRepository",
    "ContainerRecord",
]
