"""Database access: one async engine per service, one session (one transaction) per request.

The request's session commits when the route returns and rolls back on any error; services
and repositories never commit themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.elements import TextClause

from services.kit.batches import Batches
from services.kit.fresh import ReadCache, Watched
from services.kit.settings import ServiceSettings

log = logging.getLogger("forerunner.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def plain_url(url: str) -> str:
    """The URL as asyncpg itself takes it (``postgresql://``)."""
    for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


def async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs too; the services always talk asyncpg."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class KitTables:
    """The kit's own tables, created in each service's schema by its migrations."""

    idempotency: Table
    outbox: Table
    audit: Table


def make_metadata(schema: str) -> tuple[MetaData, KitTables]:
    metadata = MetaData(schema=schema, naming_convention=NAMING_CONVENTION)
    idempotency = Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer),
        Column("response", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("message_id", String(64), nullable=False, unique=True),
        Column("target", String(50), nullable=False),
        Column("method", String(10), nullable=False, server_default="POST"),
        Column("path", String(500), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("status", String(20), nullable=False, server_default="pending"),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column(
            "next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("last_error", Text),
        Column("request_id", String(100)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("delivered_at", DateTime(timezone=True)),
        Index(
            None,
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )
    audit = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sub", String(200)),
        Column("role", String(20)),
        Column("org", String(64)),
        Column("action", String(50), nullable=False),
        Column("entity", String(50), nullable=False),
        Column("entity_id", String(100), nullable=False),
        Column("request_id", String(100)),
        Column("detail", JSONB),
        Index(None, "entity", "entity_id"),
    )
    return metadata, KitTables(idempotency=idempotency, outbox=outbox, audit=audit)


def _ms(seconds: float) -> str:
    return str(round(seconds * 1000))


def timeouts(settings: ServiceSettings) -> dict[str, str]:
    """Server settings that bound how long a connection of the service may wait or idle."""
    return {
        "lock_timeout": _ms(settings.db_lock_timeout_seconds),
        "statement_timeout": _ms(settings.db_statement_timeout_seconds),
        "idle_in_transaction_session_timeout": _ms(settings.db_idle_in_transaction_timeout_seconds),
    }


async def allow_long_statements(session: AsyncSession, settings: ServiceSettings) -> None:
    """Raise the statement timeout to the bulk one for the rest of this transaction only."""
    # SET cannot take a bind parameter; set_config(..., true) is SET LOCAL that can.
    await session.execute(
        text("SELECT set_config('statement_timeout', :ms, true)"),
        {"ms": _ms(settings.db_bulk_statement_timeout_seconds)},
    )


def session_settings(settings: ServiceSettings) -> dict[str, str]:
    """What every connection of the service runs with (the pooler's ``connect_query`` too)."""
    return {
        # asyncpg prepares every statement; a generic plan ignores how common a search gram
        # is, so plan each execution for its own values.
        "plan_cache_mode": "force_custom_plan",
        **timeouts(settings),
    }


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


async def _keep_server_state(conn: asyncpg.Connection) -> None:
    """Release a read connection without asyncpg's reset query (advisory unlock, ``CLOSE
    ALL``, ``UNLISTEN *``, ``RESET ALL``): plain reads change none of that, and the query
    would be a second round trip per read. Behind PgBouncer it would also reach a server
    connection shared with others and undo the pooler's ``connect_query``. Only a
    transaction left open (reads never begin one) is ended."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class _Borrowed:
    """``async with``: a read connection from the pool, given back without waiting.

    asyncpg gives a connection back in a task of its own (``asyncio.shield``) that the caller
    waits for: two more turns of the event loop once the answer is in, and under load each
    turn is a round of every other request in flight (``bench.lookup``: a read from the
    database took four turns, where one round trip needs two). The answer needs nothing of
    the release, so the caller goes on at once and the release finishes in the background;
    the connection is back in the pool as soon as it would have been.
    """

    __slots__ = ("_conn", "_db")

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __aenter__(self) -> asyncpg.Connection:
        self._conn = await self._db._borrow()
        return self._conn

    async def __aexit__(self, *_exc: object) -> None:
        self._db._give_back(self._conn)


class Database:
    """The engine and session factory of one service.

    With ``db_pgbouncer`` the service talks to PgBouncer in transaction mode: a server
    connection belongs to a client only for one transaction, so no statement may outlive
    one. Statement caches are off (asyncpg's and SQLAlchemy's), the ORM's statements get
    unique names (two clients' ``__asyncpg_stmt_1__`` would meet on one server connection),
    and the session settings are left to the pooler: PgBouncer refuses unknown startup
    parameters, and a ``SET`` would leak to whoever gets the server connection next. The
    pooler sets them (``connect_query``, from ``session_settings``) and drops named
    statements when a transaction ends (``server_reset_query = DEALLOCATE ALL``).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        engine: AsyncEngine | None = None,
        watched: Watched | None = None,
    ) -> None:
        self.schema = settings.schema_name
        server_settings = {"application_name": settings.service_name}
        read_args: dict[str, Any] = {"reset": _keep_server_state}
        engine_args: dict[str, Any] = {}
        if settings.db_pgbouncer:
            read_args["statement_cache_size"] = 0
            engine_args = {
                "statement_cache_size": 0,
                "prepared_statement_cache_size": 0,
                "prepared_statement_name_func": _unique_statement_name,
            }
        else:
            server_settings |= session_settings(settings)
        self._read_pool_args: dict[str, Any] = {
            "dsn": plain_url(settings.database_url),
            "min_size": 1,
            "max_size": settings.db_read_pool_size,
            # A plain read by a key is planned once per connection, not per execution:
            # forcing a custom plan made PostgreSQL plan the standard-by-id join every time,
            # 3.3x its cost (pgbench, prepared). Reads whose best plan depends on their
            # values ask for their own plan (kit.reads.Reader.planning_each).
            "server_settings": server_settings
            | ({} if settings.db_pgbouncer else {"plan_cache_mode": "auto"}),
            **read_args,
        }
        # What each of the engine's connections is opened with.
        self.connect_args: dict[str, Any] = {"server_settings": server_settings, **engine_args}
        self._read_pool: asyncpg.Pool | None = None
        self._read_pool_lock = asyncio.Lock()
        self._releasing: set[asyncio.Task[None]] = set()
        self.memo: dict[str, Any] = {}  # see kit.reads.Reader.memo
        # Lookups asked at about the same time, read by one statement (kit.batches).
        self.batches = Batches()
        self.engine = engine or create_async_engine(
            async_url(settings.database_url),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            # No ping on every checkout: it is a round trip per request. A connection found
            # dead is invalidated when it fails (kit.reads, the ORM's disconnect handling)
            # and the caller gets a 503 to retry; connections are recycled hourly.
            pool_pre_ping=False,
            pool_recycle=3600,
            # Statement parameters carry personal data (contact details): keep them out of logs.
            hide_parameters=True,
            connect_args=self.connect_args,
        )
        # Reads kept in memory (kit.fresh); listening is started by the app's lifespan.
        self.read_cache = ReadCache(
            settings.read_cache_bytes,
            settings.read_cache_seconds,
            tables=watched.tables if watched else (),
        )
        listen_url = settings.db_listen_url or (
            None if settings.db_pgbouncer else settings.database_url
        )
        self.listen_dsn = plain_url(listen_url) if listen_url else None
        self._listen_settings = {"application_name": f"{settings.service_name}-listen"}
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False, info={_READ_CACHE: self.read_cache}
        )

    async def listen_connection(self) -> asyncpg.Connection:
        """A connection of its own for LISTEN, straight to PostgreSQL."""
        return await asyncpg.connect(
            dsn=self.listen_dsn, server_settings=self._listen_settings, timeout=10
        )

    def reader(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection outside any transaction, for plain reads (see kit.reads).

        From a pool of asyncpg's own: it hands connections out first come, first served, and
        replaces a broken one by itself, where the ORM's pool (built for sessions) adds a
        greenlet hop per checkout and lets a waiter jump the queue, which shows in p99.
        The connection is given back without waiting (``_Borrowed``).
        """
        return _Borrowed(self)

    async def _borrow(self) -> asyncpg.Connection:
        pool = self._read_pool or await self._open_read_pool()
        return await pool.acquire()

    def _give_back(self, conn: asyncpg.Connection) -> None:
        assert self._read_pool is not None
        task = asyncio.get_running_loop().create_task(self._read_pool.release(conn))
        self._releasing.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releasing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # asyncpg has closed the connection; the pool opens another when needed.
            log.warning("a read connection failed on release: %r", task.exception())

    async def _open_read_pool(self) -> asyncpg.Pool:
        async with self._read_pool_lock:
            if self._read_pool is None:
                self._read_pool = await asyncpg.create_pool(**self._read_pool_args)
        return self._read_pool

    async def dispose(self) -> None:
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
        if self._read_pool is not None:
            await self._read_pool.close()
            self._read_pool = None
        await self.engine.dispose()


# A session that wrote a table of the read cache's empties it when it commits (kit.fresh):
# the caller who wrote reads the write back at once, before the database's notification
# arrives. Statements are matched to the tables they change; a text statement by the names
# in it; a write the ORM never sees (a COPY on the driver connection) is told with note_write.
_READ_CACHE = "read_cache"
_WROTE = "wrote"
_READING = ("SELECT", "SHOW")


def _note(session: Session, name: str) -> None:
    cache: ReadCache | None = session.info.get(_READ_CACHE)
    if cache is not None and name in cache.tables:
        session.info[_WROTE] = True


def note_write(session: AsyncSession, table: Table) -> None:
    """This transaction changed ``table`` where the ORM could not see it."""
    _note(session.sync_session, table.fullname)


@event.listens_for(Session, "do_orm_execute")
def _note_write(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    statement = state.statement
    table = getattr(statement, "table", None)
    if table is not None and hasattr(table, "fullname"):
        _note(state.session, table.fullname)
        return
    cache: ReadCache | None = state.session.info.get(_READ_CACHE)
    if cache is None:
        return
    if isinstance(statement, TextClause):
        sql = statement.text
        if sql.lstrip().upper().startswith(_READING) and ";" not in sql:
            return
        if not any(name in sql for name in cache.tables):
            return
    state.session.info[_WROTE] = True  # a construct not understood: take it as a write


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        if table is not None:
            _note(session, table.fullname)


@event.listens_for(Session, "after_commit")
def _forget_kept_reads(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        cache = session.info.get(_READ_CACHE)
        if cache is not None:
            cache.changed()


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: commit when the route returns, roll back on any error."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs when the route returns, before the response is sent, so a
# failed commit is reported to the caller instead of a success that was never stored.
SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
