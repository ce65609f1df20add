"""Pipeline step 4: the quality gate in front of the model registry.

The step fails when the evaluated accuracy is below `min_accuracy`, so the pipeline fails and no
model version is created. Otherwise it passes the model on as its `registered_model` output;
registering it as `iris-classifier` is the workspace's part, because the pipeline's output
carries that name.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mlflow
from iris_data import copy_contents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="an MLflow model folder")
    parser.add_argument("--report", required=True, help="folder holding metrics.json")
    parser.add_argument("--min-accuracy", type=float, default=0.8)
    parser.add_argument("--registered-model", required=True, help="output folder")
    args = parser.parse_args()

    model = Path(args.model)
    if not (model / "MLmodel").is_file():
        sys.exit(f"register: {model} has no MLmodel file; the model input must be an MLflow model.")
    report_file = Path(args.report) / "metrics.json"
    try:
        accuracy = float(json.loads(report_file.read_text(encoding="utf-8"))["accuracy"])
    except (OSError, ValueError, KeyError) as exc:
        sys.exit(f"register: cannot read the accuracy from {report_file} ({exc}).")

    passed = accuracy >= args.min_accuracy
    with mlflow.start_run():
        mlflow.log_param("min_accuracy", args.min_accuracy)
        mlflow.set_tag("quality_gate", "passed" if passed else "failed")
    if not passed:
        sys.exit(
            f"register: accuracy {accuracy:.3f} is below min_accuracy {args.min_accuracy:.3f}, "
            "so the model is not registered. Improve the model or lower min_accuracy."
        )
    copy_contents(model, Path(args.registered_model))
    print(f"accuracy {accuracy:.3f} >= {args.min_accuracy:.3f}: model passed on for registration")


if __name__ == "__main__":
    main()
