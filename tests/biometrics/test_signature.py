import io

from PIL import Image

from biometrics import signature
from biometrics.testdata import make_blank, make_signature


def test_good_signature_is_cropped_to_transparent_png():
    r = signature.check(make_signature(seed=1))
    assert r.ok and r.problems == [] and r.strokes >= 2
    img = Image.open(io.BytesIO(r.png))
    assert img.mode == "RGBA" and img.height == signature.OUT_HEIGHT
    alpha = img.getchannel("A")
    assert alpha.getextrema() == (0, 255)


def test_refusals():
    assert signature.check(make_signature(landscape=False, seed=2)).problems[0] == "not_landscape"
    assert signature.check(make_signature(kind="blank")).problems == ["blank"]
    assert signature.check(make_blank()).problems == ["blank"]
    assert signature.check(make_signature(kind="single_stroke")).problems == ["too_few_strokes"]
    assert signature.check(make_signature(kind="ink_flood")).problems == ["too_much_ink"]
    assert signature.check(make_signature(kind="tiny")).problems[0] == "signature_too_small"
    r = signature.check(b"GIF89a garbage")
    assert not r.ok and r.problems == ["bad_image"] and r.message
    d = r.to_dict()
    assert "png" not in d and d["ok"] is False
