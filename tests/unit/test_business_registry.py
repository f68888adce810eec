"""The business registry: every business's steps collect what its submission needs, and a business declared only
in the registry gets a form, rules, actions and a menu entry."""
from __future__ import annotations

import pytest
import yaml

from businesses import CHECK_PROVIDERS, REGISTRY, DefinitionError, parse
from bot.actions.forms import form_actions
from bot.actions.steps import CATALOGUE
from bot.actions.steps.plan import possible_slots
from bot.actions.submit import submit_actions
from connectors.wechat_menu import click_keys, menu, welcome_options
from scripts.gen_bot import render_domain, render_rules


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_the_steps_collect_every_proof_and_agreement_the_submission_needs(code):
    business = REGISTRY[code]
    kinds = set(business.step_kinds)
    for check in business.checks:
        assert CHECK_PROVIDERS[check] in kinds, f"{code}: the {check} check has no {CHECK_PROVIDERS[check]} step"
    if business.application and business.agreement_codes():
        assert "agreements" in kinds, f"{code}: signs {sorted(business.agreement_codes())} without a signing step"
    if "agreements" in kinds:
        assert business.agreements, f"{code}: a signing step with nothing to sign"
    if business.application:
        assert business.effect and business.texts.get("sms_approved") and business.texts.get("chat_approved")
    for slot in possible_slots(business):
        assert slot in CATALOGUE, f"{code}: no step fills {slot}"
    if "confirm" in kinds:
        assert {"confirm", "declined"} <= set(business.texts)
    if "choice" in kinds:
        assert {"choice", "choice_again"} <= set(business.texts)


def test_names_are_unique():
    intents = [b.intent for b in REGISTRY.values() if b.intent]
    keys = [b.menu["key"] for b in REGISTRY.values() if b.menu]
    assert len(intents) == len(set(intents)) and len(keys) == len(set(keys))


def test_the_back_office_knows_every_effect_eligibility_and_agreement():
    from backoffice.agreements.templates import load_templates
    from backoffice.applications.service import EFFECTS
    from backoffice.applications.eligibility import RULES

    templates = load_templates()
    for business in REGISTRY.values():
        assert business.effect is None or business.effect in EFFECTS, business.code
        assert business.eligibility is None or business.eligibility in RULES, business.code
        assert business.agreement_codes() <= set(templates), business.code


def test_a_definition_error_is_caught_at_load():
    with pytest.raises(DefinitionError, match="unknown step"):
        parse({"code": "x", "name": "X", "steps": ["teleport"]})
    with pytest.raises(DefinitionError, match="checks"):
        parse({"code": "x", "name": "X", "application": {"checks": ["mind_reading"]}})
    with pytest.raises(DefinitionError, match="unknown keys"):
        parse({"code": "x", "name": "X", "stpes": []})


MADE_UP = """
code: change_address
name: 变更联系地址
intent: change_address
login: true
gate: [unbind, bind, signature]
steps:
  - face
  - business_code
  - confirm
application:
  checks: [face, sms_code]
  effect: change_address
order: 12
menu: {key: CHANGE_ADDRESS, group: account, title: 变更地址, welcome: 变更联系地址, after_login: 变更联系地址}
texts:
  intro: "好的，为您办理变更联系地址。"
  confirm: "确认提交变更？"
  declined: "好的，已取消。"
  sms_approved: "您的联系地址已变更。"
  chat_approved: "您的联系地址已变更。"
"""


def test_a_business_declared_only_in_the_registry_gets_its_form_rules_actions_and_menu():
    business = parse(yaml.safe_load(MADE_UP))
    registry = {**REGISTRY, business.code: business}
    domain = yaml.safe_load(render_domain(registry))
    slots = domain["forms"]["change_address_form"]["required_slots"]
    assert slots[-4:] == ["business_face", "business_code", "business_confirmed", "switch_confirmed"]
    assert slots.index("face_consent") < slots.index("bind_face")  # consent before the first face check
    assert {"validate_change_address_form", "action_change_address_submit"} <= set(domain["actions"])
    assert domain["responses"]["utter_change_address_intro"][0]["text"] == "好的，为您办理变更联系地址。"
    assert domain["responses"]["utter_ask_change_address_form_business_confirmed"][0]["text"] == "确认提交变更？"
    assert {"title": "变更联系地址", "payload": "/change_address"} in domain["responses"]["utter_menu"][0]["buttons"]
    rules = {r["rule"]: r for r in yaml.safe_load(render_rules(registry))["rules"]}
    assert rules["change_address_form: start"]["steps"][:2] == [{"intent": "change_address"},
                                                                 {"action": "utter_change_address_intro"}]
    assert {"change_address_form: done", "change_address_form: cancel", "change_address_form: human"} <= set(rules)
    names = {cls().name() for cls in form_actions({"change_address": business}) + submit_actions({"change_address":
                                                                                                  business})}
    assert names == {"validate_change_address_form", "action_change_address_submit"}
    assert click_keys(registry)["CHANGE_ADDRESS"] == "/change_address"
    account = next(b for b in menu(registry)["button"] if b["name"] == "账户业务")["sub_button"]
    assert {"name": "变更地址", "type": "click", "key": "CHANGE_ADDRESS"} in account
    assert {"title": "变更联系地址", "payload": "/change_address"} in welcome_options(registry)


def test_the_rules_are_what_only_rules_can_say():
    rules = yaml.safe_load(render_rules(REGISTRY))["rules"]
    assert len(rules) <= 308 // 3  # the interruptions the forms handle themselves are gone
