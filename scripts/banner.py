"""What `make run` prints before starting: where everything is, the staff token and the demo accounts."""
from __future__ import annotations

import os

from backoffice.accounts.seed import DEMO_ACCOUNTS, DEMO_NOTES
from backoffice.core.config import load_settings


def main() -> None:
    settings = load_settings()
    rasa, actions, bo = (os.environ.get("RASA_PORT", "5005"), os.environ.get("ACTION_PORT", "5055"),
                         os.environ.get("BACKOFFICE_PORT", "8000"))
    print(f"""
掌厅助手 — local run (Ctrl-C stops everything)
  Rasa server      http://127.0.0.1:{rasa}   REST: POST /webhooks/rest/webhook {{"sender":..., "message":...}}
  action server    http://127.0.0.1:{actions}/webhook
  back-office      http://127.0.0.1:{bo}/api/health   privacy policy: http://127.0.0.1:{bo}/h5/privacy
  WeChat simulator http://127.0.0.1:{bo}/simulator/   (webhook: /webhooks/wechat/webhook on the Rasa server)
  staff API token  {settings.admin_token}   (Authorization: Bearer …; also in var/admin_token)
  database         {settings.database_url}
  stores           {"Redis " + settings.redis_url if settings.redis_url else "in-memory (set REDIS_URL for Redis)"}

Demo accounts (phone = reserved phone; the SMS code is at GET /api/sandbox/sms?phone=…):""")
    for number, name, _prefix, phone, opened, state, _extra in DEMO_ACCOUNTS:
        print(f"  {number}  {phone}  {state:<8} opened {opened}  {DEMO_NOTES[number]}")
    print(__import__("backoffice.console.cli").console.cli.demo_admin_line())  # staff console login
    print(f"""
Try it:
  curl -s localhost:{rasa}/webhooks/rest/webhook -d '{{"sender":"demo","message":"登录"}}'
""", flush=True)


if __name__ == "__main__":
    main()
