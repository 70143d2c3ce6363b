"""Notice board rules: append-only, one hash chain, publicity windows in working days."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, paginate
from services.kit.problems import NotFound, ValidationFailed
from services.kit.workdays import WorkdayCalendar, today_shanghai
from services.oversight.models import Notice, kit_tables
from services.oversight.notices import repository
from services.oversight.notices.chain import canonical, link
from services.oversight.notices.schemas import (
    PUBLICITY_KINDS,
    ChainEntry,
    ChainHead,
    ChainPage,
    NoticeCreate,
    NoticeKind,
    NoticeOut,
    Subject,
    Window,
)
from services.oversight.notices.signing import NoticeSigner


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def publicity_window(calendar: WorkdayCalendar, posted: date, working_days: int) -> Window:
    """``working_days`` working days, the first on ``posted`` or the next working day after."""
    opens = posted if calendar.is_workday(posted) else calendar.add_workdays(posted, 1)
    closes = calendar.add_workdays(opens, working_days - 1)
    return Window(opens=opens, closes=closes, working_days=working_days)


def entry_of(notice: Notice) -> dict[str, Any]:
    """The hashed form of a notice: everything it says, nothing derived."""
    window = None
    if notice.window_opens is not None:
        window = {
            "opens": notice.window_opens.isoformat(),
            "closes": notice.window_closes.isoformat() if notice.window_closes else None,
            "working_days": notice.window_workdays,
        }
    subject = None
    if notice.subject_type is not None:
        subject = {"type": notice.subject_type, "id": notice.subject_id}
    return {
        "seq": notice.seq,
        "id": str(notice.id),
        "kind": notice.kind,
        "title": notice.title,
        "body": notice.body,
        "subject": subject,
        "corrects": str(notice.corrects) if notice.corrects else None,
        "window": window,
        "payload": notice.payload,
        "posted_at": rfc3339(notice.posted_at),
        "posted_by": notice.posted_by,
    }


async def append(
    session: AsyncSession,
    principal: Principal | None,
    body: NoticeCreate,
    *,
    posted_by: str,
    now: datetime,
    calendar: WorkdayCalendar,
) -> Notice:
    """Add a notice at the end of the chain (the head row lock makes appends one line)."""
    if body.corrects is not None and await repository.get(session, body.corrects) is None:
        raise ValidationFailed.for_field("corrects", f"no notice {body.corrects} to correct")
    window = None
    if body.window is not None:
        posted = body.window.opens or today_shanghai(now)
        if posted < today_shanghai(now):
            raise ValidationFailed.for_field("window.opens", "a window cannot open in the past")
        window = publicity_window(calendar, posted, body.window.working_days)

    notice_id = uuid.uuid4()
    # Everything that need not wait for the head comes first: the lock is held to commit.
    await audit.record(session, kit_tables, principal, "post", "notice", str(notice_id))
    head = await repository.lock_head(session)
    notice = Notice(
        seq=head.seq + 1,
        id=notice_id,
        kind=str(body.kind),
        title=body.title,
        body=body.body,
        subject_type=body.subject.type if body.subject else None,
        subject_id=body.subject.id if body.subject else None,
        corrects=body.corrects,
        window_opens=window.opens if window else None,
        window_closes=window.closes if window else None,
        window_workdays=window.working_days if window else None,
        payload=body.payload,
        # Microseconds survive the round trip through PostgreSQL, so the hash does too.
        posted_at=now.astimezone(UTC),
        posted_by=posted_by,
        prev_hash=head.hash,
    )
    notice.hash = link(head.hash, canonical(entry_of(notice)))
    session.add(notice)
    await session.flush()
    await repository.advance_head(session, notice.seq, notice.hash)
    if window is not None:
        await repository.add_window(session, notice.id, window.closes)
    return notice


def view(notice: Notice) -> NoticeOut:
    window = None
    if notice.window_opens and notice.window_closes and notice.window_workdays:
        window = Window(
            opens=notice.window_opens,
            closes=notice.window_closes,
            working_days=notice.window_workdays,
        )
    subject = None
    if notice.subject_type and notice.subject_id:
        subject = Subject.model_validate({"type": notice.subject_type, "id": notice.subject_id})
    return NoticeOut(
        id=notice.id,
        seq=notice.seq,
        kind=NoticeKind(notice.kind),
        title=notice.title,
        body=notice.body,
        subject=subject,
        corrects=notice.corrects,
        window=window,
        payload=notice.payload,
        posted_at=notice.posted_at,
        posted_by=notice.posted_by,
        prev_hash=notice.prev_hash,
        hash=notice.hash,
    )


async def get(session: AsyncSession, notice_id: uuid.UUID) -> Notice:
    notice = await repository.get(session, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    return notice


async def list_notices(
    session: AsyncSession,
    *,
    kind: NoticeKind | None,
    subject_type: str | None,
    subject_id: str | None,
    cursor: str | None,
    limit: int,
) -> Page[NoticeOut]:
    stmt = repository.listing(kind, subject_type, subject_id)
    return await paginate(
        session, stmt, [Notice.seq], cursor, limit, item=view, descending=True, scalars=True
    )


async def chain_page(session: AsyncSession, after: int, limit: int) -> ChainPage:
    """Entries after ``after`` with their canonical text, rebuilt from the stored columns: a
    column changed behind the service's back no longer matches its hash."""
    notices = await repository.chain_after(session, after, limit)
    items = [
        ChainEntry(
            seq=n.seq,
            id=n.id,
            prev_hash=n.prev_hash,
            hash=n.hash,
            entry=canonical(entry_of(n)).decode("utf-8"),
        )
        for n in notices
    ]
    return ChainPage(items=items, next_after=items[-1].seq if len(items) == limit else None)


async def signed_head(session: AsyncSession, signer: NoticeSigner, now: datetime) -> ChainHead:
    seq, hash_ = await repository.read_head(session)
    signed_at = now.astimezone(UTC).replace(microsecond=0)
    statement = canonical(
        {"seq": seq, "hash": hash_, "signed_at": rfc3339(signed_at), "key_id": signer.key_id}
    )
    return ChainHead(
        seq=seq,
        hash=hash_,
        signed_at=signed_at,
        key_id=signer.key_id,
        signed=statement.decode("utf-8"),
        signature=signer.sign(statement),
    )


def window_is_open(notice: Notice, now: datetime) -> tuple[bool, date | None]:
    """Whether an objection to this notice is in time, and the last day it could be.

    An objection that comes before the window opens is in time too: it harms no one.
    """
    if notice.kind not in PUBLICITY_KINDS or notice.window_closes is None:
        return True, None
    return today_shanghai(now) <= notice.window_closes, notice.window_closes
