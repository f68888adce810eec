"""The published OpenAPI description matches the routes the back-office really serves under /api."""
from __future__ import annotations

from backoffice.web.openapi import spec


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api") and route.method not in ("HEAD", "OPTIONS", "*"):
            found.add((route.method.lower(), path))
    return found


def _described() -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "delete", "patch"}
    return {(m, path) for path, item in spec()["paths"].items() for m in item if m in methods}


async def test_openapi_is_served_and_in_sync_with_the_routes(client):
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    served = await resp.json()
    assert served["openapi"].startswith("3.") and served["paths"]
    routes, described = _routes(client.server.app), _described()
    assert not routes - described, f"routes missing from backoffice/web/openapi.yaml: {sorted(routes - described)}"
    assert not described - routes, f"described but not served: {sorted(described - routes)}"


def test_every_operation_says_who_may_call_it():
    doc = spec()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            security = op.get("security")
            assert security is not None, (method, path)
            if path.startswith("/api/bot/"):
                assert security == [{"service": []}], (method, path)
            elif security == []:
                assert path in ("/api/health", "/api/openapi.json", "/api/media"), (method, path)
            else:
                assert security == [{"staff": []}], (method, path)
