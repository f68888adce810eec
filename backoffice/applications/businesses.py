"""The businesses done in chat that end in an application, by code, with the name customers read. A small
module of its own: the OTP, witness, handoff and console code need the names without the application service."""
from __future__ import annotations

BUSINESS_NAMES = {"unlock_account": "账户解锁", "reset_password": "重置密码",
                  "activate_dormant_account": "休眠账户激活", "close_account": "在线销户"}
