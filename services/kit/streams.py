"""Streamed request bodies (a JSON array or NDJSON, decoded item by item as the bytes
arrive), and the inline schema that documents a body read by hand."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.kit.problems import Problem, ValidationFailed

MAX_ITEM_BYTES = 2 * 1024 * 1024
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})


@dataclass(frozen=True)
class Malformed:
    """An NDJSON line that is not JSON: rejected alone, the batch goes on."""

    message: str


def _malformed_body(message: str) -> ValidationFailed:
    return ValidationFailed.for_field("body", message, code="malformed_json")


def read_items(content_type: str | None, chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """The decoded items of the body, by its media type."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        return json_array_items(chunks)
    if media in NDJSON_TYPES:
        return ndjson_items(chunks)
    raise Problem(
        "send a JSON array (application/json) or NDJSON (application/x-ndjson)",
        status=415,
        code="unsupported_media_type",
        title="Unsupported media type",
    )


def _decode_line(line: bytes) -> Any:
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 4,300-digit number
        return Malformed(f"malformed JSON: {exc}")
    except RecursionError:
        return Malformed("malformed JSON: nested too deeply")


async def ndjson_items(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """One item per non-blank line; a bad or oversized line becomes a ``Malformed`` item."""
    buffer = bytearray()
    skipping = False  # inside a line already reported as too long
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if skipping:
                skipping = False
            elif len(buffer) + end - start > MAX_ITEM_BYTES:
                yield Malformed(f"a line may be at most {MAX_ITEM_BYTES} bytes")
            else:
                buffer += chunk[start:end]
                item = _decode_line(bytes(buffer))
                if item is not None:
                    yield item
            buffer.clear()
            start = end + 1
        if not skipping:
            buffer += chunk[start:]
            if len(buffer) > MAX_ITEM_BYTES:
                buffer.clear()
                skipping = True
                yield Malformed(f"a line may be at most {MAX_ITEM_BYTES} bytes")
    if not skipping:
        item = _decode_line(bytes(buffer))
        if item is not None:
            yield item


def _too_big(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is over MAX_ITEM_BYTES in UTF-8 (counted only when it could be)."""
    if end - start <= MAX_ITEM_BYTES // 4:
        return False
    return len(text[start:end].encode("utf-8", "surrogatepass")) > MAX_ITEM_BYTES


async def json_array_items(chunks: AsyncIterator[bytes]) -> AsyncIterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time as the bytes arrive.

    A body that is not a well-formed array cannot be resynchronised after the error, so it is
    refused as a whole (the request's transaction then rolls back what was already applied).
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()  # a leading BOM is not content
    source = chunks.__aiter__()
    text = ""
    pos = 0
    eof = False

    async def more() -> bool:
        nonlocal text, pos, eof
        if eof:
            return False
        try:
            chunk = await source.__anext__()
        except StopAsyncIteration:
            eof = True
            chunk = b""
        try:
            piece = utf8.decode(chunk, final=eof)
        except UnicodeDecodeError:
            raise _malformed_body("the body is not UTF-8") from None
        text = text[pos:] + piece
        pos = 0
        return True

    async def peek() -> str | None:
        """The next non-whitespace character (not consumed), or None at the end."""
        nonlocal pos
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos < len(text):
                return text[pos]
            if not await more():
                return None

    if await peek() != "[":
        raise _malformed_body("the body is not a JSON array")
    pos += 1
    if await peek() == "]":
        pos += 1
    else:
        while True:
            if await peek() is None:
                raise _malformed_body("the JSON array is not closed")
            while True:
                try:
                    value, end = decoder.raw_decode(text, pos)
                except json.JSONDecodeError as exc:
                    if _too_big(text, pos, len(text)):
                        raise _malformed_body(
                            f"an item may be at most {MAX_ITEM_BYTES} bytes"
                        ) from None
                    if not await more():
                        raise _malformed_body(f"malformed JSON: {exc}") from None
                    continue
                except (ValueError, RecursionError):
                    # A complete item JSON cannot hold (nested too deeply, a 4,300-digit
                    # number): where it ends is unknown, so the body cannot be read on.
                    raise _malformed_body(
                        "an item is nested too deeply or holds a number too long"
                    ) from None
                # A number or literal cut at the buffer's end ("1." of "1.5") may go on in
                # the next chunk: a scalar is complete only when its separator is in sight.
                if not isinstance(value, dict | list):
                    rest = text[end:].lstrip(" \t\r\n")
                    if (not rest or rest[0] not in ",]") and await more():
                        continue
                break
            if _too_big(text, pos, end):
                raise _malformed_body(f"an item may be at most {MAX_ITEM_BYTES} bytes")
            pos = end
            yield value
            separator = await peek()
            pos += 1
            if separator == "]":
                break
            if separator != ",":
                raise _malformed_body("expected ',' or ']' after an item of the array")
    if await peek() is not None:
        raise _malformed_body("unexpected content after the JSON array")


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with every ``$ref`` inlined.

    The sync body is read from the stream rather than declared as a parameter, so FastAPI does
    not add its models to the components; a self-contained schema keeps the contract valid.
    """
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                siblings = {k: resolve(v) for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[ref.removeprefix("#/$defs/")]), **siblings}
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
