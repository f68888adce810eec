"""Run CPU-bound biometrics jobs off the event loop.

    result = await biometrics.pool.run(biometrics.face.compare, selfie, [portrait], timeout=20)

A ProcessPoolExecutor sized to the cores (``BIOMETRICS_WORKERS``), a bounded
number of jobs admitted at once (``BIOMETRICS_MAX_QUEUE``, raising
:class:`~biometrics.errors.Busy` beyond it) and a per-job timeout raising
:class:`~biometrics.errors.Timeout`.  A job that times out cannot be
interrupted inside a worker, so the whole pool is replaced and its processes
are terminated; other jobs that were running in it fail with Timeout too.
Workers load the face, OCR and face-mesh models once, at start (:func:`warm_up`); liveness jobs are
``liveness.check`` / ``liveness.check_frames`` (top-level, picklable).
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import functools
import multiprocessing as mp
import os
import threading
import time

from prometheus_client import Counter, Histogram

from .errors import Busy, Timeout

DEFAULT_TIMEOUT = float(os.environ.get("BIOMETRICS_TIMEOUT", "30"))

_lock = threading.Lock()
_executor: cf.ProcessPoolExecutor | None = None
_pending = 0
# Exported by the back-office's /metrics (the pool runs in its process): how long jobs take, what is refused.
JOB_SECONDS = Histogram("hall_biometrics_job_seconds", "Biometrics pool jobs, queueing included", ["job"],
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60))
JOBS_REFUSED = Counter("hall_biometrics_jobs_refused_total", "Biometrics jobs refused (busy) or timed out", ["reason"])


def pending() -> int:
    """Jobs admitted and not finished (queued or running)."""
    return _pending


def workers() -> int:
    env = os.environ.get("BIOMETRICS_WORKERS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


def max_queue() -> int:
    return int(os.environ.get("BIOMETRICS_MAX_QUEUE", str(4 * workers())))


def warm_up(ocr: bool = True, face: bool = True, landmarks: bool = True) -> None:
    """Load models so the first real job does not pay for it (the face mesh graph is kept per process)."""
    if workers() > 1:
        # One inference thread per worker process: the pool already uses every core.
        os.environ.setdefault("BIOMETRICS_OCR_THREADS", "1")
    if face:
        from . import face as _face

        _face.warm_up()
    if ocr:
        from . import ocr as _ocr

        _ocr.get_engine()
    if landmarks:
        from . import landmarks as _landmarks

        _landmarks.warm_up()


def _init_worker():
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    warm_up(ocr=os.environ.get("BIOMETRICS_WARM_OCR", "1") == "1", face=os.environ.get("BIOMETRICS_WARM_FACE", "1") == "1",
            landmarks=os.environ.get("BIOMETRICS_WARM_LANDMARKS", "1") == "1")


def get_executor() -> cf.ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = cf.ProcessPoolExecutor(max_workers=workers(), mp_context=mp.get_context("spawn"),
                                               initializer=_init_worker)
        return _executor


def _discard(ex: cf.ProcessPoolExecutor) -> None:
    global _executor
    with _lock:
        if _executor is ex:
            _executor = None
    procs = list(getattr(ex, "_processes", {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()


async def run(func, *args, timeout: float | None = None, **kwargs):
    """Run ``func(*args, **kwargs)`` in the pool.  Raises Busy or Timeout."""
    global _pending
    if _pending >= max_queue():
        JOBS_REFUSED.labels("busy").inc()
        raise Busy()
    _pending += 1
    ex = get_executor()
    started = time.monotonic()
    try:
        fut = asyncio.get_running_loop().run_in_executor(ex, functools.partial(func, *args, **kwargs))
        try:
            return await asyncio.wait_for(fut, timeout or DEFAULT_TIMEOUT)
        except asyncio.TimeoutError:
            _discard(ex)
            JOBS_REFUSED.labels("timeout").inc()
            raise Timeout() from None
        except cf.process.BrokenProcessPool:
            _discard(ex)
            JOBS_REFUSED.labels("timeout").inc()
            raise Timeout() from None
    finally:
        _pending -= 1
        JOB_SECONDS.labels(getattr(func, "__name__", "job")).observe(time.monotonic() - started)


def shutdown() -> None:
    global _executor
    with _lock:
        ex, _executor = _executor, None
    if ex is not None:
        ex.shutdown(wait=True, cancel_futures=True)
