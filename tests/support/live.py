"""The live face check as a customer on a channel without the H5 page does it: read the announced actions, send
a short selfie video of them. Clips are rendered from a real face photo (biometrics.testdata.liveclips: a 3-D
head, camera shake, noise) once per photo and challenge; the stacks run with HALL_LIVENESS_ACTIONS=blink."""
from __future__ import annotations

import re
from functools import lru_cache

from biometrics.liveness import ACTION_TEXT

TEXT_ACTION = {text: action for action, text in ACTION_TEXT.items()}


@lru_cache(maxsize=None)
def live_video(photo: str, challenge: tuple[str, ...] = ("blink",), seed: int = 1) -> bytes:
    from biometrics.testdata import liveclips

    clip = liveclips.make_clip("live", photo, list(challenge), seed=seed, fps=10.0)
    return liveclips.encode_video(clip.frames, clip.fps)


@lru_cache(maxsize=None)
def still_video(photo: str, seed: int = 1) -> bytes:
    """A clip of a photo held still in front of the camera (an attack the check must refuse)."""
    from biometrics.testdata import liveclips

    clip = liveclips.make_clip("static_video", photo, ["blink"], seed=seed, fps=10.0)
    return liveclips.encode_video(clip.frames, clip.fps)


def announced(reply: str) -> tuple[str, ...]:
    """The actions the bot asked for ("…依次眨眨眼、向左转头（链接…"), in order."""
    found = re.search(r"依次((?:[\u4e00-\u9fff]+、?)+?)（", reply)
    assert found, f"no live check announced in: {reply}"
    return tuple(TEXT_ACTION[t] for t in found.group(1).split("、"))


def page_link(reply: str) -> str:
    return re.search(r"(https?://\S+/h5/live/[A-Za-z0-9_\-.]+)", reply).group(1)


def send_video(stack, sender: str, data: bytes, say=None) -> list[dict]:
    """The clip as a video message of the REST channel (upload, then /upload_video with its media id)."""
    media = stack.upload(data, sender, "selfie.mp4")
    return (say or stack.say)(sender, f'/upload_video{{"media_id":"{media}"}}')


def film(stack, sender: str, reply: str, photo, seed: int = 1, say=None) -> list[dict]:
    """Film the actions announced in `reply` with the face of `photo` and send the clip."""
    return send_video(stack, sender, live_video(str(photo), announced(reply), seed), say)
