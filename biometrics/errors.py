"""Exceptions raised by the biometrics package."""


class BiometricsError(Exception):
    """Base class.  ``code`` is a stable machine code, ``message_zh`` is customer-facing."""

    code = "error"
    message_zh = "处理失败，请稍后重试。"

    def __init__(self, code=None, message_zh=None):
        if code is not None:
            self.code = code
        if message_zh is not None:
            self.message_zh = message_zh
        super().__init__(self.code)

    def __str__(self):  # never includes customer data
        return f"{self.code}: {self.message_zh}"


class BadImage(BiometricsError):
    """The bytes are not a usable image (empty, not an image, truncated, too large...)."""

    code = "bad_image"
    message_zh = "图片无法识别，请重新拍摄并上传清晰的照片。"


class BadVideo(BiometricsError):
    code = "bad_video"
    message_zh = "视频无法读取，请重新录制一段 3 到 5 秒的视频。"


class Busy(BiometricsError):
    """The worker pool queue is full."""

    code = "busy"
    message_zh = "当前办理人数较多，请稍后再试。"


class Timeout(BiometricsError):
    """A job took longer than its time limit."""

    code = "timeout"
    message_zh = "处理超时，请稍后重试。"
