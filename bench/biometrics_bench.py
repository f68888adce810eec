"""Biometrics benchmark: ID card OCR accuracy by tier, face TAR/FAR, timings on 3000x2250 photos, and the
liveness / presentation-attack figures per kind on set A (tuning) and set B (independent).

    .venv/bin/python bench/biometrics_bench.py OUT.json [--cards-per-tier N] [--timing-runs N]
        [--liveness-sets A,B | --liveness-sets none] [--liveness-live-per-photo N]

Prints a table and writes JSON.  Needs the sample face photos
(``python -m biometrics.testdata fetch-faces``; fetched on first use).
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
    times = []
    for i in range(timing_runs):
        selfie = make_selfie(first, "jitter", seed=100 + i, size=(2250, 3000))
        t = time.perf_counter()
        face.compare(selfie, [ref_png])
        times.append(time.perf_counter() - t)
    res["compare_p50_s"] = round(pct(times, 50), 3)
    res["compare_p95_s"] = round(pct(times, 95), 3)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cards-per-tier", type=int, default=15)
    ap.add_argument("--timing-runs", type=int, default=10)
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
    ocr = bench_ocr(photos, a.cards_per_tier)
    ocr["load_avg_after"] = os.getloadavg()
    fc = bench_face(people, a.timing_runs)
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
    print(f"face compare p50 {fc['compare_p50_s']} s  p95 {fc['compare_p95_s']} s; peak RSS {result['peak_rss_mb']} MB; "
          f"load avg {tuple(round(x, 1) for x in result['load_avg'])}")
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
