"""Learn petal-length thresholds between iris species, logging to MLflow as Azure ML jobs do.

The job sets MLFLOW_TRACKING_URI and MLFLOW_RUN_ID, so `mlflow.start_run()` continues the
job's own run: nothing here is specific to forgeml.
"""

import argparse
import csv
import itertools
import json
import os
from pathlib import Path

import mlflow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="a CSV file")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--rules", required=True, help="the output folder")
    args = parser.parse_args()
    target = os.environ.get("IRIS_TARGET", "species")

    with open(args.data, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_class: dict[str, list[float]] = {}
    for row in rows:
        by_class.setdefault(row[target], []).append(float(row["petal_length"]))
    means = sorted((sum(v) / len(v), k) for k, v in by_class.items())
    thresholds = [[(a + b) / 2, name] for (a, name), (b, _) in itertools.pairwise(means)]
    rules = {"feature": "petal_length", "thresholds": thresholds, "otherwise": means[-1][1]}

    def predict(length: float) -> str:
        return next((name for cut, name in thresholds if length < cut), rules["otherwise"])

    correct = sum(predict(float(r["petal_length"])) == r[target] for r in rows)
    with mlflow.start_run():
        mlflow.log_params({"learning_rate": args.learning_rate, "max_epochs": args.max_epochs})
        mlflow.log_metric("rows", len(rows))
        mlflow.log_metric("accuracy", correct / len(rows))

    out = Path(args.rules)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    Path("outputs").mkdir(exist_ok=True)
    Path("outputs/summary.json").write_text(
        json.dumps({"rows": len(rows), "accuracy": correct / len(rows)}), encoding="utf-8"
    )
    print(f"trained on {len(rows)} rows, accuracy {correct / len(rows):.3f}")


if __name__ == "__main__":
    main()
