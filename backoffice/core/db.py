"""SQLAlchemy engine and sessions (2.0-style API on SQLAlchemy 1.4). Databases are built by the Alembic
migrations; `backoffice.models` registers every table where the whole schema is needed."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from backoffice.core import tracing

Base = declarative_base()


def make_engine(url: str, pre_ping: bool = True) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # concurrent readers + FK checks
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    # pre-ping: connections broken by a database restart are replaced, not handed out; connect_timeout: an
    # unreachable server fails a request in seconds (the customer gets 系统繁忙) instead of hanging it
    return create_engine(url, future=True, pool_pre_ping=pre_ping, pool_size=10, max_overflow=10,
                         connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {})


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        tracing.instrument_engine(self.engine)  # SQL spans when tracing is on; nothing otherwise
        self._factory = sessionmaker(self.engine, future=True, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        with self._factory() as session:
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
