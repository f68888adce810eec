"""The shared steps, written once and used by every business form, split by kind.

`CATALOGUE` maps every step slot to its step; `plan.py` says which steps a business's form asks, in order, from
the business registry and the back-office's gate.
"""
from bot.actions.steps import agreements, business, code, device, face, identity, login, signature, switch, witness  # noqa: F401  (each module registers its steps)
from bot.actions.steps.base import CATALOGUE, CONTROL, NOT_ANSWERS, Step

__all__ = ["CATALOGUE", "CONTROL", "NOT_ANSWERS", "Step"]
