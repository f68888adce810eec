"""The FAQ content file (bot/faq/faq.yml) keeps the rules operators are told in docs/faq.md, and what the generator
makes of it is what Rasa needs (the staleness of the generated files: test_generated_rules.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from scripts import gen_faq

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = gen_faq.load()


def test_enough_questions_each_with_varied_phrasings_a_source_and_a_date():
    assert len(ENTRIES) >= 40
    for e in ENTRIES:
        assert len(set(e.phrasings) - {e.question}) >= 8, e.key
        assert e.source and e.updated, e.key
        assert any(p.isascii() for p in e.phrasings), f"{e.key}: no pinyin/English phrasing"


def test_every_answer_says_its_source_and_date_and_unknowns_offer_a_human():
    domain = yaml.safe_load(gen_faq.DOMAIN_OUT.read_text())
    for e in ENTRIES:
        (response,) = domain["responses"][f"utter_faq/{e.key}"]
        assert f"来源：{e.source}" in response["text"] and f"更新于 {e.updated.isoformat()}" in response["text"]
        assert "  " not in response["text"] and " ，" not in response["text"]
        if e.human:
            assert "转人工" in response["text"] and response["buttons"][0]["payload"] == "/request_human"


def test_the_topics_the_issue_asks_for_are_covered():
    keys = {e.key for e in ENTRIES}
    assert {"night_session", "holiday_night", "day_session", "index_futures_hours", "bond_futures_hours",
            "gfex_hours", "index_futures_conditions", "account_age", "margin", "forced_liquidation", "fees",
            "deposit_withdraw", "bank_transfer", "privacy"} <= keys
    # what each business of the hall needs and how long it takes: a new business needs its question here
    from businesses import REGISTRY
    asked = {"login": "login_needs", "recover_account": "recover_account_needs", "bind_device": "bind_device_needs",
             "unbind_device": "unbind_device_needs", "upload_signature": "signature_needs",
             "unlock_account": "unlock_needs", "reset_password": "reset_password_needs",
             "activate_dormant_account": "dormant_needs", "close_account": "close_account_needs",
             "view_agreements": "agreements_needs"}
    assert set(REGISTRY) - {"check_status"} == set(asked)  # 办理进度 is itself the answer to "how far is it"
    assert set(asked.values()) <= keys


def test_broker_specific_figures_are_never_invented():
    for key in ("margin_rate_ours", "fees_ours", "transfer_hours", "contact_human", "password_locked"):
        entry = next(e for e in ENTRIES if e.key == key)
        assert entry.human and not any(c.isdigit() for c in entry.answer), key


def test_held_out_phrasings_cover_every_question_and_are_not_training_examples():
    held = load_data(str(ROOT / "tests" / "nlu" / "test_nlu.yml"))
    faq_keys = {m.get_full_intent().split("/", 1)[1] for m in held.intent_examples
                if m.get_full_intent().startswith("faq/")}
    assert faq_keys == {e.key for e in ENTRIES}
    training = {m.get("text") for m in load_data(str(ROOT / "bot" / "data" / "nlu")).intent_examples}
    assert not {m.get("text") for m in held.intent_examples} & training


@pytest.mark.parametrize("change, message", [
    (lambda q: q.pop("source"), "missing source"),
    (lambda q: q.update(updated="yesterday"), "updated must be a date"),
    (lambda q: q.update(phrasings=q["phrasings"][:3]), "at least 8 phrasings"),
    (lambda q: q.update(key="Night-Session"), "key must be"),
])
def test_a_broken_entry_is_refused_with_a_reason(tmp_path, change, message):
    content = yaml.safe_load(gen_faq.CONTENT.read_text())
    change(content["questions"][0])
    path = tmp_path / "faq.yml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(gen_faq.FaqError, match=message):
        gen_faq.load(path)


def test_one_phrasing_for_two_questions_is_refused(tmp_path):
    content = yaml.safe_load(gen_faq.CONTENT.read_text())
    content["questions"][1]["phrasings"].append(content["questions"][0]["phrasings"][0])
    path = tmp_path / "faq.yml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True))
    with pytest.raises(gen_faq.FaqError, match="phrasing of both"):
        gen_faq.load(path)
