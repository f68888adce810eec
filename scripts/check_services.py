"""Fail loudly when the PostgreSQL or Redis the tests need is not reachable: tests are never skipped."""
from __future__ import annotations

import os
import sys

PG = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def main() -> int:
    problems = []
    try:
        import psycopg2

        psycopg2.connect(PG.replace("postgresql+psycopg2", "postgresql"), connect_timeout=5).close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        problems.append(f"PostgreSQL at {PG} is not reachable: {exc}".strip())
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_timeout=5).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at {REDIS} is not reachable: {exc}")
    if problems:
        print("\n".join(["", "*** make test needs real PostgreSQL and Redis ***", *problems,
                         "Start them (see README, 'Tests') and run again. Nothing was skipped.", ""]),
              file=sys.stderr)
        return 1
    print("PostgreSQL and Redis reachable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
