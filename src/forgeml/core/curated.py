"""Curated environments: the names Azure ML examples use, mapped to pip requirement sets.

Nearly every Azure ML example names a curated environment such as
`azureml://registries/azureml/environments/sklearn-1.5/labels/latest` or
`azureml:AzureML-sklearn-1.5@latest`. forgeml has no container registry of Microsoft images, so
each alias maps to a Python requirement set that a job's virtual environment installs. The table
is documented in docs/assets.md; add a row here to support another name.
"""

from __future__ import annotations

from typing import Final

_MLFLOW: Final = ["mlflow-skinny>=2.12", "pandas>=2.0", "numpy>=1.26"]

CURATED_ENVIRONMENTS: Final[dict[str, list[str]]] = {
    "sklearn-1.5": ["scikit-learn~=1.5.0", "scipy>=1.11", "joblib", *_MLFLOW],
    "sklearn-1.1": ["scikit-learn~=1.1.0", "scipy>=1.9", "joblib", *_MLFLOW],
    "sklearn-1.0": ["scikit-learn~=1.0.0", "scipy>=1.7", "joblib", *_MLFLOW],
    "lightgbm-3.3": ["lightgbm~=3.3.0", "scikit-learn>=1.1", *_MLFLOW],
    "lightgbm-4": ["lightgbm>=4,<5", "scikit-learn>=1.3", *_MLFLOW],
    "xgboost-2": ["xgboost>=2,<3", "scikit-learn>=1.3", *_MLFLOW],
    "pytorch-2": ["torch==2.13.0", *_MLFLOW],
    "acpt-pytorch-2.8-cuda12.6": ["torch==2.13.0", *_MLFLOW],
    "tensorflow-2.16-cuda12": ["tensorflow-cpu~=2.16.0", *_MLFLOW],
    "minimal-py312-inference": ["azureml-inference-server-http"],
    "mlflow-py312-inference": [*_MLFLOW],
    "python-3.11": [],
}


def curated_key(name: str) -> str | None:
    """Normalise `AzureML-sklearn-1.5`, `sklearn-1.5` and friends to a table key, if known."""
    key = name.strip()
    if key.lower().startswith("azureml-"):
        key = key[len("azureml-") :]
    key = key.lower()
    if key in CURATED_ENVIRONMENTS:
        return key
    # the `-ubuntu22.04-py310-cpu` suffixes of older curated names carry no meaning here
    for known in CURATED_ENVIRONMENTS:
        if key.startswith(known + "-"):
            return known
    return None
