"""Reading this process's Prometheus counters in tests: a sample's value, 0 when never counted."""
from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
