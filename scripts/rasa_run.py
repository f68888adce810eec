"""`rasa` with our speed-ups of Rasa's own per-turn code applied first (bot/rasa_speedups.py).

Same arguments as the `rasa` command, e.g. `python scripts/rasa_run.py run --enable-api ...`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import rasa_speedups  # noqa: E402

if __name__ == "__main__":
    rasa_speedups.apply()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())
