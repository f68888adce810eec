"""Compare NLU models on the held-out set the way the bot sees them at run time.

`rasa test nlu` scores the classifier under the FallbackClassifier; at run time a low-confidence
message becomes `nlu_fallback` instead. This script parses every held-out message with each model
(in process, model loaded once) and reports intent accuracy with the fallback applied, the share of
messages that fell back, and the parse time per message.

    python bench/nlu_compare.py MODEL.tar.gz [MODEL2.tar.gz ...] [--nlu tests/nlu/test_nlu.yml]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The dialogue answers nlu_fallback and out_of_scope alike (docs/FIELD-NOTES), so that swap is no error there.
ALIKE = {"nlu_fallback", "out_of_scope"}


def load_examples(path: Path) -> list[tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


async def evaluate(model: Path, examples: list[tuple[str, str]]) -> dict:
    import logging

    import structlog
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    # after loading: Rasa configures structlog itself and would log every parse at debug level
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for text, _ in examples[:5]:  # warm-up: first parses build lazy state
        await agent.parse_message(text)
    logging.getLogger("rasa").setLevel(logging.WARNING)
    correct = fallback = alike = 0
    times, errors = [], []
    for text, intent in examples:
        start = time.perf_counter()
        result = await agent.parse_message(text)
        times.append(time.perf_counter() - start)
        predicted = result["intent"]["name"]
        fallback += predicted == "nlu_fallback"
        if predicted == intent:
            correct += 1
            alike += 1
        elif {predicted, intent} <= ALIKE:
            alike += 1
        else:
            errors.append({"text": text, "intent": intent, "predicted": predicted,
                           "confidence": round(result["intent"]["confidence"], 3)})
    times.sort()
    return {"model": str(model), "examples": len(examples), "accuracy": round(correct / len(examples), 4),
            "accuracy_fallback_as_out_of_scope": round(alike / len(examples), 4),
            "fallback_rate": round(fallback / len(examples), 4),
            "parse_p50_ms": round(1000 * statistics.median(times), 2),
            "parse_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2), "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--nlu", type=Path, default=Path(__file__).resolve().parent.parent / "tests/nlu/test_nlu.yml")
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    examples = load_examples(args.nlu)
    results = [asyncio.run(evaluate(m, examples)) for m in args.models]
    for r in results:
        print(f"{Path(r['model']).name}: accuracy {r['accuracy']:.3f} (fallback applied; "
              f"{r['accuracy_fallback_as_out_of_scope']:.3f} counting fallback as out_of_scope), fallback "
              f"{r['fallback_rate']:.3f}, parse p50 {r['parse_p50_ms']} ms p95 {r['parse_p95_ms']} ms, "
              f"{len(r['errors'])} errors")
        for e in r["errors"]:
            print(f"    {e['text']!r}: {e['intent']} -> {e['predicted']} ({e['confidence']})")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
