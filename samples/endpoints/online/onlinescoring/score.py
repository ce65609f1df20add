"""An Azure ML scoring script: init() once per worker, run() once per request."""

import json
import logging
import os

model = None


def init():
    global model
    # AZUREML_MODEL_DIR is the model's root; the model folder keeps its name ("model") under it
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "weights.json")
    with open(path) as fh:
        model = json.load(fh)
    logging.info("loaded model version %s", model["version"])
    print(f"init: model version {model['version']} loaded")


def run(raw_data):
    rows = json.loads(raw_data)["data"]
    width = len(model["coefficients"])
    if not isinstance(rows, list) or any(len(row) != width for row in rows):
        raise ValueError(f"'data' must be a list of rows of {width} numbers")
    return [
        round(sum(w * x for w, x in zip(model["coefficients"], row)) + model["intercept"], 4)
        for row in rows
    ]
