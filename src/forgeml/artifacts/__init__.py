"""The artifact store: content-addressed blobs and manifests over fsspec (local folder, S3, ...)."""

from forgeml.artifacts.base import ArtifactStore
from forgeml.artifacts.fsspec_store import FsspecArtifactStore, open_artifact_store

__all__ = ["ArtifactStore", "FsspecArtifactStore", "open_artifact_store"]
