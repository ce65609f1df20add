"""What the iris pipeline steps share: the label column, the features, the split and a folder copy.

Every step of the pipeline runs with this folder as its code snapshot, so the scripts import this
module directly. It needs only pandas and scikit-learn, both in `AzureML-sklearn-1.5`.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

TARGET = "species"


def _require_target(frame: pd.DataFrame) -> None:
    if TARGET not in frame.columns:
        raise SystemExit(
            f"the data has no '{TARGET}' column (columns: {', '.join(map(str, frame.columns))}); "
            "give a CSV file with the iris measurements and a species column."
        )


def features_and_labels(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The measurement columns (as floats, so MLflow signatures match at scoring) and the label."""
    _require_target(frame)
    return frame.drop(columns=[TARGET]).astype("float64"), frame[TARGET]


def stratified_split(
    frame: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split keeping the species proportions, with at least one row of each species on each side.

    A stratified split needs every class on both sides; on a small file the share asked for may
    give fewer test rows than there are classes, so the test side grows to one row per class.
    """
    _require_target(frame)
    if not 0 < test_size < 1:
        raise SystemExit(f"test_size must lie between 0 and 1 (exclusive), got {test_size}.")
    classes = frame[TARGET].nunique()
    smallest = int(frame[TARGET].value_counts().min())
    if smallest < 2:
        raise SystemExit(
            f"every species needs at least 2 rows to appear on both sides of the split; "
            f"the data has a species with {smallest}. Give a larger CSV file."
        )
    n_test = max(math.ceil(test_size * len(frame)), classes)
    n_test = min(n_test, len(frame) - classes)
    if n_test != math.ceil(test_size * len(frame)):
        print(
            f"test_size {test_size} gives too few rows for {classes} species in "
            f"{len(frame)} rows; using {n_test} test rows instead"
        )
    train, test = train_test_split(
        frame, test_size=n_test, stratify=frame[TARGET], random_state=seed
    )
    return train, test


def copy_contents(source: Path, destination: Path) -> None:
    """Copy the files under `source` into `destination`, which may already exist.

    Only contents are copied, not permission bits: inputs can be read-only mounts, and an output
    folder that became read-only could not be collected or cleaned up after the step.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for dirpath, _dirs, files in os.walk(source):
        target = destination / Path(dirpath).relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copyfile(Path(dirpath) / name, target / name)
