import pytest

from connectors.wecom_settings import DEV_CORP_ID, REAL_API_BASE, WeComConfigError, load_wecom_settings

NAMES = ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY", "WECOM_API_BASE", "WECOM_HANDOFF",
         "HALL_ENV", "BACKOFFICE_URL")
KEY = "a" * 43


@pytest.fixture
def env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_PORT", "8123")
    return monkeypatch


def test_development_defaults_point_at_the_simulator(env):
    s = load_wecom_settings()
    assert s.enabled and s.corp_id == DEV_CORP_ID and s.handoff == "console" and len(s.aes_key) == 43
    assert s.api_base == "http://127.0.0.1:8123/simulator/wecom-api/cgi-bin/"


def test_credentials_win_and_the_base_ends_with_a_slash(env):
    env.setenv("WECOM_CORP_ID", "wwenv")
    env.setenv("WECOM_API_BASE", "http://fake:1/cgi-bin")
    s = load_wecom_settings({"corp_id": "wwcreds", "handoff": "wecom", "secret": None})
    assert s.corp_id == "wwcreds" and s.handoff == "wecom" and s.api_base == "http://fake:1/cgi-bin/"


def test_production_without_any_setting_disables_the_channel_and_partial_settings_fail(env):
    env.setenv("HALL_ENV", "production")
    assert load_wecom_settings().enabled is False
    env.setenv("WECOM_CORP_ID", "ww1")
    with pytest.raises(WeComConfigError, match="WECOM_SECRET"):
        load_wecom_settings()
    for name, value in (("WECOM_SECRET", "s"), ("WECOM_TOKEN", "t"), ("WECOM_AES_KEY", KEY)):
        env.setenv(name, value)
    s = load_wecom_settings()
    assert s.enabled and s.api_base == REAL_API_BASE


def test_bad_values_are_refused(env):
    env.setenv("WECOM_AES_KEY", "short")
    with pytest.raises(WeComConfigError):
        load_wecom_settings()
    env.setenv("WECOM_AES_KEY", KEY)
    env.setenv("WECOM_HANDOFF", "somewhere")
    with pytest.raises(WeComConfigError):
        load_wecom_settings()
