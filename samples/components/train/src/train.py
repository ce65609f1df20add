"""Learn petal-length thresholds between iris species (standard library only)."""

import argparse
import csv
import itertools
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--target", default="species")
    parser.add_argument("--model-output", required=True)
    args = parser.parse_args()

    rows = []
    for file in sorted(Path(args.data).glob("*.csv")):
        with file.open(newline="", encoding="utf-8") as fh:
            rows.extend(csv.DictReader(fh))
    by_class: dict[str, list[float]] = {}
    for row in rows:
        by_class.setdefault(row[args.target], []).append(float(row["petal_length"]))
    means = sorted((sum(v) / len(v), k) for k, v in by_class.items())
    thresholds = [[(a + b) / 2, name] for (a, name), (b, _) in itertools.pairwise(means)]
    model = {"feature": "petal_length", "thresholds": thresholds, "otherwise": means[-1][1]}

    out = Path(args.model_output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rules.json").write_text(json.dumps(model), encoding="utf-8")
    print(f"trained on {len(rows)} rows: {model}")


if __name__ == "__main__":
    main()
