"""Bulk sync from the national platform (全国企业标准信息公共服务平台): idempotent upserts.

Items are applied in input order, with the same outcome as if each had been sent alone one
after another: a later item with the same ``source_id`` sees what the earlier one wrote (so the
later one wins, making a new version when its content differs). Each item is checked in full
before anything of it is written, so a rejected item leaves nothing behind and does not stop
the others. The work is set-based per chunk of items: a few SELECTs for what is stored, then
one statement per kind of write. When an item depends on an earlier item of the same chunk
(same source id, a changed enterprise, a standard number just given up), the chunk is cut
there and the rest starts a new one, which keeps the in-order outcome without a per-row loop.

What an item does: a new source id creates the standard (version 1, and the enterprise when
it is new); changed content makes a version of kind correction by the sync principal; a change
to abolished or superseded withdraws it with the reason. A withdrawn standard takes no further
change (as in the standards service): the same content and status again is ``unchanged``,
anything else is rejected with ``withdrawn``. An enterprise whose name, region, industry code or
address differs is updated (a null industry code or address keeps the stored one); a new name
or region re-indexes its standards. The item's result is ``updated`` when anything of it was
written, ``unchanged`` when nothing was: no version, no change event, no audit row.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import String, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.context import current_request_id
from services.kit.problems import FieldError, PayloadTooLarge, ValidationFailed
from services.kit.streams import Malformed
from services.registry import policy, rules
from services.registry.changes import repository as changes
from services.registry.enterprises.service import validated_region, validated_uscc
from services.registry.models import (
    CategoryIndicator,
    Enterprise,
    Standard,
    StandardVersion,
    kit_tables,
)
from services.registry.standards.service import (
    Checked,
    check_content,
    content_json,
    reindex_enterprise,
    searchable,
    vocabularies,
)
from services.registry.sync.schemas import (
    SyncEnterprise,
    SyncItem,
    SyncItemResult,
    SyncReport,
    SyncTotals,
)

CHUNK_ITEMS = 1_000
MAX_ITEMS = 50_000
# Sync batches run one at a time: two batches racing on the same new source id would
# otherwise fail each other on the unique constraint instead of one seeing the other's row.
SYNC_LOCK_KEY = 0x5359_4E43
STANDARD_NO_WIDTH = cast(String, Standard.__table__.c.standard_no.type).length or 100


# --------------------------------------------------------------------------------------------
# Applying the items
# --------------------------------------------------------------------------------------------


@dataclass
class _Item:
    """One item of the batch as decoded; ``item`` is None when it was already rejected."""

    index: int
    source_id: str | None
    item: SyncItem | None = None
    code: str | None = None
    errors: list[FieldError] = field(default_factory=list)


@dataclass(frozen=True)
class _Valid:
    """An item whose rules all passed (only the stored state can still refuse it)."""

    uscc: str
    region: str
    checked: Checked


@dataclass(frozen=True)
class _Firm:
    uscc: str
    name: str
    region: str
    industry_code: str | None
    address: str | None
    blocked: bool
    uscc_exception: str | None
    row_version: int


@dataclass(frozen=True)
class _Stored:
    """A standard already stored under a source id, with its current content hash."""

    id: uuid.UUID
    uscc: str
    status: str
    current_version: int
    row_version: int
    standard_no_key: str
    content_hash: str


FirmState = tuple[str, str, str | None, str | None]  # name, region, industry_code, address
# The code (None if refused), the region, and the codes and errors of what was wrong.
_FirmCheck = tuple[str | None, str, tuple[str, ...], tuple[FieldError, ...]]


@dataclass
class _Chunk:
    """What one chunk will write, and what its items have already claimed."""

    now: datetime
    sources: set[str] = field(default_factory=set)
    firm_state: dict[str, FirmState] = field(default_factory=dict)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    released: set[tuple[str, str]] = field(default_factory=set)
    new_enterprises: list[dict[str, Any]] = field(default_factory=list)
    enterprise_updates: list[dict[str, Any]] = field(default_factory=list)
    new_standards: list[dict[str, Any]] = field(default_factory=list)
    standard_updates: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    firm_changes: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    reindex: set[str] = field(default_factory=set)


def _field_errors(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(field=".".join(str(p) for p in err["loc"]) or "body", message=err["msg"])
        for err in exc.errors()
    ]


def _unstorable(text: str) -> bool:
    """NUL (PostgreSQL text cannot hold it) or a lone surrogate (UTF-8 cannot)."""
    return "\x00" in text or not _utf8(text)


def _nul_at(value: Any, path: str = "") -> str | None:
    """Where a string holds text the database cannot store (see _unstorable)."""
    if isinstance(value, str):
        return path if _unstorable(value) else None
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, child in items:
        if isinstance(key, str) and _unstorable(key):
            return path or "body"
        if (found := _nul_at(child, f"{path}.{key}" if path else str(key))) is not None:
            return found
    return None


def _utf8(text: str) -> bool:
    """Whether text can be sent back (JSON may carry lone surrogates that UTF-8 cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _decode(index: int, raw: Any) -> _Item:
    if isinstance(raw, Malformed):
        return _Item(
            index,
            None,
            code="malformed_json",
            errors=[FieldError(field="body", message=raw.message)],
        )
    if not isinstance(raw, dict):
        return _Item(
            index,
            None,
            code="validation_failed",
            errors=[FieldError(field="body", message="an item is a JSON object")],
        )
    source_id = raw.get("source_id")
    source_id = source_id if isinstance(source_id, str) and _utf8(source_id) else None
    # Refused here, item by item: in the set-based write it would fail the whole batch.
    if (where := _nul_at(raw)) is not None:
        return _Item(
            index,
            source_id,
            code="validation_failed",
            errors=[
                FieldError(
                    field=where,
                    message="text may not contain NUL characters or unpaired surrogates",
                )
            ],
        )
    try:
        item = SyncItem.model_validate(raw)
    except ValidationError as exc:
        return _Item(index, source_id, code="validation_failed", errors=_field_errors(exc))
    return _Item(index, item.source_id, item=item)


def _uscc_key(raw: str) -> str:
    """The form a stored enterprise would have: canonical if valid, else as a regulator kept it."""
    try:
        return rules.validate_uscc(raw)
    except rules.RuleError:
        return raw.strip().upper()


def _version_row(
    standard_id: uuid.UUID, n: int, kind: str, checked: Checked, principal: Principal, now: datetime
) -> dict[str, Any]:
    return {
        "standard_id": standard_id,
        "n": n,
        "kind": kind,
        "content": content_json(checked.content),
        "content_hash": checked.hash,
        "note": None,
        "author_sub": principal.sub,
        "author_role": str(principal.role),
        "created_at": now,
    }


def content_columns(checked: Checked, enterprise_name: str, region: str) -> dict[str, Any]:
    """The standard row's columns derived from its content: what ``apply_content`` sets on an
    ORM object, as a dict for a set-based write (a test keeps the two the same)."""
    content = checked.content
    search_text, grams = searchable(checked, enterprise_name)
    return {
        "standard_no": checked.standard_no,
        "standard_no_key": checked.standard_no_key,
        "standard_type": checked.standard_type,
        "name": content.name,
        "category_code": content.category,
        "region": region,
        "publication_date": content.publication_date,
        "implementation_date": content.implementation_date,
        "search_text": search_text,
        "grams": grams,
    }


class _Run:
    """One sync request: the vocabularies it has loaded, and the results so far."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.vocab: dict[str, dict[str, CategoryIndicator]] = {}
        self.looked_up: set[str] = set()
        # Enterprises recur across a batch, and their code checks are the costly part.
        self.keys: dict[str, str] = {}
        self.firm_checks: dict[tuple[str, str, str | None], _FirmCheck] = {}
        self.results: list[SyncItemResult] = []
        self.totals = SyncTotals()

    # ---- results ----------------------------------------------------------------------------

    def _result(self, result: SyncItemResult) -> None:
        self.results.append(result)
        self.totals.received += 1
        setattr(self.totals, result.result, getattr(self.totals, result.result) + 1)

    def _rejected(self, it: _Item, code: str, errors: list[FieldError]) -> SyncItemResult:
        return SyncItemResult(
            index=it.index, source_id=it.source_id, result="rejected", errors=errors, code=code
        )

    def report(self) -> SyncReport:
        return SyncReport(items=self.results, totals=self.totals)

    # ---- look-ups, one statement each per chunk ---------------------------------------------

    async def _firms(self, usccs: set[str]) -> dict[str, _Firm]:
        if not usccs:
            return {}
        rows = await self.session.execute(
            select(
                Enterprise.uscc,
                Enterprise.name,
                Enterprise.region,
                Enterprise.industry_code,
                Enterprise.address,
                Enterprise.blocked,
                Enterprise.uscc_exception,
                Enterprise.row_version,
            )
            .where(Enterprise.uscc.in_(usccs))
            .with_for_update()
        )
        return {row.uscc: _Firm(*row) for row in rows}

    async def _stored(self, source_ids: set[str]) -> dict[str, _Stored]:
        if not source_ids:
            return {}
        rows = await self.session.execute(
            select(
                Standard.source_id,
                Standard.id,
                Standard.uscc,
                Standard.status,
                Standard.current_version,
                Standard.row_version,
                Standard.standard_no_key,
                StandardVersion.content_hash,
            )
            .join(
                StandardVersion,
                and_(
                    StandardVersion.standard_id == Standard.id,
                    StandardVersion.n == Standard.current_version,
                ),
            )
            .where(Standard.source_id.in_(source_ids))
            .with_for_update(of=Standard)
        )
        return {row.source_id: _Stored(*row[1:]) for row in rows if row.source_id}

    async def _owners_of(self, source_ids: set[str]) -> set[str]:
        """The enterprises of the standards stored under these source ids."""
        if not source_ids:
            return set()
        rows = await self.session.execute(
            select(Standard.uscc).where(Standard.source_id.in_(source_ids)).distinct()
        )
        return set(rows.scalars())

    async def _holders(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], uuid.UUID]:
        """Which stored standard holds each (enterprise, standard number key)."""
        if not keys:
            return {}
        usccs, numbers = zip(*keys, strict=True)
        # A join to two unnested arrays: planned once, unlike an IN list of a thousand pairs.
        wanted = (
            func.unnest(
                bindparam("usccs", list(usccs), type_=ARRAY(String)),
                bindparam("numbers", list(numbers), type_=ARRAY(String)),
            )
            .table_valued("uscc", "key")
            .render_derived(name="wanted")
        )
        rows = await self.session.execute(
            select(Standard.uscc, Standard.standard_no_key, Standard.id).join(
                wanted,
                and_(Standard.uscc == wanted.c.uscc, Standard.standard_no_key == wanted.c.key),
            )
        )
        return {(row.uscc, row.standard_no_key): row.id for row in rows}

    async def _load_vocab(self, categories: set[str]) -> None:
        wanted = categories - self.looked_up
        if wanted:
            self.vocab.update(await vocabularies(self.session, wanted))
            self.looked_up |= wanted

    # ---- the rules --------------------------------------------------------------------------

    def _key(self, raw: str) -> str:
        if (key := self.keys.get(raw)) is None:
            key = self.keys[raw] = _uscc_key(raw)
        return key

    def _check_enterprise(self, e: SyncEnterprise, firms: dict[str, _Firm]) -> _FirmCheck:
        """The enterprise's code and region, checked (once per distinct value in the batch)."""
        firm = firms.get(self._key(e.uscc))
        exception = firm.uscc_exception if firm else None
        memo = (e.uscc, e.region, exception)
        if (known := self.firm_checks.get(memo)) is not None:
            return known
        codes: list[str] = []
        errors: list[FieldError] = []
        uscc: str | None = None
        region = ""
        try:
            # An irregular code a regulator accepted with an audited exception stays accepted.
            uscc = self._key(e.uscc) if exception else validated_uscc(e.uscc, None, None)
            region = validated_region(uscc, e.region, exception)
        except ValidationFailed as exc:
            codes.append(exc.code)
            errors.extend(
                FieldError(field="enterprise." + f.field, message=f.message)
                for f in exc.errors or []
            )
        self.firm_checks[memo] = result = (uscc, region, tuple(codes), tuple(errors))
        return result

    def _validate(self, it: _Item, firms: dict[str, _Firm]) -> _Valid | None:
        """Every rule of the item, all errors collected; None (and the item rejected) if any."""
        assert it.item is not None
        uscc, region, firm_codes, firm_errors = self._check_enterprise(it.item.enterprise, firms)
        codes, errors = list(firm_codes), list(firm_errors)
        checked: Checked | None = None
        try:
            checked = check_content(it.item.standard, self.vocab, "standard.")
        except ValidationFailed as exc:
            codes.append(exc.code)
            errors.extend(exc.errors or [])
        if checked is not None and len(checked.standard_no) > STANDARD_NO_WIDTH:
            # Normalising can lengthen a number ("GBT1" -> "GB/T 1") past its column.
            codes.append("invalid_standard_no")
            errors.append(
                FieldError(field="standard.standard_no", message="too long once normalised")
            )
        if errors or uscc is None or checked is None:
            it.code = codes[0] if len(set(codes)) == 1 else "validation_failed"
            it.errors = errors
            it.item = None
            return None
        return _Valid(uscc, region, checked)

    # ---- one chunk --------------------------------------------------------------------------

    async def apply(self, items: list[_Item]) -> None:
        while items:
            items = await self._apply_prefix(items)

    async def _apply_prefix(self, items: list[_Item]) -> list[_Item]:
        """Apply items up to the first that depends on an earlier one; return the rest."""
        candidates = [it for it in items if it.item is not None]
        decoded = [it.item for it in candidates if it.item is not None]
        sources = {item.source_id for item in decoded}
        # Locks in the registry's order, enterprise before standard: the enterprises of the
        # items and of the standards already stored under their source ids (the same ones,
        # unless an item names another enterprise), then those standards.
        owners = await self._owners_of(sources)
        firms = await self._firms({self._key(item.enterprise.uscc) for item in decoded} | owners)
        stored = await self._stored(sources)
        await self._load_vocab({item.standard.category for item in decoded})
        valid = {it.index: v for it in candidates if (v := self._validate(it, firms)) is not None}
        holders = await self._holders({(v.uscc, v.checked.standard_no_key) for v in valid.values()})
        chunk = _Chunk(now=datetime.now(UTC))
        rest: list[_Item] = []
        for position, it in enumerate(items):
            if it.item is None:
                self._result(self._rejected(it, it.code or "validation_failed", it.errors))
                continue
            v = valid[it.index]
            result = self._decide(
                chunk, it, v, firms.get(v.uscc), stored.get(it.item.source_id), holders
            )
            if result is None:
                assert position > 0, "the first item of a chunk depends on nothing before it"
                rest = items[position:]
                break
            self._result(result)
        await self._write(chunk)
        return rest

    def _decide(
        self,
        chunk: _Chunk,
        it: _Item,
        v: _Valid,
        firm: _Firm | None,
        old: _Stored | None,
        holders: dict[tuple[str, str], uuid.UUID],
    ) -> SyncItemResult | None:
        """Plan the writes of one item; None when it must wait for a fresh chunk."""
        item = it.item
        assert item is not None
        key = (v.uscc, v.checked.standard_no_key)
        e = item.enterprise
        state = chunk.firm_state.get(v.uscc)
        changed_in_chunk = state is not None
        if state is None and firm is not None:
            state = (firm.name, firm.region, firm.industry_code, firm.address)
        target: FirmState = (
            e.name,
            v.region,
            e.industry_code if e.industry_code is not None else (state[2] if state else None),
            e.address if e.address is not None else (state[3] if state else None),
        )
        if (
            item.source_id in chunk.sources
            or key in chunk.released
            or (changed_in_chunk and target != state)
        ):
            return None

        # Everything that can still refuse the item, before anything of it is planned.
        if old is not None and old.uscc != v.uscc:
            return self._rejected(
                it,
                "uscc_mismatch",
                [
                    FieldError(
                        field="enterprise.uscc",
                        message=f"source id {item.source_id} is a standard of {old.uscc}; "
                        "a standard does not move to another enterprise",
                    )
                ],
            )
        holder = holders.get(key)
        if key in chunk.claimed or (holder is not None and (old is None or holder != old.id)):
            return self._rejected(
                it,
                "duplicate_standard_no",
                [
                    FieldError(
                        field="standard.standard_no",
                        message=f"{v.uscc} has already declared {v.checked.standard_no} "
                        "under another source id",
                    )
                ],
            )
        content_changed = old is not None and old.content_hash != v.checked.hash
        status_changed = old is not None and old.status != item.status
        if old is not None and old.status != "current" and (content_changed or status_changed):
            return self._rejected(
                it,
                "withdrawn",
                [FieldError(field="status", message=f"the standard is {old.status}; it stays so")],
            )

        firm_written = self._plan_enterprise(chunk, v, firm, state, target, item.source_id)
        blocked = firm.blocked if firm is not None else False
        chunk.sources.add(item.source_id)
        chunk.claimed.add(key)
        if old is None:
            return self._plan_create(chunk, it, v, target, blocked)
        if content_changed and old.standard_no_key != v.checked.standard_no_key:
            chunk.released.add((v.uscc, old.standard_no_key))
        if content_changed or status_changed:
            return self._plan_update(chunk, it, v, target, old, content_changed, status_changed)
        return SyncItemResult(
            index=it.index,
            source_id=item.source_id,
            result="updated" if firm_written else "unchanged",
            standard_id=old.id,
            version=old.current_version,
        )

    def _audit(
        self, chunk: _Chunk, action: str, entity: str, entity_id: str, detail: dict[str, Any]
    ) -> None:
        chunk.audits.append(
            {
                "sub": self.principal.sub,
                "role": str(self.principal.role),
                "org": self.principal.org,
                "action": action,
                "entity": entity,
                "entity_id": entity_id,
                "request_id": current_request_id(),
                "detail": detail,
            }
        )

    def _event(
        self,
        chunk: _Chunk,
        kind: str,
        uscc: str,
        standard_id: uuid.UUID | None = None,
        version: int | None = None,
        category: str | None = None,
    ) -> None:
        # Enterprise events of a chunk go before its standards' events: the chunk's standards
        # were derived from each enterprise as it is after its one change in the chunk.
        events = chunk.changes if standard_id is not None else chunk.firm_changes
        events.append(
            {
                "kind": kind,
                "uscc": uscc,
                "standard_id": standard_id,
                "version": version,
                "category_code": category,
            }
        )

    def _plan_enterprise(
        self,
        chunk: _Chunk,
        v: _Valid,
        firm: _Firm | None,
        state: FirmState | None,
        target: FirmState,
        source_id: str,
    ) -> bool:
        """Create or update the enterprise when it differs; True if anything is written."""
        if state == target:
            return False
        chunk.firm_state[v.uscc] = target
        name, region, industry_code, address = target
        detail = {"source_id": source_id, "via": "sync"}
        if firm is None:
            chunk.new_enterprises.append(
                {
                    "uscc": v.uscc,
                    "name": name,
                    "region": region,
                    "industry_code": industry_code,
                    "address": address,
                    "verification": "unverified",
                    "blocked": False,
                    "row_version": 1,
                    "created_at": chunk.now,
                    "updated_at": chunk.now,
                }
            )
            self._event(chunk, "enterprise.created", v.uscc)
            self._audit(chunk, "create", "enterprise", v.uscc, detail)
            return True
        assert state is not None
        chunk.enterprise_updates.append(
            {
                "uscc": v.uscc,
                "name": name,
                "region": region,
                "industry_code": industry_code,
                "address": address,
                "row_version": firm.row_version + 1,
                "updated_at": chunk.now,
            }
        )
        if (name, region) != state[:2]:
            # Search text and region filters of its standards follow the enterprise.
            chunk.reindex.add(v.uscc)
        self._event(chunk, "enterprise.updated", v.uscc)
        self._audit(chunk, "update", "enterprise", v.uscc, detail)
        return True

    def _plan_create(
        self, chunk: _Chunk, it: _Item, v: _Valid, target: FirmState, blocked: bool
    ) -> SyncItemResult:
        item = it.item
        assert item is not None
        standard_id = uuid.uuid4()
        withdrawn = item.status != "current"
        chunk.new_standards.append(
            {
                "id": standard_id,
                "uscc": v.uscc,
                "source_id": item.source_id,
                **content_columns(v.checked, target[0], target[1]),
                "status": item.status,
                "current_version": 1,
                "row_version": 1,
                "withdrawn_reason": item.withdrawn_reason,
                "withdrawn_at": chunk.now if withdrawn else None,
                "hidden": policy.hidden_for(blocked),
                "created_at": chunk.now,
                "updated_at": chunk.now,
            }
        )
        chunk.versions.append(
            _version_row(standard_id, 1, "initial", v.checked, self.principal, chunk.now)
        )
        category = item.standard.category
        self._event(chunk, "standard.created", v.uscc, standard_id, 1, category)
        detail: dict[str, Any] = {"source_id": item.source_id, "via": "sync"}
        self._audit(chunk, "create", "standard", str(standard_id), detail)
        if withdrawn:
            self._event(chunk, "standard.withdrawn", v.uscc, standard_id, 1, category)
            self._audit(
                chunk,
                "withdraw",
                "standard",
                str(standard_id),
                {**detail, "reason": item.withdrawn_reason},
            )
        return SyncItemResult(
            index=it.index,
            source_id=item.source_id,
            result="created",
            standard_id=standard_id,
            version=1,
        )

    def _plan_update(
        self,
        chunk: _Chunk,
        it: _Item,
        v: _Valid,
        target: FirmState,
        old: _Stored,
        content_changed: bool,
        status_changed: bool,
    ) -> SyncItemResult:
        item = it.item
        assert item is not None
        n = old.current_version + 1 if content_changed else old.current_version
        withdrawn = item.status != "current"
        chunk.standard_updates.append(
            {
                "id": old.id,
                **content_columns(v.checked, target[0], target[1]),
                "status": item.status,
                "current_version": n,
                "row_version": old.row_version + 1,
                "withdrawn_reason": item.withdrawn_reason,
                "withdrawn_at": chunk.now if withdrawn else None,
                "updated_at": chunk.now,
            }
        )
        category = item.standard.category
        detail: dict[str, Any] = {"source_id": item.source_id, "via": "sync"}
        if content_changed:
            chunk.versions.append(
                _version_row(old.id, n, "correction", v.checked, self.principal, chunk.now)
            )
            self._event(chunk, "standard.versioned", v.uscc, old.id, n, category)
            self._audit(chunk, "correction", "standard", str(old.id), {**detail, "version": n})
        if status_changed:
            self._event(chunk, "standard.withdrawn", v.uscc, old.id, n, category)
            self._audit(
                chunk,
                "withdraw",
                "standard",
                str(old.id),
                {**detail, "reason": item.withdrawn_reason, "status": item.status},
            )
        return SyncItemResult(
            index=it.index,
            source_id=item.source_id,
            result="updated",
            standard_id=old.id,
            version=n,
        )

    # ---- writing ----------------------------------------------------------------------------

    async def _write(self, chunk: _Chunk) -> None:
        """One statement per kind of write; parents before children for the foreign keys."""
        s = self.session
        # NULLs are sent as such, so that every row has the same columns and a whole list
        # goes in one batch (by default the ORM leaves None out and splits the list there).
        same_columns = {"render_nulls": True}
        if chunk.new_enterprises:
            # An enterprise may register itself between our look-up and this insert: then its
            # own record stands, our standards attach to it, and we announce no creation.
            inserted = set(
                (
                    await s.execute(
                        pg_insert(Enterprise)
                        .on_conflict_do_nothing(index_elements=[Enterprise.uscc])
                        .returning(Enterprise.uscc),
                        chunk.new_enterprises,
                        execution_options=same_columns,
                    )
                ).scalars()
            )
            raced = {e["uscc"] for e in chunk.new_enterprises} - inserted
            if raced:
                chunk.firm_changes = [
                    c
                    for c in chunk.firm_changes
                    if not (c["kind"] == "enterprise.created" and c["uscc"] in raced)
                ]
                chunk.audits = [
                    a
                    for a in chunk.audits
                    if not (
                        a["entity"] == "enterprise"
                        and a["action"] == "create"
                        and a["entity_id"] in raced
                    )
                ]
        if chunk.enterprise_updates:
            await s.execute(update(Enterprise), chunk.enterprise_updates)
        if chunk.new_standards:
            await s.execute(insert(Standard), chunk.new_standards, execution_options=same_columns)
        if chunk.standard_updates:
            await s.execute(update(Standard), chunk.standard_updates)
        if chunk.versions:
            await s.execute(insert(StandardVersion), chunk.versions, execution_options=same_columns)
        await changes.record_many(s, chunk.firm_changes + chunk.changes)
        if chunk.audits:
            await s.execute(kit_tables.audit.insert(), chunk.audits)
        if chunk.reindex:
            await self._reindex(chunk.reindex)

    async def _reindex(self, usccs: Iterable[str]) -> None:
        enterprises = (
            await self.session.execute(select(Enterprise).where(Enterprise.uscc.in_(set(usccs))))
        ).scalars()
        for enterprise in enterprises:
            await reindex_enterprise(self.session, enterprise)
        await self.session.flush()
        # The rest of the request writes with set-based statements: drop the ORM objects so
        # none of them can be flushed later over what those statements wrote.
        self.session.expunge_all()


async def sync(
    session: AsyncSession, principal: Principal, items: AsyncIterator[Any]
) -> SyncReport:
    """Apply a batch of items in chunks as they are decoded; one result per item, in order."""
    await session.execute(select(func.pg_advisory_xact_lock(SYNC_LOCK_KEY)))
    run = _Run(session, principal)
    pending: list[_Item] = []
    count = 0
    async for raw in items:
        if count >= MAX_ITEMS:
            raise PayloadTooLarge(
                f"a sync batch may have at most {MAX_ITEMS} items; split it",
                code="too_many_items",
            )
        pending.append(_decode(count, raw))
        count += 1
        if len(pending) >= CHUNK_ITEMS:
            await run.apply(pending)
            pending = []
    await run.apply(pending)
    return run.report()
