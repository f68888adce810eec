"""The held-out NLU check of `make test`: the trained model (scripts/train.py --path, never a new training) on
tests/nlu/test_nlu.yml, held against the floors in tests/nlu/floors.yml.

Figures: intent accuracy, FAQ question accuracy (the ResponseSelector on the held-out faq/<key> phrasings) and
entity F1 (RegexEntityExtractor, password types included). Any figure under its floor fails the build. The floors
sit about 0.02 under what was measured when they were set; raise them when the data gets better, never lower
them to make a change pass. The held-out set is never used to tune: tune on `make nlu-cv` (training data only).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.train import model_path  # noqa: E402

HELD_OUT = ROOT / "tests" / "nlu" / "test_nlu.yml"
FLOORS = ROOT / "tests" / "nlu" / "floors.yml"
OUT = ROOT / "var" / "results" / "nlu-heldout"


def _report(name: str) -> dict:
    path = OUT / name
    return json.loads(path.read_text()) if path.exists() else {}


def _f1(report: dict) -> float | None:
    for key in ("micro avg", "weighted avg"):
        if key in report:
            return report[key]["f1-score"]
    return None


def figures() -> dict[str, float | None]:
    intents, responses = _report("intent_report.json"), _report("response_selection_report.json")
    return {"intent_accuracy": intents.get("accuracy"),
            "faq_accuracy": responses.get("accuracy"),
            "entity_f1": _f1(_report("RegexEntityExtractor_report.json"))}


def main() -> int:
    model = model_path()
    if not model.exists():
        print(f"no trained model at {model.relative_to(ROOT)}: run `make train` first")
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = [str(ROOT / ".venv" / "bin" / "rasa"), "test", "nlu", "--model", str(model), "--nlu", str(HELD_OUT),
           "--out", str(OUT)]
    with open(OUT / "rasa.log", "w") as log:  # rasa's own output, for when it fails
        if subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT) != 0:
            print(f"rasa test nlu failed: see {(OUT / 'rasa.log').relative_to(ROOT)}")
            return 2
    floors = yaml.safe_load(FLOORS.read_text())
    failed = False
    for name, value in figures().items():
        floor = floors.get(name)
        below = value is None or (floor is not None and value < floor)
        failed |= below
        shown = "missing" if value is None else f"{value:.3f}"
        print(f"{name:16} {shown}   floor {floor}{'   BELOW THE FLOOR' if below else ''}")
    errors = OUT / "intent_errors.json"
    if failed and errors.exists():
        for e in json.loads(errors.read_text())[:15]:
            print(f"  「{e['text']}」 {e['intent']} → {e['intent_prediction']['name']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
