"""Wire models shared by the server and the SDK: pages, errors, content negotiation, listings.

The YAML document classes in `forgeml.core.specs` are the request and response bodies of the
asset routes; this package adds the shapes that exist only on the wire.
"""

from forgeml.schemas.common import (
    AssetContainer,
    ContentRef,
    ErrorBody,
    ManifestBody,
    ManifestFile,
    MissingBlobs,
    Page,
    WantedBlobs,
)

__all__ = [
    "AssetContainer",
    "ContentRef",
    "ErrorBody",
    "ManifestBody",
    "ManifestFile",
    "MissingBlobs",
    "Page",
    "WantedBlobs",
]
