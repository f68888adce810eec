"""Summarise a `rasa test nlu` output folder: intent accuracy / macro F1, the weakest intents, entity F1."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str) -> int:
    root = Path(folder)
    intents = json.loads((root / "intent_report.json").read_text())
    print(f"intent accuracy {intents['accuracy']:.3f}   macro F1 {intents['macro avg']['f1-score']:.3f}   "
          f"weighted F1 {intents['weighted avg']['f1-score']:.3f}")
    rows = sorted(((k, v) for k, v in intents.items() if isinstance(v, dict) and "support" in v
                   and k not in ("macro avg", "weighted avg", "micro avg")), key=lambda kv: kv[1]["f1-score"])
    print("weakest intents:", ", ".join(f"{k} {v['f1-score']:.2f}" for k, v in rows[:6]))
    for name in ("RegexEntityExtractor_report.json", "DIETClassifier_report.json"):
        path = root / name
        if path.exists():
            report = json.loads(path.read_text())
            print(f"{name.split('_')[0]} entity macro F1 {report['macro avg']['f1-score']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/results/nlu-cv"))
