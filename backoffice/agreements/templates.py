"""Agreement texts: versioned Markdown templates with YAML front matter (backoffice/agreements/texts/) and the
rules of which ones a business needs (DEFAULT_REQUIREMENTS, overridable by a JSON file named in
HALL_AGREEMENT_RULES)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent / "texts"

# business → ordered rules; the first whose conditions match the account wins. "*" is what every customer
# should have signed (协议查看与补签 offers these). Account-opening dates decide the 休眠账户激活 set: accounts
# opened before 2021-08-02 never signed the current risk disclosure at opening, so they sign it now.
DEFAULT_REQUIREMENTS: dict[str, list[dict]] = {
    "*": [{"codes": ["personal_info_authorization"]}],
    "unlock_account": [{"codes": []}],  # the guide has no signing step for 账户解锁; add codes here to require one
    "reset_password": [{"codes": ["password_reset_application", "personal_info_authorization"]}],
    "activate_dormant_account": [
        {"opened_before": "2021-08-02",
         "codes": ["dormant_activation_application", "risk_disclosure", "personal_info_authorization"]},
        {"codes": ["dormant_activation_application", "personal_info_authorization"]},
    ],
    "close_account": [{"codes": ["account_closure_application", "personal_info_authorization"]}],
}


def load_requirements() -> dict[str, list[dict]]:
    rules = {k: list(v) for k, v in DEFAULT_REQUIREMENTS.items()}
    source = os.environ.get("HALL_AGREEMENT_RULES")
    if source:
        with open(source, encoding="utf-8") as fh:
            rules.update(json.load(fh))  # per business: the file replaces the default list
    return rules


@dataclass
class Template:
    code: str
    title: str
    version: str
    business: list
    effective: str
    blocks: list = field(default_factory=list)  # [{"kind": "h"|"p", "text": ...}]

    @property
    def text(self) -> str:
        return "\n\n".join(b["text"] for b in self.blocks)

    def brief(self) -> dict:
        return {"code": self.code, "title": self.title, "version": self.version}


def parse_template(raw: str) -> Template:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", raw, re.S)
    if not match:
        raise ValueError("agreement template needs YAML front matter")
    meta = yaml.safe_load(match.group(1))
    blocks = []
    for chunk in re.split(r"\n\s*\n", match.group(2).strip()):
        chunk = " ".join(line.strip() for line in chunk.strip().splitlines())
        if chunk.startswith("#"):
            blocks.append({"kind": "h", "text": chunk.lstrip("#").strip()})
        elif chunk:
            blocks.append({"kind": "p", "text": chunk})
    return Template(code=str(meta["code"]), title=str(meta["title"]), version=str(meta["version"]),
                    business=list(meta.get("business") or []), effective=str(meta.get("effective", "")),
                    blocks=blocks)


def load_templates(directory: Path = TEMPLATE_DIR) -> dict[str, Template]:
    out = {}
    for path in sorted(Path(directory).glob("*.md")):
        tpl = parse_template(path.read_text(encoding="utf-8"))
        out[tpl.code] = tpl
    return out
