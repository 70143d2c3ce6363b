"""Declared standards: content rules, immutable versions, withdrawal, search."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.kit import audit
from services.kit.auth import Principal
from services.kit.pagination import Page, keyset, next_cursor, paginate
from services.kit.preconditions import Precondition
from services.kit.problems import Conflict, FieldError, NotFound, ValidationFailed
from services.registry import policy, rules
from services.registry.changes import repository as changes
from services.registry.models import (
    CategoryIndicator,
    Enterprise,
    Standard,
    StandardVersion,
    kit_tables,
)
from services.registry.standards.reads import SearchFilters
from services.registry.standards.schemas import (
    StandardContent,
    StandardCreate,
    StandardOut,
    StandardSummary,
    VersionCreate,
    VersionSummary,
)

S = TypeVar("S", bound=Select[Any])


def content_json(content: StandardContent) -> dict[str, Any]:
    return content.model_dump(mode="json")


def content_hash(content: StandardContent) -> str:
    canonical = json.dumps(
        content_json(content), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Checked:
    """Content that passed every rule, with what the standard row derives from it."""

    content: StandardContent
    standard_no: str
    standard_no_key: str
    standard_type: str
    hash: str


async def vocabularies(
    session: AsyncSession, categories: set[str]
) -> dict[str, dict[str, CategoryIndicator]]:
    """The indicator vocabulary of each known category among ``categories``."""
    from services.registry.models import Category

    known = set(
        (await session.execute(select(Category.code).where(Category.code.in_(categories))))
        .scalars()
        .all()
    )
    vocab: dict[str, dict[str, CategoryIndicator]] = {code: {} for code in known}
    rows = (
        await session.execute(
            select(CategoryIndicator).where(CategoryIndicator.category_code.in_(known))
        )
    ).scalars()
    for row in rows:
        vocab[row.category_code][row.code] = row
    return vocab


def check_content(
    content: StandardContent,
    vocab: dict[str, dict[str, CategoryIndicator]],
    prefix: str = "",
) -> Checked:
    """Apply the registry's rules; every broken rule is reported, each naming its field."""
    errors: list[FieldError] = []
    codes: list[str] = []

    def fail(field: str, message: str, code: str) -> None:
        errors.append(FieldError(field=prefix + field, message=message))
        codes.append(code)

    standard_no = key = kind = ""
    try:
        standard_no = rules.normalise_standard_no(content.standard_no)
        key = standard_no.replace(" ", "")  # rules.standard_no_key, without normalising again
        kind = rules.standard_type(standard_no)
    except rules.RuleError as err:
        fail("standard_no", err.message, err.code)

    category = vocab.get(content.category)
    if category is None:
        fail("category", f"unknown category {content.category!r}", "unknown_category")
        category = {}

    products = []
    for i, product in enumerate(content.products):
        if product.barcode:
            try:
                product = product.model_copy(
                    update={"barcode": rules.validate_gtin(product.barcode)}
                )
            except rules.RuleError as err:
                fail(f"products.{i}.barcode", err.message, err.code)
        products.append(product)

    indicators = []
    seen: set[str] = set()
    for i, indicator in enumerate(content.indicators):
        if indicator.code is not None:
            word = category.get(indicator.code)
            if word is None:
                if content.category in vocab:
                    fail(
                        f"indicators.{i}.code",
                        f"{indicator.code!r} is not in the vocabulary of {content.category}",
                        "unknown_indicator",
                    )
            else:
                if indicator.code in seen:
                    fail(f"indicators.{i}.code", "declared twice", "duplicate_indicator")
                seen.add(indicator.code)
                if indicator.unit is None:
                    indicator = indicator.model_copy(update={"unit": word.unit})
                elif indicator.unit != word.unit:
                    fail(
                        f"indicators.{i}.unit",
                        f"{indicator.code} is measured in {word.unit!r}",
                        "wrong_unit",
                    )
        indicators.append(indicator)

    if errors:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
            code=codes[0] if len(set(codes)) == 1 else "validation_failed",
            errors=errors,
        )
    content = content.model_copy(update={"products": products, "indicators": indicators})
    return Checked(content, standard_no, key, kind, content_hash(content))


def searchable(checked: Checked, enterprise_name: str) -> tuple[str, list[str]]:
    content = checked.content
    texts = [content.name, enterprise_name, *rules.standard_no_search_texts(checked.standard_no)]
    for product in content.products:
        texts += [t for t in (product.name, product.generic_name, product.brand) if t]
    return rules.search_text(*texts), rules.search_grams(*texts)


def apply_content(std: Standard, checked: Checked, enterprise: Enterprise) -> None:
    content = checked.content
    std.standard_no = checked.standard_no
    std.standard_no_key = checked.standard_no_key
    std.standard_type = checked.standard_type
    std.name = content.name
    std.category_code = content.category
    std.region = enterprise.region
    std.publication_date = content.publication_date
    std.implementation_date = content.implementation_date
    std.search_text, std.grams = searchable(checked, enterprise.name)


async def lock_enterprise(session: AsyncSession, uscc: str) -> Enterprise | None:
    """Share-lock the enterprise for the rest of the transaction.

    A block (which hides its standards) or a rename (which re-indexes them) takes the row
    FOR UPDATE, so it waits for writes to the enterprise's standards and they wait for it:
    a standard can't slip out public during a block, nor keep a stale search index. The lock
    order is always enterprise, then standard.
    """
    stmt = select(Enterprise).where(Enterprise.uscc == uscc).with_for_update(read=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def enterprise_for_write(
    session: AsyncSession, principal: Principal, uscc: str
) -> Enterprise:
    uscc = uscc.strip().upper()
    policy.authorise_standard_declare(principal, uscc)
    enterprise = await lock_enterprise(session, uscc)
    if enterprise is None:
        raise ValidationFailed.for_field("uscc", f"no enterprise {uscc}", code="unknown_enterprise")
    return enterprise


async def _duplicate(
    session: AsyncSession, uscc: str, key: str, other_than: uuid.UUID | None
) -> bool:
    stmt = select(Standard.id).where(Standard.uscc == uscc, Standard.standard_no_key == key)
    if other_than is not None:
        stmt = stmt.where(Standard.id != other_than)
    return (await session.execute(stmt)).first() is not None


async def create(session: AsyncSession, principal: Principal, body: StandardCreate) -> Standard:
    enterprise = await enterprise_for_write(session, principal, body.uscc)
    content = StandardContent.model_validate(body.model_dump(exclude={"uscc"}))
    checked = check_content(content, await vocabularies(session, {content.category}))
    if await _duplicate(session, enterprise.uscc, checked.standard_no_key, None):
        raise Conflict(
            f"{enterprise.uscc} has already declared {checked.standard_no}",
            code="duplicate_standard_no",
        )
    std = Standard(id=uuid.uuid4(), uscc=enterprise.uscc, status="current", current_version=1)
    std.row_version = 1
    std.hidden = policy.hidden_for(enterprise.blocked)
    apply_content(std, checked, enterprise)
    session.add(std)
    session.add(_version(std.id, 1, "initial", checked, principal, None))
    await session.flush()
    await _announce(session, principal, std, "standard.created", "create", None)
    return std


async def _announce(
    session: AsyncSession,
    principal: Principal,
    std: Standard,
    kind: str,
    action: str,
    detail: dict[str, Any] | None,
) -> None:
    """A change to a standard goes to the change feed and the audit trail, both in this
    transaction."""
    await changes.record(
        session,
        kind,
        std.uscc,
        standard_id=std.id,
        version=std.current_version,
        category_code=std.category_code,
    )
    await audit.record(session, kit_tables, principal, action, "standard", str(std.id), detail)


def _version(
    standard_id: uuid.UUID,
    n: int,
    kind: str,
    checked: Checked,
    principal: Principal,
    note: str | None,
) -> StandardVersion:
    return StandardVersion(
        standard_id=standard_id,
        n=n,
        kind=kind,
        content=content_json(checked.content),
        content_hash=checked.hash,
        note=note,
        author_sub=principal.sub,
        author_role=str(principal.role),
    )


async def get_for_write(
    session: AsyncSession, principal: Principal, standard_id: uuid.UUID
) -> tuple[Standard, Enterprise]:
    """The standard and its enterprise, locked in that order (see lock_enterprise)."""
    found = (
        await session.execute(
            select(Standard.uscc, Standard.hidden).where(Standard.id == standard_id)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"no standard {standard_id}")
    uscc = found.uscc
    policy.authorise_standard_write(principal, uscc, found.hidden)
    enterprise = await lock_enterprise(session, uscc)
    std = (
        await session.execute(select(Standard).where(Standard.id == standard_id).with_for_update())
    ).scalar_one()
    assert enterprise is not None  # a standard's enterprise is never deleted
    return std, enterprise


async def current_hash(session: AsyncSession, std: Standard) -> str:
    return (
        await session.execute(
            select(StandardVersion.content_hash).where(
                StandardVersion.standard_id == std.id, StandardVersion.n == std.current_version
            )
        )
    ).scalar_one()


async def add_version(
    session: AsyncSession,
    principal: Principal,
    standard_id: uuid.UUID,
    body: VersionCreate,
    precondition: Precondition,
) -> Standard:
    std, enterprise = await get_for_write(session, principal, standard_id)
    precondition.check(std.row_version)
    if std.status != "current":
        raise Conflict(f"the standard is {std.status}; it takes no new versions", code="withdrawn")
    checked = check_content(
        body.content, await vocabularies(session, {body.content.category}), "content."
    )
    if checked.hash == await current_hash(session, std):
        raise Conflict("the content is the same as the current version", code="no_change")
    if await _duplicate(session, std.uscc, checked.standard_no_key, std.id):
        raise Conflict(
            f"{std.uscc} has already declared {checked.standard_no}", code="duplicate_standard_no"
        )
    n = std.current_version + 1
    session.add(_version(std.id, n, body.kind, checked, principal, body.note))
    apply_content(std, checked, enterprise)
    std.current_version = n
    std.row_version += 1
    std.updated_at = datetime.now(UTC)
    await session.flush()
    await _announce(session, principal, std, "standard.versioned", body.kind, {"version": n})
    return std


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    standard_id: uuid.UUID,
    reason: str,
    precondition: Precondition,
) -> Standard:
    std, _ = await get_for_write(session, principal, standard_id)
    precondition.check(std.row_version)
    if std.status != "current":
        raise Conflict(f"the standard is already {std.status}", code="withdrawn")
    now = datetime.now(UTC)
    std.status = "abolished"
    std.withdrawn_reason = reason
    std.withdrawn_at = now
    std.row_version += 1
    std.updated_at = now
    await session.flush()
    await _announce(session, principal, std, "standard.withdrawn", "withdraw", {"reason": reason})
    return std


async def reindex_enterprise(session: AsyncSession, enterprise: Enterprise) -> None:
    """Re-derive the search text and region of an enterprise's standards after it changed."""
    rows = (
        await session.execute(
            select(Standard, StandardVersion.content)
            .join(
                StandardVersion,
                and_(
                    StandardVersion.standard_id == Standard.id,
                    StandardVersion.n == Standard.current_version,
                ),
            )
            .where(Standard.uscc == enterprise.uscc)
        )
    ).all()
    for std, content in rows:
        parsed = StandardContent.model_validate(content)
        checked = Checked(
            parsed, std.standard_no, std.standard_no_key, std.standard_type, content_hash(parsed)
        )
        std.search_text, std.grams = searchable(checked, enterprise.name)
        std.region = enterprise.region


async def get_view(
    session: AsyncSession, standard_id: uuid.UUID, principal: Principal | None
) -> tuple[Standard, StandardOut]:
    row = (
        await session.execute(
            select(Standard, StandardVersion.content, Enterprise.name)
            .join(
                StandardVersion,
                and_(
                    StandardVersion.standard_id == Standard.id,
                    StandardVersion.n == Standard.current_version,
                ),
            )
            .join(Enterprise, Enterprise.uscc == Standard.uscc)
            .where(Standard.id == standard_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no standard {standard_id}")
    std, content, enterprise_name = row
    policy.authorise_standard_read(principal, std.uscc, std.hidden)
    return std, StandardOut(
        **summary(std).model_dump(),
        enterprise_name=enterprise_name,
        withdrawn_reason=std.withdrawn_reason,
        withdrawn_at=std.withdrawn_at,
        created_at=std.created_at,
        content=StandardContent.model_validate(content),
    )


def summary(std: Standard) -> StandardSummary:
    return StandardSummary(
        id=std.id,
        uscc=std.uscc,
        standard_no=std.standard_no,
        standard_type=std.standard_type,
        name=std.name,
        category=std.category_code,
        region=std.region,
        status=std.status,
        publication_date=std.publication_date,
        implementation_date=std.implementation_date,
        current_version=std.current_version,
        updated_at=std.updated_at,
    )


def _prefix_range(prefix: str) -> tuple[str, str]:
    """``region LIKE 'p%'`` as a range, which a plain btree serves under any collation."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def filtered(stmt: S, f: SearchFilters, principal: Principal | None) -> S:
    """Apply the public search filters (shared by search and export)."""
    stmt = stmt.where(policy.visible_standards(principal, Standard))
    if f.category:
        stmt = stmt.where(Standard.category_code == f.category)
    if f.region:
        low, high = _prefix_range(f.region)
        stmt = stmt.where(Standard.region >= low, Standard.region < high)
    if f.status:
        stmt = stmt.where(Standard.status == f.status)
    if f.uscc:
        stmt = stmt.where(Standard.uscc == f.uscc.strip().upper())
    if f.published_from:
        stmt = stmt.where(Standard.publication_date >= f.published_from)
    if f.published_to:
        stmt = stmt.where(Standard.publication_date <= f.published_to)
    match = text_match(f.q, Standard)
    if match is not None:
        stmt = stmt.where(match)
    return stmt


def text_match(q: str | None, table: Any) -> ColumnElement[bool] | None:
    """``q`` as a condition on ``table`` (Standard or an alias of it), or None for no ``q``."""
    matches = []
    for variant in rules.query_variants(q or ""):
        grams = rules.query_grams(variant)
        fragment = rules.search_fragment(variant)
        if grams and fragment:
            # The GIN index narrows by grams; the substring check removes false positives.
            matches.append(
                and_(
                    table.grams.contains(grams),
                    table.search_text.contains(fragment, autoescape=True),
                )
            )
    return or_(*matches) if matches else None


# How many rows, in id order, a text search first looks through before asking the GIN index.
PROBE_ROWS = 2000


async def search(
    session: AsyncSession,
    f: SearchFilters,
    principal: Principal | None,
    cursor: str | None,
    limit: int,
) -> Page[StandardSummary]:
    """One page of the search, in id order.

    A common word (电饭锅 in a million disclosures) matches tens of thousands of rows, and the
    planner, taking its bigrams as independent, expects few: it collects every match through
    the GIN index and sorts them all for one page. So a text search first walks the next
    PROBE_ROWS rows in id order and keeps those that match; if that fills the page, the page
    is exactly what the full query would return (same order, same start). Only a rarer word
    goes on to the GIN index, which is what it is good at. A standard number (a query with a
    number spelling as well) is rare by nature and goes to the index at once.
    """
    match = text_match(f.q, Standard)
    if match is not None and len(rules.query_variants(f.q or "")) == 1:
        unfiltered = dataclasses.replace(f, q=None)
        window = keyset(
            filtered(select(Standard), unfiltered, principal), [Standard.id], cursor, PROBE_ROWS
        ).subquery()
        near = aliased(Standard, window)
        near_match = text_match(f.q, near)
        assert near_match is not None
        probe = select(near).where(near_match).order_by(near.id).limit(limit + 1)
        rows = (await session.execute(probe)).scalars().all()
        if len(rows) > limit:
            items, nxt = next_cursor(rows, limit, lambda s: [s.id])
            return Page(items=[summary(s) for s in items], next_cursor=nxt)
    return await paginate(
        session,
        filtered(select(Standard), f, principal),
        [Standard.id],
        cursor,
        limit,
        item=summary,
    )


async def _visible(
    session: AsyncSession, standard_id: uuid.UUID, principal: Principal | None
) -> None:
    row = (
        await session.execute(
            select(Standard.hidden, Standard.uscc).where(Standard.id == standard_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no standard {standard_id}")
    policy.authorise_standard_read(principal, row.uscc, row.hidden)


async def versions(
    session: AsyncSession,
    standard_id: uuid.UUID,
    principal: Principal | None,
    cursor: str | None,
    limit: int,
) -> Page[VersionSummary]:
    await _visible(session, standard_id, principal)
    return await paginate(
        session,
        select(StandardVersion).where(StandardVersion.standard_id == standard_id),
        [StandardVersion.n],
        cursor,
        limit,
        item=lambda v: VersionSummary.model_validate(v, from_attributes=True),
    )


async def version(
    session: AsyncSession, standard_id: uuid.UUID, n: int, principal: Principal | None
) -> StandardVersion:
    await _visible(session, standard_id, principal)
    found = await session.get(StandardVersion, (standard_id, n))
    if found is None:
        raise NotFound(f"standard {standard_id} has no version {n}")
    return found
