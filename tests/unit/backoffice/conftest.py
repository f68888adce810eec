"""An in-process HTTP client for the back-office app, with staff and bot tokens at hand."""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.web.app import create_app


@pytest.fixture
async def client(services):
    app = create_app(services)
    async with TestClient(TestServer(app)) as c:
        c.staff = {"Authorization": f"Bearer {services.settings.admin_token}"}
        c.bot = {"Authorization": f"Bearer {services.settings.service_token}"}
        yield c
