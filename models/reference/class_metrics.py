#!/usr/bin/env python3
"""Record scikit-learn's categorical scores for fixed cases
(training/tests/fixtures/class_metrics.json), which
`emoscope_training::class_metrics` is checked against: accuracy_score,
balanced_accuracy_score (UAR), f1_score(average="macro") and
confusion_matrix(labels=range(classes)).

The cases cover a class never predicted, a class never true but predicted
(F1 0, left out of UAR), a class neither true nor predicted (left out of
both), and a perfect prediction.

    pip install scikit-learn
    python models/reference/class_metrics.py
"""
import json
import pathlib
import warnings

from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score

OUT = pathlib.Path(__file__).resolve().parents[2] / "training" / "tests" / "fixtures" / "class_metrics.json"

CASES = [
    ("mixed", 4, [0, 0, 1, 1, 2, 2, 3, 3, 3, 0], [0, 1, 1, 1, 2, 0, 3, 2, 3, 0]),
    ("never-predicted", 4, [0, 1, 2, 3, 3, 2, 1, 0], [0, 1, 1, 3, 0, 1, 1, 0]),
    ("predicted-never-true", 4, [0, 0, 1, 1, 2], [3, 0, 1, 3, 2]),
    ("absent-class", 5, [0, 1, 1, 2, 2, 2], [0, 2, 1, 2, 1, 2]),
    ("perfect", 3, [2, 0, 1, 1], [2, 0, 1, 1]),
]


def main() -> None:
    warnings.simplefilter("ignore")
    out = []
    for name, classes, truth, predicted in CASES:
        out.append(dict(
            name=name, classes=classes, truth=truth, predicted=predicted,
            accuracy=accuracy_score(truth, predicted),
            uar=balanced_accuracy_score(truth, predicted),
            macro_f1=f1_score(truth, predicted, average="macro", zero_division=0),
            confusion=confusion_matrix(truth, predicted, labels=list(range(classes))).tolist(),
        ))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(out)} cases -> {OUT}")


if __name__ == "__main__":
    main()
