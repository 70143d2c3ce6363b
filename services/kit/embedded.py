"""An embedded PostgreSQL (pgserver ships the server in a wheel) for machines with none.

Used by ``make run`` and by the tests when no other server answers. pgserver listens on a
Unix socket only. Run as root, it creates a system user to own the data directory and makes
the parent folders of the data and install directories world-readable, so keep the checkout
somewhere that may be readable (not under /root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def start(data_dir: Path) -> tuple[Any, str]:
    """Start (or reuse) the server kept in ``data_dir``; returns it and an asyncpg URL."""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - only without the 'embedded' extra
        raise RuntimeError("install the 'embedded' extra for an embedded PostgreSQL") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    return server, sqlalchemy_url(server.get_uri())


def sqlalchemy_url(uri: str) -> str:
    """pgserver's socket URI as an asyncpg URL (``?host=/socket/dir``)."""
    parsed = urlparse(uri)
    host = parse_qs(parsed.query).get("host", [""])[0]
    database = parsed.path.lstrip("/") or "postgres"
    user = parsed.username or "postgres"
    return f"postgresql+asyncpg://{user}@/{database}?host={host}"


def stop(server: Any) -> None:
    server.cleanup()
