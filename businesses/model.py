"""What a business is, declared once (businesses/definitions/<code>.yml) and read by the bot and the back-office.

A definition says: its code and Chinese name, the intent that starts it, whether it needs the login and which
parts of the gate (unbind / bind / signature), its eligibility rule, its own steps in order (kinds from the
shared step catalogue, each with an optional condition), what its application must prove at submission
(checks) and which agreements it signs (by account-opening date), its effect on approval, its menu entry and
its texts (intro, confirmation, SMS on approval...). The rule generator, the domain generator, the WeChat
menu, the action server (one validation and one submit action per business) and the back-office services
(eligibility, verification, agreements, SMS, effects) all read these definitions; nothing else lists
businesses.

The loader checks every definition against the catalogues below, so a typo fails at start-up and in tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

# The kinds of step a business may use (the bot writes each kind once: bot/actions/steps/).
STEP_KINDS = {
    "id": "ID card (front, back when the validity matters, confirmation)",
    "face": "live face check against the ID portrait / portrait on file",
    "business_code": "an SMS confirmation code for this business",
    "confirm": "a yes/no confirmation with the business's own texts",
    "choice": "one of a few options (e.g. 交易密码/资金密码), also taken from the request itself",
    "witness": "video witness by staff",
    "agreements": "read the required agreements (≥10 s each, server-checked), agree, sign with an SMS code",
    "recover_contact": "the reserved phone and its code, without login (找回账户)",
    "signature": "handwritten signature image, checked and confirmed",
    "unbind": "unbind the device bound now, with an SMS code",
}
# When a step runs (evaluated by the bot on the back-office's gate answer).
CONDITIONS = {"always", "id_not_on_file", "no_face_reference", "bound_somewhere"}
GATE_PARTS = ("unbind", "bind", "signature")
# What each application check needs the dialogue to have done (the proof's provider step kind).
CHECK_PROVIDERS = {"face": "face", "sms_code": "business_code", "witness": "witness"}


class DefinitionError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    kind: str
    when: str = "always"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AgreementRule:
    codes: tuple[str, ...]
    opened_before: str | None = None
    opened_on_or_after: str | None = None


@dataclass(frozen=True)
class Business:
    code: str
    name: str
    intent: str | None
    login: bool
    gate: tuple[str, ...]
    steps: tuple[Step, ...]
    texts: dict
    eligibility: str | None = None
    eligibility_first: bool = False  # answered right after the login, before any other step
    application: bool = False
    checks: tuple[str, ...] = ()
    payload: tuple[str, ...] = ()  # slots the application carries (business data, never identity data)
    agreements: tuple[AgreementRule, ...] = ()
    effect: str | None = None
    menu: dict | None = None
    order: int = 100
    start_rule: bool = True  # its intent starts its form (login: started after the session check instead)

    @property
    def form(self) -> str:
        return f"{self.code}_form"

    @property
    def step_kinds(self) -> tuple[str, ...]:
        return tuple(s.kind for s in self.steps)

    def text(self, key: str, default: str = "", **values) -> str:
        template = self.texts.get(key, default)
        return template.format(name=self.name, **values) if template else ""

    def agreement_codes(self) -> set[str]:
        return {c for rule in self.agreements for c in rule.codes}


def _step(raw, where: str) -> Step:
    if isinstance(raw, str):
        raw = {"kind": raw}
    if not isinstance(raw, dict) or raw.get("kind") not in STEP_KINDS:
        raise DefinitionError(f"{where}: unknown step {raw!r} (kinds: {', '.join(STEP_KINDS)})")
    when = raw.get("when", "always")
    if when not in CONDITIONS:
        raise DefinitionError(f"{where}: unknown condition {when!r}")
    return Step(raw["kind"], when, {k: v for k, v in raw.items() if k not in ("kind", "when")})


def parse(raw: dict, where: str = "definition") -> Business:
    known = {"code", "name", "intent", "login", "gate", "steps", "texts", "eligibility", "eligibility_first",
             "application", "agreements", "menu", "order", "start_rule"}
    unknown = set(raw) - known
    if unknown:
        raise DefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("code", "name"):
        if not raw.get(key):
            raise DefinitionError(f"{where}: {key} is required")
    gate = tuple(raw.get("gate") or ())
    if any(part not in GATE_PARTS for part in gate):
        raise DefinitionError(f"{where}: gate parts are {GATE_PARTS}")
    application = raw.get("application")
    app = application or {}
    checks = tuple(app.get("checks") or ())
    if any(c not in CHECK_PROVIDERS for c in checks):
        raise DefinitionError(f"{where}: checks are {sorted(CHECK_PROVIDERS)}")
    agreements = tuple(AgreementRule(tuple(r.get("codes") or ()), r.get("opened_before"), r.get("opened_on_or_after"))
                       for r in raw.get("agreements") or ())
    return Business(
        code=raw["code"], name=raw["name"], intent=raw.get("intent"), login=bool(raw.get("login", True)),
        gate=gate, steps=tuple(_step(s, f"{where} step {i + 1}") for i, s in enumerate(raw.get("steps") or ())),
        texts=dict(raw.get("texts") or {}), eligibility=raw.get("eligibility"),
        eligibility_first=bool(raw.get("eligibility_first", False)), application=application is not None,
        checks=checks, payload=tuple(app.get("payload") or ()), agreements=agreements, effect=app.get("effect"),
        menu=raw.get("menu"), order=int(raw.get("order", 100)), start_rule=bool(raw.get("start_rule", True)))


def load(directory: Path) -> dict[str, Business]:
    businesses = {}
    for path in sorted(directory.glob("*.yml")):
        business = parse(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.name)
        if path.stem != business.code:
            raise DefinitionError(f"{path.name}: the file must be named after its code {business.code!r}")
        businesses[business.code] = business
    return dict(sorted(businesses.items(), key=lambda kv: (kv[1].order, kv[0])))
