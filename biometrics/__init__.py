"""Biometric pre-screening for the mobile business hall.

Face verification (dlib HOG, 5-point alignment, ResNet descriptor, exposure correction), ID card OCR
(RapidOCR detection, PP-OCRv5 recognition, Tesseract fallback), handwritten signature checks and a
challenge-response liveness check with presentation-attack detection (MediaPipe face mesh landmarks).
Every public function takes raw bytes, is synchronous and
CPU-bound; async callers go through :mod:`biometrics.pool`.

Nothing here downloads anything at run time and nothing logs personal data.
"""
import os

# onnxruntime (used by RapidOCR) collects usage telemetry unless this is set
# before it is imported.  This package handles identity documents.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__all__ = ["errors", "imaging", "idnumber", "face", "dlibface", "idcard", "signature", "landmarks", "liveness", "pad",
           "pool"]
