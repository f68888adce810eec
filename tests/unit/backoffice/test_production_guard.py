"""HALL_ENV=production refuses demo parts at start-up unless HALL_ALLOW_DEMO names them; SMS provider settings
are checked at start-up too."""
import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.__main__ import main
from backoffice.accounts.seed import seed
from backoffice.core.config import ConfigError, DemoNotAllowed, load_settings
from backoffice.otp.sms import TEXTS
from backoffice.otp.sms_providers import template_env
from backoffice.services import build_services
from backoffice.web.app import create_app
from tests.unit.conftest import make_settings

ENV = ("HALL_ENV", "HALL_ALLOW_DEMO", "WECHAT_SIMULATOR", "DATABASE_URL", "HALL_ADMIN_TOKEN", "HALL_SERVICE_TOKEN",
       "HALL_DATA_KEY", "HALL_DATA_KEYS", "SMS_GATEWAY", "SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME",
       "SMS_SDK_APP_ID", "SMS_ENDPOINT", "SMS_REGION", "SMS_TIMEOUT_SECONDS", "SMS_RETRIES", "SMS_COOLDOWN_SECONDS",
       *(template_env(kind) for kind in TEXTS))


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


@pytest.fixture
def production(env):
    """Production with its secrets; the database is never reached by these checks (nothing listens there)."""
    for name, value in (("HALL_ENV", "production"), ("DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:9/none"),
                        ("HALL_ADMIN_TOKEN", "a" * 32), ("HALL_SERVICE_TOKEN", "s" * 32), ("HALL_DATA_KEYS", "k" * 32)):
        env.setenv(name, value)
    return env


def provider_env(env, name="tencent", **extra):
    values = {"SMS_GATEWAY": name, "SMS_ACCESS_KEY_ID": "AKIDunit", "SMS_ACCESS_KEY_SECRET": "secret",
              "SMS_SIGN_NAME": "金信期货", "SMS_SDK_APP_ID": "1400000001",
              **{template_env(kind): str(1000 + i) for i, kind in enumerate(TEXTS)}, **extra}
    for key, value in values.items():
        env.setenv(key, value)


def test_development_runs_every_demo_part(env):
    settings = load_settings()
    assert not settings.production and settings.sms_gateway == "sandbox"
    assert all(settings.demo_allowed(part) for part in ("sandbox-sms", "seed", "simulator"))


def test_production_refuses_the_sandbox_gateway_at_start(production):
    with pytest.raises(DemoNotAllowed) as err:
        load_settings()
    assert "sandbox SMS gateway" in str(err.value) and "HALL_ALLOW_DEMO=sandbox-sms" in str(err.value)
    production.setenv("HALL_ALLOW_DEMO", "sandbox-sms")
    settings = load_settings()
    assert settings.demo_allowed("sandbox-sms") and not settings.demo_allowed("seed")
    assert not settings.demo_allowed("simulator")


def test_unknown_demo_part_or_gateway_is_a_start_up_error(production):
    production.setenv("HALL_ALLOW_DEMO", "sandbox-sms,simulater")
    with pytest.raises(ConfigError, match="unknown simulater"):
        load_settings()
    production.setenv("HALL_ALLOW_DEMO", "")
    production.setenv("SMS_GATEWAY", "twilio")
    with pytest.raises(ConfigError, match="SMS_GATEWAY='twilio'"):
        load_settings()


def test_a_provider_without_its_templates_does_not_start(production):
    provider_env(production, "aliyun", SMS_TEMPLATE_OTP_LOGIN="", SMS_TEMPLATE_APP_REJECTED="")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "SMS_TEMPLATE_OTP_LOGIN" in str(err.value) and "SMS_TEMPLATE_APP_REJECTED" in str(err.value)
    assert "SMS_TEMPLATE_OTP_SIGN" not in str(err.value)


def test_a_configured_provider_starts_and_keeps_its_secret_out_of_reprs(production):
    provider_env(production, "tencent", SMS_ENDPOINT="https://sms.internal.example:8443/")
    settings = load_settings()
    sms = settings.sms_provider
    assert settings.sms_gateway == "tencent" and sms.sdk_app_id == "1400000001" and sms.region == "ap-guangzhou"
    assert sms.templates["otp_login"] and set(sms.templates) == set(TEXTS)
    assert sms.endpoint == "https://sms.internal.example:8443" and "secret" not in repr(sms)
    production.setenv("SMS_ENDPOINT", "http://127.0.0.1:8080")
    with pytest.raises(ConfigError, match="https"):  # phone numbers and codes travel in it
        load_settings()
    production.delenv("SMS_SDK_APP_ID")
    with pytest.raises(ConfigError, match="SMS_SDK_APP_ID"):
        load_settings()


def test_the_old_simulator_switch_is_refused_loudly_in_production(production):
    production.setenv("HALL_ALLOW_DEMO", "sandbox-sms")
    production.setenv("WECHAT_SIMULATOR", "1")
    with pytest.raises(DemoNotAllowed, match="HALL_ALLOW_DEMO=simulator"):
        load_settings()
    production.setenv("HALL_ALLOW_DEMO", "sandbox-sms,simulator")
    assert load_settings().demo_allowed("simulator")


def test_seed_command_refuses_production_before_touching_anything(production, capsys):
    production.setenv("HALL_ALLOW_DEMO", "sandbox-sms")
    assert main(["seed"]) == 2
    err = capsys.readouterr().err
    assert "refusing to start" in err and "demo accounts" in err and "HALL_ALLOW_DEMO=seed" in err
    assert "Traceback" not in err


def test_seed_command_runs_in_production_when_allowed(production, pg_url, capsys):
    from tests.unit.conftest import _truncate

    _truncate(pg_url)
    production.setenv("DATABASE_URL", pg_url)
    production.setenv("HALL_ALLOW_DEMO", "seed,sandbox-sms")
    assert main(["seed"]) == 0
    assert "demo accounts: 10 created" in capsys.readouterr().out
    _truncate(pg_url)


def test_seed_function_checks_the_settings_it_is_given(database_url, tmp_path, clock):
    from backoffice.core.kvstore import MemoryKV

    svc = build_services(make_settings(database_url, tmp_path, production=True,
                                       allow_demo=frozenset({"sandbox-sms"})), clock=clock, kv=MemoryKV(clock))
    try:
        with pytest.raises(DemoNotAllowed):
            seed(svc)
        assert not svc.accounts.exists("80010001")
    finally:
        svc.close()


@pytest.mark.parametrize("production, allowed, mounted", [(False, set(), True), (True, set(), False),
                                                          (True, {"simulator"}, True)])
async def test_simulator_and_its_fake_wechat_api_are_off_in_production(database_url, tmp_path, clock, production,
                                                                        allowed, mounted):
    from backoffice.core.kvstore import MemoryKV

    settings = make_settings(database_url, tmp_path, production=production,
                             allow_demo=frozenset(allowed | {"sandbox-sms"}))
    svc = build_services(settings, clock=clock, kv=MemoryKV(clock))
    async with TestClient(TestServer(create_app(svc))) as client:
        page = await client.get("/simulator/")
        token = await client.get("/simulator/wechat-api/cgi-bin/token",
                                 params={"grant_type": "client_credential", "appid": "x", "secret": "y"})
        health = await client.get("/api/health")
    assert health.status == 200
    assert (page.status == 200) is mounted and (token.status != 404) is mounted
