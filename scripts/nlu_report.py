"""Summarise a `rasa test nlu` output folder: intent accuracy / macro F1, the weak intents of issue 17 and the
weakest ones, FAQ question accuracy (ResponseSelector), entity F1."""
from __future__ import annotations

import json
import sys
from pathlib import Path

# the small-talk and look-alike intents that were weakest before issue 17
WATCHED = ("greet", "goodbye", "thank", "affirm", "deny", "unbind_device", "bind_device", "check_status",
           "reset_password", "faq", "out_of_scope")
AVERAGES = ("macro avg", "weighted avg", "micro avg")


def _rows(report: dict) -> dict:
    return {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v and k not in AVERAGES}


def main(folder: str) -> int:
    root = Path(folder)
    intents = json.loads((root / "intent_report.json").read_text())
    print(f"intent accuracy {intents['accuracy']:.3f}   macro F1 {intents['macro avg']['f1-score']:.3f}   "
          f"weighted F1 {intents['weighted avg']['f1-score']:.3f}")
    rows = _rows(intents)
    print("watched intents (F1):", ", ".join(f"{k} {rows[k]['f1-score']:.2f}" for k in WATCHED if k in rows))
    weakest = sorted(rows.items(), key=lambda kv: kv[1]["f1-score"])
    print("weakest intents:", ", ".join(f"{k} {v['f1-score']:.2f}" for k, v in weakest[:6]))
    selection = root / "response_selection_report.json"
    if selection.exists():
        report = json.loads(selection.read_text())
        print(f"FAQ question accuracy (ResponseSelector) {report['accuracy']:.3f}")
    for name in ("RegexEntityExtractor_report.json", "DIETClassifier_report.json"):
        path = root / name
        if path.exists():
            report = json.loads(path.read_text())
            f1 = {k: report[k]["f1-score"] for k in AVERAGES if k in report}
            print(f"{name.split('_')[0]} entity F1 " + "  ".join(f"{k.split()[0]} {v:.3f}" for k, v in f1.items())
                  + "   " + ", ".join(f"{k} {v['f1-score']:.2f}" for k, v in _rows(report).items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/results/nlu-cv"))
