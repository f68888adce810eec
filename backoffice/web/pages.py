"""Rendering of the customer H5 pages (Jinja2 templates in backoffice/templates/); each context serves its own."""
from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def render(name: str, **context) -> web.Response:
    return web.Response(text=_env.get_template(name).render(**context), content_type="text/html",
                        headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
                                 "X-Content-Type-Options": "nosniff"})
