"""Train the Rasa model only when its sources changed: the model file is named after their hash."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "config.yml", ROOT / "bot" / "domain", ROOT / "bot" / "data", ROOT / "bot" / "jieba"]


def sources_hash() -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return ROOT / "models" / f"bot-{sources_hash()}.tar.gz"


def main() -> int:
    path = model_path()
    if "--path" in sys.argv:
        print(path)
        return 0
    if path.exists():
        print(f"model up to date: {path.relative_to(ROOT)}")
        return 0
    path.parent.mkdir(exist_ok=True)
    cmd = [str(ROOT / ".venv" / "bin" / "rasa"), "train", "--config", "config.yml", "--domain", "bot/domain",
           "--data", "bot/data", "--out", "models", "--fixed-model-name", path.name[: -len(".tar.gz")]]
    print("training:", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
