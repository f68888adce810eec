"""Where the other processes reach the back-office.

Two listeners (backoffice/web/app.py): the public one (`BACKOFFICE_PORT`, 8000: JSON API, H5 pages, console,
simulator) and the bot API (`BACKOFFICE_BOT_PORT`, 8001: `/api/bot/*` for the action server and the channels),
which only our own services may reach (deploy/k8s NetworkPolicy; compose does not publish it).
"""
from __future__ import annotations

import os


def public_url() -> str:
    """Links customers open (H5 pages); HALL_PUBLIC_URL behind a proxy or domain."""
    return (os.environ.get("HALL_PUBLIC_URL")
            or "http://127.0.0.1:%s" % os.environ.get("BACKOFFICE_PORT", "8000")).rstrip("/")


def bot_api_url() -> str:
    return (os.environ.get("BACKOFFICE_BOT_URL")
            or "http://127.0.0.1:%s" % os.environ.get("BACKOFFICE_BOT_PORT", "8001")).rstrip("/")
