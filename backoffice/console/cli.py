"""`python -m backoffice staff create|list|passwd` and the demo admin of `make run`."""
from __future__ import annotations

import os
import secrets
import sys

from backoffice.console.staff import StaffError, StaffService
from backoffice.core.config import load_settings, var_dir
from backoffice.services import build_services

DEMO_ADMIN = "admin"


def _service(svc=None):
    if svc is None:
        svc = build_services(load_settings())
    return StaffService(svc.db, svc.kv, svc.audit, svc.clock)


def run(args) -> int:
    staff = _service()
    if args.staff_cmd == "list":
        for u in staff.list():
            print(f"{u['username']}\t{u['role']}\t{'active' if u['active'] else 'inactive'}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = secrets.token_urlsafe(12)
    try:
        if args.staff_cmd == "create":
            staff.create(args.username, password, args.role)
        else:
            staff.set_password(args.username, password)
    except StaffError as exc:
        print(f"cannot {args.staff_cmd} {args.username}: {exc}", file=sys.stderr)
        return 1
    if not args.password_stdin:  # generated: shown once, never stored in clear
        print(f"{args.username} password: {password}")
    return 0


def add_parser(sub) -> None:
    staff = sub.add_parser("staff", help="staff console accounts")
    ssub = staff.add_subparsers(dest="staff_cmd", required=True)
    create = ssub.add_parser("create", help="create a staff user (password generated and printed)")
    create.add_argument("username")
    create.add_argument("--role", choices=("agent", "reviewer", "admin"), required=True)
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = ssub.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    ssub.add_parser("list")


def ensure_demo_admin(svc) -> str:
    """Development only: an admin whose generated password waits in var/demo_admin_password (mode 600)."""
    staff = _service(svc)
    path = var_dir() / "demo_admin_password"
    if staff.exists(DEMO_ADMIN):
        return f"demo admin: {DEMO_ADMIN} already there"
    password = secrets.token_urlsafe(12)
    staff.create(DEMO_ADMIN, password, "admin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    os.chmod(path, 0o600)
    return f"demo admin: {DEMO_ADMIN} created (password in {path})"


def demo_admin_line() -> str:
    path = var_dir() / "demo_admin_password"
    password = path.read_text().strip() if path.exists() else "(run `make seed`)"
    port = os.environ.get("BACKOFFICE_PORT", "8000")
    return f"  staff console    http://127.0.0.1:{port}/console   login {DEMO_ADMIN} / {password}"
