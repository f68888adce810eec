import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_rules_and_domain_are_up_to_date():
    result = subprocess.run([sys.executable, "scripts/gen_bot.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + "run `make rules`"
