"""ETags and ``If-Match``: an update names the version it was based on; a stale one is 412."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from services.kit.problems import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    """The strong ETag of a record's row version."""
    return f'"{version}"'


class Precondition:
    """What an ``If-Match`` header allows: any version (``*``) or the versions it lists."""

    def __init__(self, versions: frozenset[int] | None) -> None:
        self.versions = versions

    @classmethod
    def parse(cls, header: str) -> Precondition:
        # Strong comparison (RFC 9110): a weak tag, or anything not ours, never matches.
        tags = {tag.strip() for tag in header.split(",")}
        if "*" in tags:
            return cls(None)
        versions = {
            int(tag[1:-1])
            for tag in tags
            if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit()
        }
        return cls(frozenset(versions))

    def check(self, current: int) -> None:
        if self.versions is not None and current not in self.versions:
            raise PreconditionFailed(
                "the record has changed since you read it; fetch it again and retry",
                code="stale_etag",
            )


async def if_match(
    header: Annotated[
        str | None,
        Header(
            alias="If-Match",
            max_length=1000,
            description="Required: the ETag of the record as you read it (or `*`)",
        ),
    ] = None,
) -> Precondition:
    # Declared optional so that a missing header is a 428 (RFC 6585), not a generic 422; the
    # kit's OpenAPI marks it required, which is what callers must send.
    if header is None:
        raise PreconditionRequired("send If-Match with the ETag of the record you changed")
    return Precondition.parse(header)


IfMatchDep = Annotated[Precondition, Depends(if_match)]
