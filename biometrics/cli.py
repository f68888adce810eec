"""Command line (see docs/biometrics.md and shared CONTRACTS.md).

    python -m biometrics idcard IMAGE --json
    python -m biometrics idcard-back IMAGE --json
    python -m biometrics face-match A B [B2 ...] --json
    python -m biometrics signature IMAGE --json
    python -m biometrics liveness VIDEO [--challenge ACTIONS] [--mirrored] --json

ACTIONS: one action or a comma list in order, of blink, turn_left, turn_right, open_mouth, nod (``turn`` = either
direction, kept for old callers).  Exit status 1 when the result has ok:false (liveness: also when the challenge
was not passed, which includes every presentation attack).
"""
from __future__ import annotations

import argparse
import json


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _emit(d: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(d, ensure_ascii=False))
    else:
        for k, v in d.items():
            print(f"{k}: {v}")


def _challenge(text: str) -> list[str]:
    from .liveness import parse_challenge

    try:
        return parse_challenge(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m biometrics")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("idcard", "idcard-back", "signature"):
        p = sub.add_parser(name)
        p.add_argument("image")
        p.add_argument("--json", action="store_true")
    p = sub.add_parser("face-match")
    p.add_argument("selfie")
    p.add_argument("references", nargs="+")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("liveness")
    p.add_argument("video")
    p.add_argument("--challenge", type=_challenge, default="blink",
                   help="one action or a comma list in order: blink, turn_left, turn_right, open_mouth, nod (turn)")
    p.add_argument("--mirrored", action="store_true", help="the video was taken from a mirrored preview")
    p.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)

    paths = [getattr(a, "image", None) or getattr(a, "video", None) or a.selfie] + list(getattr(a, "references", []) or [])
    blobs = [_read(p) for p in paths]
    if any(b is None for b in blobs):
        _emit({"ok": False, "error": "file_not_found", "message": "文件不存在或无法读取。"}, a.json)
        return 1

    if a.cmd == "idcard":
        from . import idcard

        d = idcard.read_front(blobs[0]).to_dict()
        ok = d["ok"]
    elif a.cmd == "idcard-back":
        from . import idcard

        d = idcard.read_back(blobs[0]).to_dict()
        ok = d["ok"]
    elif a.cmd == "signature":
        from . import signature

        d = signature.check(blobs[0]).to_dict()
        ok = d["ok"]
    elif a.cmd == "face-match":
        from . import face

        r = face.compare(blobs[0], blobs[1:])
        d = r.to_dict()
        d["match"] = r.decision == "accept" if r.ok else False
        ok = r.ok
    else:
        from . import liveness

        d = liveness.check(blobs[0], challenge=a.challenge, mirrored=a.mirrored).to_dict()
        ok = d["ok"] and d["passed"]
    _emit(d, a.json)
    return 0 if ok else 1
