"""A sync body, received in full before anything of it is written.

A client that stalls or dies mid-body must not hold a transaction (locks, and the change
feed's horizon) while the service waits for its bytes. So the body is first spooled (in
memory, on disk past SPOOL_MEMORY_BYTES) with no transaction and no connection open, and
checked as far as the batch as a whole can fail: a JSON array must be well-formed, and no
body may have more than the allowed items. Only then are its items read back and applied;
NDJSON lines are handed back undecoded, for the sync to validate each in one pass.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from services.kit import streams
from services.kit.problems import PayloadTooLarge
from services.kit.streams import NDJSON_TYPES, Malformed, read_items

SPOOL_MEMORY_BYTES = 32 * 2**20
MAX_BODY_BYTES = 1024 * 2**20
READ_BACK_BYTES = 2**20


def too_many(max_items: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a sync batch may have at most {max_items} items; split it", code="too_many_items"
    )


class _LineCounter:
    """Counts the non-blank NDJSON lines of a body as its chunks arrive (no decoding)."""

    def __init__(self) -> None:
        self.count = 0
        self._open_line_has_text = False

    def feed(self, chunk: bytes) -> None:
        *complete, rest = chunk.split(b"\n")
        for line in complete:
            if self._open_line_has_text or line.strip():
                self.count += 1
            self._open_line_has_text = False
        if rest.strip():
            self._open_line_has_text = True

    def close(self) -> int:
        return self.count + (1 if self._open_line_has_text else 0)


class Body:
    """The spooled body of one sync request, read back item by item with ``entries()``."""

    def __init__(self, content_type: str | None, spool: IO[bytes], count: int) -> None:
        self.content_type = content_type
        self.spool = spool
        self.count = count

    async def _chunks(self) -> AsyncIterator[bytes]:
        self.spool.seek(0)
        while chunk := self.spool.read(READ_BACK_BYTES):
            yield chunk

    async def entries(self) -> AsyncIterator[Any]:
        """NDJSON: each non-blank line, undecoded (bytes), or ``Malformed`` when too long;
        a JSON array: its decoded items."""
        media = (self.content_type or "").split(";", 1)[0].strip().lower()
        if media not in NDJSON_TYPES:
            async for item in read_items(self.content_type, self._chunks()):
                yield item
            return
        for line in self._lines():
            yield line

    def _lines(self) -> Iterator[bytes | Malformed]:
        """The lines as ``streams.ndjson_items`` cuts them, without decoding them."""
        self.spool.seek(0)
        buffer = b""
        skipping = False  # inside a line already reported as too long
        while chunk := self.spool.read(READ_BACK_BYTES):
            first, *middle = chunk.split(b"\n")
            if not middle:
                if not skipping:
                    buffer += first
            else:
                if not skipping:
                    yield from _line(buffer + first)
                skipping = False
                buffer = middle.pop()
                for line in middle:
                    yield from _line(line)
            if not skipping and len(buffer) > streams.MAX_ITEM_BYTES:
                buffer = b""
                skipping = True
                yield _too_long()
        if not skipping:
            yield from _line(buffer)

    def close(self) -> None:
        self.spool.close()


def _too_long() -> Malformed:
    return Malformed(f"a line may be at most {streams.MAX_ITEM_BYTES} bytes")


def _line(line: bytes) -> Iterator[bytes | Malformed]:
    if len(line) > streams.MAX_ITEM_BYTES:
        yield _too_long()
    elif line.strip():
        yield line


async def receive(content_type: str | None, chunks: AsyncIterator[bytes], max_items: int) -> Body:
    """Read the whole body; refuse it (413, 415, 422) before anything is written."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    size = 0
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        if media in NDJSON_TYPES:
            lines = _LineCounter()
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                spool.write(chunk)
                lines.feed(chunk)
                if lines.count > max_items:
                    raise too_many(max_items)
            count = lines.close()
        else:

            async def teed() -> AsyncIterator[bytes]:
                nonlocal size
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise _too_large()
                    spool.write(chunk)
                    yield chunk

            # The array is decoded once here to know it is well-formed, then again to apply.
            count = 0
            async for _ in read_items(content_type, teed()):
                count += 1
                if count > max_items:
                    raise too_many(max_items)
        if count > max_items:
            raise too_many(max_items)
    except BaseException:
        spool.close()
        raise
    return Body(content_type, spool, count)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a sync body may have at most {MAX_BODY_BYTES // 2**20} MiB; split it",
        code="body_too_large",
    )
