"""Biometrics benchmark: ID card OCR accuracy by tier on two card sets, face TAR/FAR, timings, and the
liveness / presentation-attack figures per kind on set A (tuning) and set B (independent).

    .venv/bin/python bench/biometrics_bench.py OUT.json [--cards-per-tier N] [--timing-runs N] [--ocr-only]
        [--sets A,B] [--first-seed N] [--skip-public-faces] [--face-records FILE]
        [--liveness-sets A,B | --liveness-sets none] [--liveness-live-per-photo N] [--skip-ocr-face]

OCR figures come from two independently made sets of card-front photos, by tier:
  A  biometrics.testdata.generator (the set the reader was developed and tuned on), 3000x2250;
  B  biometrics.testdata.altcards (another layout, other fonts, desks/forms/hands/screens;
     never used for tuning), 2250x3000 to 4000x3000.
Photos are generated once and cached under var/testdata/cards (the generators are slow).
The face section has two parts: selfies against portraits cut from generated ID cards (synthetic, few
people), and the public-photo table of docs/biometrics.md (bench/face_public.py: real photos of the same
people years apart, exposure correction before/after, bands judged on held-out identities). Needs the sample
face photos (``python -m biometrics.testdata fetch-faces [--deepface PATH]``; the registry set is fetched on
first use). Prints tables and writes JSON.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402

import face_public  # noqa: E402
from biometrics import face, idcard  # noqa: E402
from biometrics.testdata import (TIERS, ensure_faces, make_id_front, make_selfie,  # noqa: E402
                                 random_front_fields)

SIZE = (3000, 2250)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def char_acc(got, want):
    if not want:
        return 1.0
    sm = difflib.SequenceMatcher(None, got or "", want)
    return sum(b.size for b in sm.get_matching_blocks()) / max(len(want), len(got or ""))


CACHE = Path(__file__).resolve().parents[1] / "var" / "testdata" / "cards"
FIELDS = ("name", "gender", "ethnicity", "birth_date", "address", "id_number")


def card_set(name: str, tier: str, n: int, photos, first: int = 0) -> list[tuple[bytes, dict, dict]]:
    """(jpeg, truth, meta) for cards first..first+n-1 of a set and tier, generated once and cached."""
    from biometrics.testdata import RARE_NAME_CHARS
    from biometrics.testdata.altcards import make_alt_front

    out = []
    d = CACHE / (name if not first else f"{name}-{first}")
    d.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + n):
        jp, js = d / f"{tier}_{i}.jpg", d / f"{tier}_{i}.json"
        if not (jp.exists() and js.exists()):
            if name == "A":
                seed = 1000 * (TIERS.index(tier) + 1) + i
                f = random_front_fields(seed, rare_name=(i % 4 == 0))
                img = make_id_front(**f, face_path=photos[i % len(photos)], tier=tier, seed=seed, size=SIZE)
                f["rare_name"] = any(c in RARE_NAME_CHARS for c in f["name"])
                meta = {"scene": "desk"}
            else:
                img, f, meta = make_alt_front(i, tier, photos[i % len(photos)])
            jp.write_bytes(img)
            js.write_text(json.dumps({"truth": f, "meta": meta}, ensure_ascii=False))
        d_ = json.loads(js.read_text())
        out.append((jp.read_bytes(), d_["truth"], d_["meta"]))
    return out


def _time_compare(photo, variant, ref_png, runs, seed):
    """Wall and CPU seconds of face.compare() on 2250x3000 selfie JPEGs made from ``photo``."""
    wall, cpu = [], []
    for i in range(runs):
        selfie = make_selfie(photo, variant, seed=seed + i, size=(2250, 3000))
        t, c = time.perf_counter(), time.process_time()
        face.compare(selfie, [ref_png])
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def bench_ocr(photos, n, sets=("A", "B"), first: int = 0):
    out = {}
    every_t, every_c = [], []
    idcard.read_front(make_id_front(face_path=photos[0], tier="clean", seed=999, size=(1600, 1200)))  # warm-up
    for name in sets:
        res = out[name] = {}
        all_t, all_c = [], []
        for tier in TIERS:
            rows = []
            for img, f, meta in card_set(name, tier, n, photos, first):
                t, c = time.perf_counter(), time.process_time()
                r = idcard.read_front(img)
                wall, cpu = time.perf_counter() - t, time.process_time() - c  # this process (Tesseract: a child)
                all_t.append(wall)
                all_c.append(cpu)
                rows.append(dict(ok=r.ok, error=r.error, number=r.id_number == f["id_number"],
                                 wrong_number=bool(r.id_number) and r.id_number != f["id_number"],
                                 name=r.name == f["name"], rare=f.get("rare_name", False),
                                 # (getattr: the bench also runs the older reader, for comparison)
                                 name_flagged=bool(getattr(r, "name_uncertain", None)) or "name" in r.needs_review,
                                 addr=char_acc(r.address, f["address"]), portrait=r.portrait_png is not None,
                                 missing=getattr(r, "missing_fields", []), eth=r.ethnicity == f["ethnicity"],
                                 birth=r.birth_date == f["birth_date"], scene=meta.get("scene"), t=wall, c=cpu,
                                 got_name=r.name, want_name=f["name"]))
            common = [r for r in rows if not r["rare"]]
            rare = [r for r in rows if r["rare"]]
            res[tier] = {
                "cards": n,
                "ok_rate": round(sum(r["ok"] for r in rows) / n, 3),
                "refused": sum(not r["ok"] for r in rows),
                "refusal_errors": sorted({r["error"] for r in rows if r["error"]}),
                "with_missing_fields": sum(bool(r["missing"]) for r in rows),
                "id_number_exact": round(sum(r["number"] for r in rows) / n, 3),
                "id_number_wrong_returned": sum(r["wrong_number"] for r in rows),
                "name_exact": round(sum(r["name"] for r in rows) / n, 3),
                "name_exact_common_chars": round(sum(r["name"] for r in common) / max(1, len(common)), 3),
                "rare_name_cards": len(rare),
                "rare_name_exact": sum(r["name"] for r in rare),
                "names_marked_for_confirmation": sum(r["name_flagged"] for r in rows),
                "names_wrong_and_not_marked": sum(not r["name"] and not r["name_flagged"] for r in rows),
                "name_misses": [(r["want_name"], r["got_name"]) for r in rows if not r["name"]],
                "ethnicity_exact": round(sum(r["eth"] for r in rows) / n, 3),
                "birth_date_exact": round(sum(r["birth"] for r in rows) / n, 3),
                "address_char_accuracy": round(statistics.mean(r["addr"] for r in rows), 4),
                "portrait_found": round(sum(r["portrait"] for r in rows) / n, 3),
                "scenes": {s_: sum(r["scene"] == s_ for r in rows) for s_ in sorted({r["scene"] for r in rows})},
                "wall_p50_s": round(pct([r["t"] for r in rows], 50), 3),
                "wall_p95_s": round(pct([r["t"] for r in rows], 95), 3),
                "cpu_p50_s": round(pct([r["c"] for r in rows], 50), 3),
                "cpu_p95_s": round(pct([r["c"] for r in rows], 95), 3),
            }
        res["all"] = {"p50_s": round(pct(all_t, 50), 3), "p95_s": round(pct(all_t, 95), 3),
                      "cpu_p50_s": round(pct(all_c, 50), 3), "cpu_p95_s": round(pct(all_c, 95), 3)}
        every_t += all_t
        every_c += all_c
    # Both sets together (bench/run.py reads this).
    out["all"] = {"p50_s": round(pct(every_t, 50), 3), "p95_s": round(pct(every_t, 95), 3),
                  "cpu_p50_s": round(pct(every_c, 50), 3), "cpu_p95_s": round(pct(every_c, 95), 3)}
    return out


def print_ocr(ocr):
    for name in ("A", "B"):
        if name not in ocr:
            continue
        print(f"set {name} ({'generator.py, tuning set' if name == 'A' else 'altcards.py, independent set'})")
        print(f"{'tier':8} {'number':>7} {'name':>6} {'rare':>7} {'addr':>7} {'refused':>7} {'missing':>7} "
              f"{'marked':>6} {'wrong!':>6} {'wall p95':>8} {'cpu p95':>7}")
        for tier in TIERS:
            o = ocr[name][tier]
            print(f"{tier:8} {o['id_number_exact']:7.3f} {o['name_exact']:6.3f} "
                  f"{o['rare_name_exact']:>3}/{o['rare_name_cards']:<3} {o['address_char_accuracy']:7.4f} "
                  f"{o['refused']:>7} {o['with_missing_fields']:>7} {o['names_marked_for_confirmation']:>6} "
                  f"{o['names_wrong_and_not_marked']:>6} {o['wall_p95_s']:8.3f} {o['cpu_p95_s']:7.3f}")
        a = ocr[name]["all"]
        print(f"  all tiers: wall p50 {a['p50_s']} s p95 {a['p95_s']} s; "
              f"CPU p50 {a['cpu_p50_s']} s p95 {a['cpu_p95_s']} s")
    print("(wrong! = names read wrong and not marked for confirmation; marked = names shown to the customer with "
          "doubtful characters marked, or missing)")


def bench_face(people, timing_runs):
    # References: the portrait cropped from a medium-tier photo of an ID card made with each photo.
    refs, probes = [], []
    for person, photos in people.items():
        for j, p in enumerate(photos):
            card = make_id_front(face_path=p, tier="medium", seed=50 + j, size=SIZE, quarter_turns=0)
            png = face.portrait_from_idcard(card)
            if png is None:
                continue
            try:
                refs.append((person, p.name, face.encode(png, role="reference")))
            except face.FaceError:
                pass
            for v, variant in enumerate(("clean", "jitter", "noisy", "exif_rotated")):
                try:
                    probes.append((person, p.name, face.encode(make_selfie(p, variant, seed=v))))
                except face.FaceError:
                    pass
    gen, gen_other_photo, imp = [], [], []
    for pp, pn, pe in probes:
        for rp, rn, re_ in refs:
            d = float(np.linalg.norm(pe - re_))
            if pp == rp:
                gen.append(d)
                if pn != rn:
                    gen_other_photo.append(d)
            else:
                imp.append(d)
    a, r = face.bands()
    rate = lambda xs, th: round(sum(x <= th for x in xs) / max(1, len(xs)), 3)  # noqa: E731
    res = {
        "bands": {"accept_max": a, "review_max": r},
        "people": len(people), "references": len(refs), "probes": len(probes),
        "genuine_pairs": len(gen), "genuine_pairs_different_photo": len(gen_other_photo), "impostor_pairs": len(imp),
        "TAR_accept": rate(gen, a), "TAR_accept_or_review": rate(gen, r),
        "TAR_accept_different_photo": rate(gen_other_photo, a),
        "TAR_accept_or_review_different_photo": rate(gen_other_photo, r),
        "FAR_accept": rate(imp, a), "FAR_accept_or_review": rate(imp, r),
        "genuine_distance": {"min": round(min(gen), 3), "median": round(statistics.median(gen), 3), "max": round(max(gen), 3)} if gen else None,
        "impostor_distance": {"min": round(min(imp), 3), "median": round(statistics.median(imp), 3), "max": round(max(imp), 3)} if imp else None,
    }
    # Timing: compare() of a 3000x2250 selfie JPEG against one portrait PNG.
    first = next(iter(people.values()))[0]
    ref_png = face.portrait_from_idcard(make_id_front(face_path=first, tier="clean", seed=7, size=SIZE, quarter_turns=0))
    w, c = _time_compare(first, "jitter", ref_png, timing_runs, seed=100)
    res["compare_p50_s"], res["compare_p95_s"] = round(pct(w, 50), 3), round(pct(w, 95), 3)
    res["compare_cpu_p50_s"], res["compare_cpu_p95_s"] = round(pct(c, 50), 3), round(pct(c, 95), 3)
    # The same with a dark selfie (the exposure correction's extra detection pass, gamma and CLAHE).
    w, c = _time_compare(first, "dark", ref_png, timing_runs, seed=200)
    res["compare_dark_p50_s"], res["compare_dark_cpu_p50_s"] = round(pct(w, 50), 3), round(pct(c, 50), 3)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cards-per-tier", type=int, default=15)
    ap.add_argument("--timing-runs", type=int, default=10)
    ap.add_argument("--skip-public-faces", action="store_true", help="leave out the public-photo face table")
    ap.add_argument("--face-records", help="keep the public-photo analyses in this file (reused when it exists)")
    ap.add_argument("--ocr-only", action="store_true", help="skip the face benchmark")
    ap.add_argument("--sets", default="A,B", help="OCR card sets, comma list of A, B")
    ap.add_argument("--first-seed", type=int, default=0, help="first card of each set (another sample of the sets)")
    ap.add_argument("--liveness-sets", default="A,B", help="A, B, A,B or none")
    ap.add_argument("--liveness-live-per-photo", type=int, default=2)
    ap.add_argument("--skip-ocr-face", action="store_true", help="liveness figures only")
    a = ap.parse_args(argv)
    if a.skip_ocr_face:
        result = {"liveness": bench_liveness(a.liveness_sets, a.liveness_live_per_photo)}
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    people = ensure_faces()
    photos = sorted(p for v in people.values() for p in v)
    t0 = time.time()
    load_before = os.getloadavg()
    ocr = bench_ocr(photos, a.cards_per_tier, tuple(a.sets.split(",")), a.first_seed)
    ocr["load_avg_after"] = os.getloadavg()
    fc = None if a.ocr_only else bench_face(people, a.timing_runs)
    if fc is not None and not a.skip_public_faces:
        fc["public"] = face_public.run(records=a.face_records)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from biometrics import ocr as _ocr

    eng = _ocr.get_engine()
    result = {"ocr": ocr, "face": fc, "peak_rss_mb": round(peak_mb, 1), "seconds": round(time.time() - t0, 1),
              "cpus": os.cpu_count(), "load_avg_before": load_before, "load_avg": os.getloadavg(),
              "python": platform.python_version(), "ocr_engine": getattr(eng, "label", eng.name),
              "ocr_threads": os.environ.get("BIOMETRICS_OCR_THREADS", "all")}
    print_ocr(ocr)
    print(f"engine {result['ocr_engine']}; load avg {tuple(round(x, 1) for x in load_before)} -> "
          f"{tuple(round(x, 1) for x in ocr['load_avg_after'])} (shared machine: CPU time is the figure to compare)")
    if fc:
        print(f"face bands accept<={fc['bands']['accept_max']} review<={fc['bands']['review_max']}: "
              f"TAR accept {fc['TAR_accept']} accept+review {fc['TAR_accept_or_review']} | "
              f"FAR accept {fc['FAR_accept']} accept+review {fc['FAR_accept_or_review']} "
              f"({fc['genuine_pairs']} genuine / {fc['impostor_pairs']} impostor pairs)")
        print(f"face compare wall p50 {fc['compare_p50_s']} s  p95 {fc['compare_p95_s']} s, CPU p50 "
              f"{fc['compare_cpu_p50_s']} s p95 {fc['compare_cpu_p95_s']} s; dark selfie (corrected) wall p50 "
              f"{fc['compare_dark_p50_s']} s CPU p50 {fc['compare_dark_cpu_p50_s']} s; peak RSS {result['peak_rss_mb']} MB")
        if "public" in fc:
            face_public.print_report(fc["public"])
    if a.liveness_sets != "none":
        result["liveness"] = bench_liveness(a.liveness_sets, a.liveness_live_per_photo)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def bench_liveness(sets: str, live_per_photo: int) -> dict:
    """Per-kind rates: live clips accepted, attacks rejected (and flagged by PAD alone); CPU per clip."""
    from biometrics.testdata import faces, liveset

    out = {}
    for name in [s.strip().upper() for s in sets.split(",") if s.strip()]:
        t0 = time.time()
        if name == "A":
            rows = liveset.evaluate_set_a(ensure_faces(), live_per_photo=live_per_photo, photos_per_person=1)
        else:
            rows = liveset.evaluate_set_b(faces.fetch_other_faces(), live_per_photo=live_per_photo)
        summary = liveset.summarise(rows)
        out[name] = {"summary": summary, "rows": rows, "seconds": round(time.time() - t0, 1)}
        print(f"liveness set {name} ({'tuning' if name == 'A' else 'independent, never tuned on'}): "
              f"{len(rows)} clips, {out[name]['seconds']} s")
        print(f"  {'kind':16} {'clips':>5} {'rate':>24} {'PAD flag':>9} {'CPU s/clip':>10}  outcomes")
        for kind, s in summary.items():
            rate = f"accepted {s['accepted']:.3f}" if kind == "live" else f"rejected {s['rejected']:.3f}"
            flag = "" if kind == "live" else f"{s['flagged_by_pad']:.3f}"
            print(f"  {kind:16} {s['clips']:5d} {rate:>24} {flag:>9} {s['cpu_s_median']:10.2f}  {s['outcomes']}")
    return out


if __name__ == "__main__":
    sys.exit(main())
