"""Which steps a business's form asks, in order: the login steps while logged out, then the gate parts the
business needs (解除绑定 / 去绑定 / 上传手写签名), then its own steps from the business registry, each kind expanded
into its slots and each condition read from the back-office's gate. Re-read every turn, so a step disappears
as soon as the back-office says it is done and the business the customer asked for simply continues."""
from __future__ import annotations

from bot.actions.steps.agreements import AGREEMENT_STEPS, agreement_slots
from bot.actions.steps.business import CONFIRMED
from bot.actions.steps.device import UNBIND_STEPS, bind_slots
from bot.actions.steps.face import BUSINESS_FACE, CONSENT, FACE_STEPS, RECOVER_FACE, consent_needed
from bot.actions.steps.identity import id_slots
from bot.actions.steps.login import LOGIN_STEPS
from bot.actions.steps.signature import SIGNATURE_STEPS
from bot.actions.steps.switch import SWITCH_CONFIRMED, SWITCH_TO
from bot.actions.steps.witness import WITNESS, witness_slots
from bot.actions.turn import Turn
from businesses import Business, Step

FACE_SLOTS = {"business": BUSINESS_FACE.slot, "recover": RECOVER_FACE.slot}
RECOVER_CONTACT = ["recover_phone", "recover_code"]


def _fixed_slots(step: Step) -> list[str]:
    """The slots of a step kind that do not depend on the back-office."""
    kind, options = step.kind, step.options
    if kind == "id":
        return id_slots(options.get("back", True))
    if kind == "face":
        return [FACE_SLOTS[options.get("purpose", "business")]]
    if kind == "choice":
        return [options["slot"]]
    return {"business_code": ["business_code"], "confirm": [CONFIRMED], "witness": [WITNESS],
            "agreements": AGREEMENT_STEPS, "recover_contact": RECOVER_CONTACT, "signature": SIGNATURE_STEPS,
            "unbind": UNBIND_STEPS}[kind]


def gate_slots(business: Business, gate: dict | None) -> list[str]:
    """The gate parts of this business still to do (gate None: every slot the gate may ask)."""
    device = (gate or {}).get("device")
    slots: list[str] = []
    if "unbind" in business.gate and (gate is None or device == "bound_elsewhere"):
        slots += UNBIND_STEPS
    if "bind" in business.gate and (gate is None or device in ("bound_elsewhere", "unbound")):
        slots += bind_slots(gate or {})
    if "signature" in business.gate and (gate is None or not gate.get("signature")):
        slots += SIGNATURE_STEPS
    return slots


def own_slots(business: Business) -> list[str]:
    return [slot for step in business.steps for slot in _fixed_slots(step)]


def possible_slots(business: Business) -> list[str]:
    """Every slot the form may ask, in order (the domain lists them; the generator writes it)."""
    slots = (LOGIN_STEPS if business.login else []) + gate_slots(business, None) + own_slots(business)
    if any(slot in FACE_STEPS for slot in slots):
        first = next(i for i, slot in enumerate(slots) if slot in FACE_STEPS)
        slots = slots[:first] + [CONSENT] + slots[first:]
    return list(dict.fromkeys(slots + [SWITCH_CONFIRMED]))


def started(turn: Turn) -> bool:
    """Has the customer answered one of the business's own steps (a choice taken from the request aside)?"""
    choices = {s.options.get("slot") for s in turn.business.steps if s.kind == "choice"}
    return any(turn.slot(slot) is not None for slot in own_slots(turn.business) if slot not in choices)


def _condition(when: str, gate: dict, turn: Turn) -> bool:
    if when == "id_not_on_file":
        return not gate.get("id_on_file") or bool(turn.slot("id_confirmed"))
    if when == "no_face_reference":
        return not gate.get("face_reference") or bool(turn.slot("id_confirmed"))
    if when == "bound_somewhere":
        return gate.get("device") != "unbound" or turn.slot("unbind_go") is not None
    return True


async def eligible(turn: Turn) -> bool:
    return not turn.business.eligibility or (await turn.eligibility()).get("eligible", True)


async def business_slots(turn: Turn, gate: dict) -> list[str]:
    business = turn.business
    if business.application and not started(turn):
        if not await eligible(turn) or await turn.open_application():
            return []  # not eligible, or one is under way already: the submit action says so
    slots: list[str] = []
    for step in business.steps:
        if not _condition(step.when, gate, turn):
            continue
        if step.kind == "witness":
            slots += await witness_slots(turn, before=list(slots))
        elif step.kind == "agreements":
            slots += await agreement_slots(turn)
        else:
            slots += _fixed_slots(step)
    return slots


async def with_consent(turn: Turn, slots: list[str]) -> list[str]:
    """The separate consent to face data before the first face step still to do, while the customer has not
    given it (a face step already passed needed it: nothing is asked after the fact)."""
    first = next((i for i, slot in enumerate(slots) if slot in FACE_STEPS and turn.slot(slot) is None), None)
    if first is None:
        return slots
    if turn.slot(CONSENT) is None and not await consent_needed(turn):
        return slots
    return slots[:first] + [CONSENT] + slots[first:]


async def required_slots(turn: Turn) -> list[str]:
    """Raises BackofficeUnavailable when the back-office cannot say (the form then keeps the step it asked)."""
    business = turn.business
    if turn.slot("step_outcome"):
        return []  # an outcome (refusal, lock-out, too many tries) ends the form; submit explains
    if turn.slot(SWITCH_TO):
        return [SWITCH_CONFIRMED]  # another business was named with steps of this one done: confirm first
    gate = await turn.gate()
    if business.login and not gate.get("logged_in"):
        return LOGIN_STEPS
    if business.eligibility_first and not await eligible(turn):
        return []  # not eligible: the submit action explains, before the gate asks for anything
    return await with_consent(turn, gate_slots(business, gate) + await business_slots(turn, gate))
