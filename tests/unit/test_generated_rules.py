import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_form_rules_are_up_to_date():
    result = subprocess.run([sys.executable, "scripts/gen_form_rules.py", "--check"], cwd=ROOT)
    assert result.returncode == 0, "bot/data/rules/forms.yml is stale: run `make rules`"
