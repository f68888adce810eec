"""Staff accounts, password hashing, sessions and the login rate limit (SQLite and PostgreSQL)."""
import pytest

from backoffice.console import cli
from backoffice.console.staff import (MAX_FAILURES_PER_USER, StaffError, StaffService, hash_password,
                                      verify_password)
from tests.unit.console.conftest import PASSWORD


def test_password_hashing_is_argon2_and_salted():
    first, second = hash_password("s3cret-passw0rd"), hash_password("s3cret-passw0rd")
    assert first.startswith("$argon2id$") and first != second and "s3cret" not in first
    assert verify_password(first, "s3cret-passw0rd")
    assert not verify_password(first, "s3cret-passw0rd!")
    assert not verify_password("not a hash", "x")


def test_create_validates(staff):
    with pytest.raises(StaffError):
        staff.create("agent1", PASSWORD, "agent")  # exists
    with pytest.raises(StaffError):
        staff.create("bob", "short", "agent")
    with pytest.raises(StaffError):
        staff.create("bob", PASSWORD, "root")
    with pytest.raises(StaffError):
        staff.create("<bob>", PASSWORD, "agent")


def test_authenticate_and_sessions(staff, services):
    user = staff.authenticate("agent1", PASSWORD, "10.0.0.1")
    assert user == {"username": "agent1", "role": "agent"}
    sid = staff.open_session(user)
    session = staff.session(sid)
    assert session["username"] == "agent1" and len(session["csrf"]) >= 32
    assert staff.session("forged") is None and staff.session(None) is None
    # the session id itself is not what the store keeps
    assert services.kv.get(f"console:session:{sid}") is None
    staff.close_session(sid)
    assert staff.session(sid) is None
    with pytest.raises(StaffError, match="invalid"):
        staff.authenticate("agent1", "wrong-password", "10.0.0.1")
    with pytest.raises(StaffError, match="invalid"):
        staff.authenticate("nobody", "wrong-password", "10.0.0.1")  # same answer for an unknown user
    events = [e["event"] for e in services.audit.list()]
    assert "console_login" in events and events.count("console_login_failed") == 2
    assert all(PASSWORD not in str(e) for e in services.audit.list())


def test_deactivated_user_loses_the_session(staff, services):
    from backoffice.console.staff import StaffUser

    sid = staff.open_session(staff.authenticate("agent1", PASSWORD, "ip"))
    with services.db.session() as s:
        s.query(StaffUser).filter_by(username="agent1").update({"active": False})
    assert staff.session(sid) is None
    with pytest.raises(StaffError):
        staff.authenticate("agent1", PASSWORD, "ip")


def test_rate_limit_per_username_and_per_ip(staff, services, clock):
    for _ in range(MAX_FAILURES_PER_USER):
        with pytest.raises(StaffError, match="invalid"):
            staff.authenticate("agent1", "wrong-password", f"ip-{_}")
    with pytest.raises(StaffError, match="rate_limited"):  # even the right password, from another address
        staff.authenticate("agent1", PASSWORD, "ip-other")
    assert staff.authenticate("admin1", PASSWORD, "ip-other")  # other users are not locked out
    clock.advance(16 * 60)
    assert staff.authenticate("agent1", PASSWORD, "ip-other")  # the window passes
    # per address: many usernames from one place
    for i in range(20):
        with pytest.raises(StaffError):
            staff.authenticate(f"guess{i}", "x", "10.9.9.9")
    with pytest.raises(StaffError, match="rate_limited"):
        staff.authenticate("reviewer1", PASSWORD, "10.9.9.9")
    assert staff.authenticate("reviewer1", PASSWORD, "10.1.1.1")


def test_demo_admin_and_cli(services, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    assert "created" in cli.ensure_demo_admin(services)
    path = tmp_path / "demo_admin_password"
    assert path.stat().st_mode & 0o777 == 0o600
    staff = StaffService(services.db, services.kv, services.audit, services.clock)
    assert staff.authenticate("admin", path.read_text(), "ip")["role"] == "admin"
    assert "already there" in cli.ensure_demo_admin(services)
    assert "/console" in cli.demo_admin_line() and path.read_text() in cli.demo_admin_line()
