"""The business registry: one definition per business (businesses/definitions/<code>.yml), see model.py.

    from businesses import REGISTRY, by_form, get
    REGISTRY["unlock_account"].name  # 账户解锁
"""
from __future__ import annotations

from pathlib import Path

from businesses.model import (CHECK_PROVIDERS, CONDITIONS, GATE_PARTS, STEP_KINDS, AgreementRule, Business,
                              DefinitionError, Step, load, parse)

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
REGISTRY: dict[str, Business] = load(DEFINITIONS)


def get(code: str) -> Business | None:
    return REGISTRY.get(code)


def by_form(form: str | None) -> Business | None:
    return REGISTRY.get(form.removesuffix("_form")) if form and form.endswith("_form") else None


def applications() -> dict[str, Business]:
    """The businesses that file an application staff decide."""
    return {code: b for code, b in REGISTRY.items() if b.application}


__all__ = ["REGISTRY", "DEFINITIONS", "Business", "Step", "AgreementRule", "DefinitionError", "STEP_KINDS",
           "CONDITIONS", "GATE_PARTS", "CHECK_PROVIDERS", "get", "by_form", "applications", "load", "parse"]
