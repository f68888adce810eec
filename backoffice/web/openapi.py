"""GET /api/openapi.json: the hand-written OpenAPI 3 description (openapi.yaml next to this file).

tests/security/test_openapi.py keeps it in sync with the routes the app registers under /api."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from aiohttp import web

SPEC_FILE = Path(__file__).with_name("openapi.yaml")
routes = web.RouteTableDef()


@lru_cache(maxsize=1)
def spec() -> dict:
    doc = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if not k.startswith("x-")}  # x-*: YAML anchors only


@routes.get("/api/openapi.json")
async def openapi(request):
    return web.json_response(spec(), headers={"Cache-Control": "no-cache"})
