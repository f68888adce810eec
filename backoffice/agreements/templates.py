"""Agreement texts: versioned Markdown templates with YAML front matter (backoffice/agreements/texts/), and which
ones a business needs: its registry entry's `agreements` (businesses/definitions; the bot's signing step reads
the same entry, so the two cannot disagree)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from businesses import REGISTRY

TEMPLATE_DIR = Path(__file__).resolve().parent / "texts"

EVERYONE = "*"  # what every customer should have signed: 协议查看与补签's set


def load_requirements(registry: dict | None = None) -> dict[str, list[dict]]:
    """business → ordered rules; the first whose conditions match the account wins (e.g. accounts opened before
    2021-08-02 never signed the current risk disclosure at opening, so 休眠账户激活 has them sign it now)."""
    registry = REGISTRY if registry is None else registry
    rules = {code: [{"codes": list(rule.codes), "opened_before": rule.opened_before,
                     "opened_on_or_after": rule.opened_on_or_after} for rule in business.agreements]
             for code, business in registry.items() if business.application}
    rules[EVERYONE] = [{"codes": list(rule.codes)} for rule in registry["view_agreements"].agreements]
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
