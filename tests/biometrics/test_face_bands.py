"""The band rule and the public-photo bench (bench/face_public.py) that docs/biometrics.md's face table comes from."""
import sys
from pathlib import Path


from biometrics.testdata.faces import public_set

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import face_public  # noqa: E402
from face_public import Pair, choose_bands, held_out  # noqa: E402


def _pairs(gen, imp, ids=("a", "b")):
    return ([Pair("photo", frozenset({ids[0]}), True, d, None) for d in gen]
            + [Pair("photo", frozenset(ids), False, d, None) for d in imp])


def test_accept_stops_at_the_far_cap_review_where_impostors_begin():
    gen = [0.30] * 90 + [0.50] * 10
    imp = [0.70 + 0.001 * i for i in range(200)]
    # Accept: the widest band with at most 0.1 % of impostors (none of 200 here: up to 0.69); review up to
    # 0.70, where 1 of 200 impostors (within the 1 % share) sits; past it, reject.
    assert choose_bands(_pairs(gen, imp)) == (0.69, 0.70)
    # Rule "tight": the smallest band where 92 % of genuine pairs are accepted (0.50).
    assert choose_bands(_pairs(gen, imp), "tight") == (0.50, 0.70)
    # An impostor at 0.45 caps the accept band below it, whatever the rule.
    assert choose_bands(_pairs(gen, imp + [0.45]))[0] == choose_bands(_pairs(gen, imp + [0.45]), "tight")[0] == 0.44
    # Refusals carry no distance and take no part in the choice.
    assert choose_bands(_pairs(gen, imp) + [Pair("photo", frozenset({"a"}), True, None, "too_dark")]) == (0.69, 0.70)


def test_held_out_bands_never_see_the_pairs_own_identities():
    pairs = (_pairs([0.30] * 20, [0.60] * 50, ("x", "y")) + _pairs([0.30] * 20, [0.80] * 50, ("z", "w"))
             + [Pair("dark", frozenset({"x"}), True, 0.65, None)])
    for p, decision, bands in held_out(pairs):
        # x/y pairs are judged by bands from z/w (impostors at 0.80: accept up to 0.79) and the other way round.
        assert bands[0] == (0.79 if p.ids & {"x", "y"} else 0.59), (p, bands)
    assert [d for p, d, _b in held_out(pairs) if p.kind == "dark"] == ["accept"]
    # x/y impostors, closer than any impostor the bands were chosen on, are accepted: the held-out
    # figure shows what tuning on other people misses.
    assert {d for p, d, _b in held_out(pairs) if p.ids == frozenset({"x", "y"})} == {"accept"}


def test_public_bench_runs_on_the_registry_photos():
    photos = [p for p in public_set() if p.set == "reg"]
    assert {p.identity for p in photos} >= {"reg:obama", "reg:biden"}
    assert all(p.source and p.licence for p in photos)
    res = face_public.run(photos, kinds=("dark", "black"), workers=1)
    gen = res["before_fixed_bands"]["table"]["photo"]["genuine"]
    assert gen["n"] == res["data"]["genuine_photo_pairs"] == 3  # obama 1-2, 1-3, 2-3
    # Darkened copies are refused without correction and come back with it; black ones stay refused.
    assert res["exposure"]["dark"]["refused_before"] == len(photos)
    assert res["exposure"]["dark"]["recovered"] >= len(photos) - 1
    assert res["exposure"]["black"]["refused_after"] == len(photos)
    assert set(res["exposure"]["black"]["reasons_after"]) == {"too_dark"}
    after = res["after_fixed_bands"]["table"]["dark"]
    assert after["genuine"]["n"] == 6 and after["genuine"]["refused"] == 0
    assert after["impostor"]["accept"] == 0
