"""Is the ResponseSelector worth it? A simple alternative measured the same way: TF-IDF over character 1–4-grams
and a linear classifier (logistic regression) or the nearest phrasing (cosine), trained on the FAQ phrasings of
bot/faq/faq.yml.

  python scripts/faq_compare.py                 5-fold cross-validation on the FAQ phrasings (the place to choose)
  python scripts/faq_compare.py --held-out      also their accuracy on the held-out faq/<key> phrasings of
                                                tests/nlu/test_nlu.yml (reported beside the ResponseSelector's
                                                figure from `make test-nlu`, never used to tune)

The ResponseSelector's own figures: `make nlu-cv` (response_selection_report.json) and `make test-nlu`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import gen_faq  # noqa: E402


class Nearest:
    """The key of the most similar training phrasing (cosine on TF-IDF char n-grams)."""

    def fit(self, texts, keys):
        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True)
        self.matrix, self.keys = self.vec.fit_transform(texts), np.array(keys)
        return self

    def predict(self, texts):
        return self.keys[(self.vec.transform(texts) @ self.matrix.T).toarray().argmax(axis=1)]


def models():
    return {"tfidf+logreg": lambda: make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)),
                                                  LogisticRegression(C=20, max_iter=2000)),
            "tfidf+nearest": Nearest}


def training() -> tuple[list[str], list[str]]:
    texts, keys = [], []
    for entry in gen_faq.load():
        texts += entry.examples
        keys += [entry.key] * len(entry.examples)
    return texts, keys


def held_out() -> tuple[list[str], list[str]]:
    from rasa.shared.nlu.training_data.loading import load_data
    data = load_data(str(ROOT / "tests" / "nlu" / "test_nlu.yml"))
    pairs = [(m.get("text"), m.get_full_intent().split("/", 1)[1]) for m in data.intent_examples
             if m.get_full_intent().startswith("faq/")]
    return [t for t, _ in pairs], [k for _, k in pairs]


def main() -> int:
    texts, keys = training()
    x, y = np.array(texts, dtype=object), np.array(keys)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for name, make in models().items():
        scores = [float((make().fit(list(x[a]), list(y[a])).predict(list(x[b])) == y[b]).mean())
                  for a, b in folds.split(x, y)]
        line = f"{name:14} 5-fold CV {np.mean(scores):.3f} (±{np.std(scores):.3f})"
        if "--held-out" in sys.argv:
            ht, hk = held_out()
            line += f"   held-out {float((make().fit(texts, keys).predict(ht) == np.array(hk)).mean()):.3f} (n={len(hk)})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
