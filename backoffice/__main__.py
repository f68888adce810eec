"""Back-office command line: `python -m backoffice migrate|seed|serve|media FILE|token|purge|rotate-keys|staff ...`."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="backoffice")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("migrate", help="apply Alembic migrations to DATABASE_URL")
    sub.add_parser("seed", help="create the demo accounts (idempotent)")
    sub.add_parser("serve", help="run the web app")
    media = sub.add_parser("media", help="store a file in the media store and print its id")
    media.add_argument("file")
    media.add_argument("--sender", required=True,
                       help="the conversation that may use it, e.g. rest:demo, or the id `rasa shell --conversation-id` got")
    sub.add_parser("token", help="print the admin API token (development)")
    sub.add_parser("purge", help="delete personal data past its retention period (backoffice/maintenance/retention.py)")
    sub.add_parser("rotate-keys", help="re-encrypt every encrypted value and media file with the newest key")
    from backoffice.console.cli import add_parser as add_staff_parser  # lazy: a command loads only what it runs

    add_staff_parser(sub)
    args = parser.parse_args(argv)
    from backoffice.core.config import ConfigError  # lazy: a command loads only what it runs

    try:
        return _run(args)
    except ConfigError as exc:  # production refusing a demo part or a missing secret: one clear line, no traceback
        print(f"backoffice {args.cmd}: refusing to start: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.cmd == "migrate":
        from backoffice.core.migrate import upgrade  # lazy: a command loads only what it runs

        upgrade()
    elif args.cmd == "seed":
        from backoffice.accounts.seed import seed  # lazy: a command loads only what it runs

        for line in seed():
            print(line)
    elif args.cmd == "serve":
        from backoffice.web.app import main as serve  # lazy: a command loads only what it runs

        serve()
    elif args.cmd == "media":
        from backoffice.channels.senders import BadSender, channel_of  # lazy: a command loads only what it runs
        from backoffice.core.config import load_settings  # lazy: a command loads only what it runs
        from backoffice.media.store import MediaError  # lazy: a command loads only what it runs
        from backoffice.services import build_services  # lazy: a command loads only what it runs

        try:
            channel_of(args.sender)
        except BadSender:
            print(f"not a conversation id: {args.sender!r} (e.g. rest:demo)", file=sys.stderr)
            return 2
        svc = build_services(load_settings())
        try:
            with open(args.file, "rb") as fh:
                info = svc.media.put(fh.read(), sender=args.sender)
        except (OSError, MediaError) as exc:
            print(f"cannot store {args.file}: {exc}", file=sys.stderr)
            return 1
        print(info.media_id)
        print(f'send in rasa shell: /upload_image{{"media_id":"{info.media_id}"}}', file=sys.stderr)
    elif args.cmd == "token":
        from backoffice.core.config import load_settings  # lazy: a command loads only what it runs

        print(load_settings().admin_token)
    elif args.cmd in ("purge", "rotate-keys"):
        from backoffice.core.config import load_settings  # lazy: a command loads only what it runs
        from backoffice.services import build_services  # lazy: a command loads only what it runs

        svc = build_services(load_settings())
        try:
            if args.cmd == "purge":
                from backoffice.maintenance.retention import Retention  # lazy: a command loads only what it runs

                report = Retention(svc).purge()
            else:
                from backoffice.maintenance.keyrotation import rotate_keys  # lazy: a command loads only what it runs

                report = rotate_keys(svc)
        finally:
            svc.close()
        print(" ".join(f"{k}={v}" for k, v in report.items()))
    elif args.cmd == "staff":
        from backoffice.console.cli import run as staff_command  # lazy: a command loads only what it runs

        return staff_command(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
