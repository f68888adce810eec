"""What the step slots hold: markers and outcomes, never a code, an ID number or an image.

A slot's value says that the back-office recorded the step (the proof itself lives there); `step_outcome`
says why a form ended early, and the submit action reads it to add nothing after the step's own explanation.
"""
from __future__ import annotations

from enum import Enum


class Marker(str, Enum):
    VERIFIED = "verified"    # a code the back-office checked
    SIGNED = "signed"        # the agreements signed with their code
    READ = "read"            # an ID card side recognised
    CHECKED = "checked"      # a signature image accepted for preview
    PASSED = "passed"        # a face check or a witness passed
    ASKED = "check"          # the witness step was answered: look the verdict up

    def __str__(self) -> str:
        return self.value


class Outcome(str, Enum):
    OTHER_TYPE = "other_type"            # not an investor login
    LOCKED_OUT = "locked_out"
    CLOSED = "closed"                    # the account is closed
    TOO_MANY = "too_many"                # a code cap reached
    EXPIRED = "expired"                  # a pending step expired server-side
    PRIVACY_REFUSED = "privacy_refused"
    ID_EXPIRED = "id_expired"
    UNBIND_DECLINED = "unbind_declined"
    BIND_DECLINED = "bind_declined"
    FACE_FAILED = "face_failed"          # too many failed face checks: a human is offered
    DECLINED = "declined"                # the business's own confirmation declined
    AGREEMENTS_DECLINED = "agreements_declined"
    WITNESS_FAILED = "witness_failed"
    BUSY = "busy"                        # the back-office did not answer before anything was asked
    SWITCHED = "switched"                # the customer named another business (switch_to): it starts now
    LATER = "later"                      # 稍后再办: stopped, what was done stays with the back-office
    FACE_CONSENT_DECLINED = "face_consent_declined"

    def __str__(self) -> str:
        return self.value


def slot_value(value):
    """Enum members as the plain strings Rasa stores."""
    return value.value if isinstance(value, Enum) else value
