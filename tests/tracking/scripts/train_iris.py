"""A training script as users write it: mlflow autolog, nothing forgeml-specific.

Run with MLFLOW_TRACKING_URI set; prints the run id. With `--register NAME` it also registers
the autologged model.
"""

import argparse

import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--experiment", default="iris")
parser.add_argument("--register", default=None)
parser.add_argument("--c", type=float, default=1.0)
args = parser.parse_args()

mlflow.set_experiment(args.experiment)
mlflow.sklearn.autolog()
X, y = load_iris(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
with mlflow.start_run() as run:
    model = LogisticRegression(C=args.c, max_iter=500).fit(X_train, y_train)
    mlflow.log_metric("test_accuracy", model.score(X_test, y_test))
if args.register:
    mlflow.register_model(f"runs:/{run.info.run_id}/model", args.register)
print(run.info.run_id)
