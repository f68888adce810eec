"""Customer H5 pages served by the back-office."""
from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from backoffice.accounts.login import PRIVACY_POLICY_VERSION

routes = web.RouteTableDef()
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def render(name: str, **context) -> web.Response:
    return web.Response(text=_env.get_template(name).render(**context), content_type="text/html",
                        headers={"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
                                 "X-Content-Type-Options": "nosniff"})


@routes.get("/h5/privacy")
async def privacy(request):
    return render("privacy.html", version=PRIVACY_POLICY_VERSION)
