"""Pipeline step 3: score the model on test.csv and write the report the gate reads.

The model is loaded through `mlflow.pyfunc`, so any MLflow model with the same signature can be
evaluated by this step, not only the random forest of the train step.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd  # type: ignore[import-untyped]
from iris_data import features_and_labels
from sklearn.metrics import accuracy_score, f1_score  # type: ignore[import-untyped]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="an MLflow model folder")
    parser.add_argument("--test-data", required=True, help="folder holding test.csv")
    parser.add_argument("--report", required=True, help="output folder for metrics.json")
    args = parser.parse_args()

    model = mlflow.pyfunc.load_model(args.model)
    x, y = features_and_labels(pd.read_csv(Path(args.test_data) / "test.csv"))
    predicted = model.predict(x)
    metrics = {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1_macro": float(f1_score(y, predicted, average="macro")),
        "test_rows": len(x),
    }

    with mlflow.start_run():
        mlflow.log_metric("accuracy", metrics["accuracy"])
        mlflow.log_metric("f1_macro", metrics["f1_macro"])
    report = Path(args.report)
    report.mkdir(parents=True, exist_ok=True)
    (report / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(
        f"accuracy {metrics['accuracy']:.3f}, f1_macro {metrics['f1_macro']:.3f} on {len(x)} rows"
    )


if __name__ == "__main__":
    main()
