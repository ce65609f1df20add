"""An Azure ML batch scoring script: run() gets a list of file paths per mini-batch."""

import csv
import json
import os

model = None


def init():
    global model
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.json")
    with open(path) as fh:
        model = json.load(fh)


def run(mini_batch):
    results = []
    for path in mini_batch:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                x = [float(row[f"x{i}"]) for i in range(len(model["coefficients"]))]
                y = sum(w * v for w, v in zip(model["coefficients"], x)) + model["intercept"]
                results.append(f"{os.path.basename(path)},{row['id']},{round(y, 4)}")
    return results
