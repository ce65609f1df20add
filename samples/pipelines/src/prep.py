"""Pipeline step 1: split the raw iris CSV file into train.csv and test.csv.

The split is stratified (each species keeps its share on both sides) and seeded, so the same
inputs give the same files and a rerun of the pipeline can reuse this step. Row counts go to the
step's MLflow run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow
import pandas as pd  # type: ignore[import-untyped]
from iris_data import TARGET, stratified_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-data", required=True, help="the raw CSV file")
    parser.add_argument("--test-size", type=float, default=0.2, help="share of rows to test on")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train-data", required=True, help="output folder for train.csv")
    parser.add_argument("--test-data", required=True, help="output folder for test.csv")
    args = parser.parse_args()

    raw = pd.read_csv(args.raw_data)
    train, test = stratified_split(raw, args.test_size, args.seed)

    for folder, frame, name in (
        (args.train_data, train, "train.csv"),
        (args.test_data, test, "test.csv"),
    ):
        Path(folder).mkdir(parents=True, exist_ok=True)
        frame.to_csv(Path(folder) / name, index=False)

    # the job's MLFLOW_RUN_ID makes this the step's own run
    with mlflow.start_run():
        mlflow.log_params({"test_size": args.test_size, "seed": args.seed})
        mlflow.log_metric("raw_rows", len(raw))
        mlflow.log_metric("train_rows", len(train))
        mlflow.log_metric("test_rows", len(test))
        mlflow.log_metric("species", raw[TARGET].nunique())
    print(f"split {len(raw)} rows into {len(train)} train and {len(test)} test rows")


if __name__ == "__main__":
    main()
