"""Pipeline step 2: train a random forest on train.csv and save it as an MLflow model.

`mlflow.sklearn.autolog()` records the estimator's parameters and training metrics in the step's
run; the model itself is the step's `mlflow_model` output, written with
`mlflow.sklearn.save_model` so the folder holds an `MLmodel` file with a signature.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd  # type: ignore[import-untyped]
from iris_data import copy_contents, features_and_labels
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-data", required=True, help="folder holding train.csv")
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--max-depth", type=int, default=None, help="unlimited when left out")
    parser.add_argument("--model", required=True, help="output folder for the MLflow model")
    args = parser.parse_args()

    x, y = features_and_labels(pd.read_csv(Path(args.train_data) / "train.csv"))
    # the model travels as this step's output, so the run keeps parameters and metrics only
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run():
        model = RandomForestClassifier(
            n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0
        )
        model.fit(x, y)

    signature = infer_signature(x, model.predict(x))
    # save_model refuses a folder that holds files (and older MLflow any existing folder), but
    # the output folder is created before the step starts: save next to it, then copy it in
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        mlflow.sklearn.save_model(
            model,
            staged,
            # MLflow 3.14 made `skops` the default, which needs the skops package and refuses to
            # save tree models unless their types are listed as trusted; cloudpickle is the
            # format every MLflow version (and Azure ML's curated images) loads
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            signature=signature,
            input_example=x.head(3),
        )
        copy_contents(staged, Path(args.model))
    depth = "unlimited" if args.max_depth is None else args.max_depth
    print(f"trained {args.n_estimators} trees (max depth {depth}) on {len(x)} rows")


if __name__ == "__main__":
    main()
