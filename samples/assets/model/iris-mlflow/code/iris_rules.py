"""An MLflow `python_function` model with no dependencies: petal length thresholds."""

import json


class IrisRules:
    def __init__(self, rules):
        self.rules = rules

    def predict(self, model_input, params=None):
        rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else model_input
        out = []
        for row in rows:
            value = float(row[self.rules["feature"]])
            label = next((name for limit, name in self.rules["thresholds"] if value < limit), None)
            out.append(label or self.rules["otherwise"])
        return out


def _load_pyfunc(data_path):
    with open(data_path, encoding="utf-8") as fh:
        return IrisRules(json.load(fh))
