"""Complaint rules: targets checked with their owners, evidence checked and hashed, access
codes stored only as hashes, anonymous filing rate-limited, objections inside the window."""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.clients.ranking import RankingClient
from services.clients.registry import RegistryClient
from services.kit import audit
from services.kit.auth import Principal
from services.kit.http import ServiceError, ServiceNotFound
from services.kit.pagination import Page, paginate
from services.kit.problems import NotFound, ServiceUnavailable, TooManyRequests, ValidationFailed
from services.kit.workdays import WorkdayCalendar
from services.oversight import policy
from services.oversight.cases import service as cases
from services.oversight.complaints import repository
from services.oversight.complaints.schemas import (
    ComplaintCreate,
    ComplaintFiled,
    ComplaintForRegulator,
    ComplaintOut,
    Contact,
    EvidenceIn,
    EvidenceOut,
    Progress,
    Target,
)
from services.oversight.models import Case, Complaint, Evidence, kit_tables
from services.oversight.notices import repository as notices
from services.oversight.notices import service as notice_rules
from services.oversight.settings import OversightSettings

# No 0/O/1/I: a tracking number is read out over the phone.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def code_hash(code: str) -> str:
    # A random 120-bit code needs no slow hash: there is nothing to guess from a dictionary.
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def new_tracking_no(now: datetime) -> str:
    return f"TS{now.year}-" + "".join(secrets.choice(ALPHABET) for _ in range(10))


@dataclass(frozen=True)
class ResolvedTarget:
    verified: bool
    respondent_uscc: str | None = None
    title_id: str | None = None
    notice_id: uuid.UUID | None = None
    evaluator_id: str | None = None


def checked_evidence(files: list[EvidenceIn], settings: OversightSettings) -> list[Evidence]:
    """Decode, check size and type against the content itself, and hash each file."""
    if len(files) > settings.evidence_max_files:
        raise ValidationFailed.for_field(
            "evidence", f"at most {settings.evidence_max_files} files", code="too_much_evidence"
        )
    out = []
    for i, item in enumerate(files):
        field = f"evidence[{i}]"
        if len(item.content_base64) > math.ceil(settings.evidence_max_bytes / 3) * 4 + 4:
            raise ValidationFailed.for_field(field, "file too large", code="evidence_too_large")
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed.for_field(field, "content is not base64") from None
        if len(content) > settings.evidence_max_bytes:
            raise ValidationFailed.for_field(field, "file too large", code="evidence_too_large")
        if not _content_is(item.media_type, content):
            raise ValidationFailed.for_field(
                field, f"content is not {item.media_type}", code="evidence_type_mismatch"
            )
        out.append(
            Evidence(
                id=uuid.uuid4(),
                filename=item.filename,
                media_type=item.media_type,
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
            )
        )
    return out


def _content_is(media_type: str, content: bytes) -> bool:
    if media_type == "text/plain":
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in content
    return content.startswith(MAGIC[media_type])


async def resolve_target(
    session: AsyncSession,
    target: Target,
    *,
    registry: RegistryClient,
    ranking: RankingClient,
    now: datetime,
) -> ResolvedTarget:
    """Check the target with the service that owns it.

    The registry must answer (a 503 asks the filer to retry). Ranking may be down: the
    complaint is then taken unverified rather than lost, and the case's intake (accept or
    reject) is where someone checks it.
    """
    unknown = ValidationFailed.for_field(
        "target.id", f"no {target.type} {target.id}", "unknown_target"
    )
    try:
        if target.type == "standard":
            standard = await registry.get_standard(target.id)
            return ResolvedTarget(True, respondent_uscc=standard.uscc)
        if target.type == "enterprise":
            enterprise = await registry.get_enterprise(target.id)
            return ResolvedTarget(True, respondent_uscc=enterprise.uscc)
    except ServiceNotFound:
        raise unknown from None
    except ServiceError as err:
        if err.status == 422:
            # The registry found the id malformed (not a UUID, not a USCC): nothing by it.
            raise unknown from None
        raise ServiceUnavailable(
            "the registry cannot check the target just now; try again shortly",
            code="registry_unavailable",
            headers={"Retry-After": "30"},
        ) from None
    if target.type == "notice":
        return await _notice_target(session, target, now, unknown)
    try:
        if target.type == "title":
            title = await ranking.get_title(target.id)
            return ResolvedTarget(True, respondent_uscc=title.uscc, title_id=title.id)
        plan = await ranking.get_plan(target.id)
        return ResolvedTarget(True, evaluator_id=plan.evaluator_id)
    except ServiceNotFound:
        raise unknown from None
    except ServiceError:
        title_id = target.id if target.type == "title" else None
        return ResolvedTarget(False, title_id=title_id)


async def _notice_target(
    session: AsyncSession, target: Target, now: datetime, unknown: ValidationFailed
) -> ResolvedTarget:
    try:
        notice_id = uuid.UUID(target.id)
    except ValueError:
        raise unknown from None
    notice = await notices.get(session, notice_id)
    if notice is None:
        raise unknown
    in_time, closes = notice_rules.window_is_open(notice, now)
    if not in_time:
        raise ValidationFailed.for_field(
            "target.id",
            f"the publicity window of this notice closed on {closes} (Asia/Shanghai)",
            code="objection_window_closed",
        )
    return ResolvedTarget(True, notice_id=notice.id)


async def rate_limit(
    session: AsyncSession, client_ip: str, now: datetime, settings: OversightSettings
) -> None:
    bucket = hashlib.sha256(f"anon-filing|{client_ip}".encode()).hexdigest()[:40]
    window_start = now.replace(minute=0, second=0, microsecond=0)
    hits = await repository.count_filing(session, bucket, window_start)
    if hits > settings.anonymous_filings_per_hour:
        retry_after = math.ceil((window_start + timedelta(hours=1) - now).total_seconds())
        raise TooManyRequests(
            "too many anonymous filings from this client; try again later",
            code="rate_limited",
            headers={"Retry-After": str(max(retry_after, 1))},
        )


async def file(
    session: AsyncSession,
    principal: Principal | None,
    body: ComplaintCreate,
    *,
    client_ip: str,
    now: datetime,
    calendar: WorkdayCalendar,
    settings: OversightSettings,
    registry: RegistryClient,
    ranking: RankingClient,
) -> ComplaintFiled:
    evidence = checked_evidence(body.evidence, settings)
    if principal is None:
        await rate_limit(session, client_ip, now, settings)
    target = await resolve_target(session, body.target, registry=registry, ranking=ranking, now=now)
    code = secrets.token_urlsafe(15)
    complaint = Complaint(
        id=uuid.uuid4(),
        tracking_no=new_tracking_no(now),
        access_code_hash=code_hash(code),
        kind=body.kind,
        target_type=body.target.type,
        target_id=body.target.id,
        target_verified=target.verified,
        respondent_uscc=target.respondent_uscc,
        title_id=target.title_id,
        notice_id=target.notice_id,
        grounds=body.grounds,
        description=body.description,
        anonymous=principal is None,
        filer_sub=principal.sub if principal else None,
        contact=body.contact.model_dump(exclude_none=True) if body.contact else None,
        filed_at=now,
    )
    session.add(complaint)
    await session.flush()
    for item in evidence:
        item.complaint_id = complaint.id
        session.add(item)
    case = await cases.open_case(
        session,
        origin="complaint",
        complaint_id=complaint.id,
        target_type=body.target.type,
        target_id=body.target.id,
        title_id=target.title_id,
        respondent_uscc=target.respondent_uscc,
        notice_id=target.notice_id,
        grounds=body.grounds,
        assignee=("evaluator", target.evaluator_id) if target.evaluator_id else None,
        now=now,
        calendar=calendar,
        settings=settings,
    )
    await session.flush()
    await audit.record(session, kit_tables, principal, "file", "complaint", str(complaint.id))
    return ComplaintFiled(
        tracking_no=complaint.tracking_no,
        access_code=code,
        complaint=_view(complaint, evidence, case, regulator=False),
    )


async def get(
    session: AsyncSession, principal: Principal | None, tracking_no: str, access_code: str | None
) -> ComplaintOut:
    complaint = await repository.by_tracking_no(session, tracking_no)
    if complaint is None:
        raise NotFound("no complaint with this tracking number and access code")
    policy.authorise_complaint_read(
        principal, complaint, code_hash(access_code) if access_code else None
    )
    evidence = await repository.evidence_of(session, [complaint.id])
    found = await repository.cases_of(session, [complaint.id])
    return _view(
        complaint, evidence, found[0] if found else None, regulator=policy.sees_contact(principal)
    )


async def list_complaints(
    session: AsyncSession, principal: Principal | None, cursor: str | None, limit: int
) -> Page[ComplaintOut]:
    stmt = repository.listing(policy.complaint_visibility(principal))
    page: Page[Complaint] = await paginate(
        session, stmt, [Complaint.filed_at, Complaint.id], cursor, limit, descending=True
    )
    ids = [c.id for c in page.items]
    evidence = await repository.evidence_of(session, ids)
    by_complaint = {c.complaint_id: c for c in await repository.cases_of(session, ids)}
    regulator = policy.sees_contact(principal)
    return Page[ComplaintOut](
        items=[
            _view(
                c,
                [e for e in evidence if e.complaint_id == c.id],
                by_complaint.get(c.id),
                regulator=regulator,
            )
            for c in page.items
        ],
        next_cursor=page.next_cursor,
    )


def _view(
    complaint: Complaint, evidence: list[Evidence], case: Case | None, *, regulator: bool
) -> ComplaintOut:
    progress = None
    if case is not None:
        progress = Progress(
            case_id=case.id,
            state=case.state,
            outcome=case.outcome,
            reason=case.decision_reason or case.rejection_reason,
            due_on=case.due_on,
        )
    fields = {
        "tracking_no": complaint.tracking_no,
        "kind": complaint.kind,
        "target": Target.model_validate({"type": complaint.target_type, "id": complaint.target_id}),
        "target_verified": complaint.target_verified,
        "grounds": complaint.grounds,
        "description": complaint.description,
        "anonymous": complaint.anonymous,
        "filed_at": complaint.filed_at,
        "evidence": [EvidenceOut.model_validate(e, from_attributes=True) for e in evidence],
        "progress": progress,
    }
    if regulator:
        contact = Contact.model_validate(complaint.contact) if complaint.contact else None
        return ComplaintForRegulator(**fields, contact=contact, filer_sub=complaint.filer_sub)
    return ComplaintOut(**fields)
