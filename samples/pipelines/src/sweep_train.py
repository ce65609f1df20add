"""A sweep trial: train a random forest with sampled hyperparameters and report its accuracy.

The forest grows in five stages (warm start adds trees to the ones already fitted) and the test
accuracy is logged after each one, with the stage as the step. Those intermediate values are what
the sweep's early-termination policy compares between trials; the last one is the trial's result.
"""

from __future__ import annotations

import argparse
import time

import mlflow
import pandas as pd  # type: ignore[import-untyped]
from iris_data import features_and_labels, stratified_split
from sklearn.ensemble import RandomForestClassifier  # type: ignore[import-untyped]
from sklearn.metrics import accuracy_score  # type: ignore[import-untyped]

STAGES = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="the iris CSV file")
    parser.add_argument("--n-estimators", type=int, required=True)
    parser.add_argument("--max-depth", type=int, required=True)
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--seconds-per-stage",
        type=float,
        default=0.0,
        help="pause after each stage, so a policy can act on a trial that would end at once",
    )
    args = parser.parse_args()

    train, test = stratified_split(pd.read_csv(args.data), args.test_size, args.seed)
    x_train, y_train = features_and_labels(train)
    x_test, y_test = features_and_labels(test)
    model = RandomForestClassifier(max_depth=args.max_depth, warm_start=True, random_state=0)
    stages = sorted({max(1, round(args.n_estimators * k / STAGES)) for k in range(1, STAGES + 1)})

    accuracy = 0.0
    with mlflow.start_run():
        mlflow.log_params({"n_estimators": args.n_estimators, "max_depth": args.max_depth})
        for step, trees in enumerate(stages):
            model.set_params(n_estimators=trees)
            model.fit(x_train, y_train)
            accuracy = float(accuracy_score(y_test, model.predict(x_test)))
            mlflow.log_metric("accuracy", accuracy, step=step)
            print(f"stage {step}: {trees} trees, accuracy {accuracy:.3f}", flush=True)
            time.sleep(args.seconds_per_stage)
    print(f"final accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
