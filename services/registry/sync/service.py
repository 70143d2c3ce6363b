"""Bulk sync from the national platform (全国企业标准信息公共服务平台): idempotent upserts.

Items are applied in input order, with the same outcome as if each had been sent alone one
after another: a later item with the same ``source_id`` sees what the earlier one wrote (so the
later one wins, making a new version when its content differs). Each item is checked in full
before anything of it is written, so a rejected item leaves nothing behind and does not stop
the others. The writes are the standards' one write path (``standards.planner`` and
``standards.writer``), as for a single declaration, with a chunk of items for a batch.

What an item does: a new source id creates the standard (version 1, and the enterprise when
it is new); changed content makes a version of kind correction by the sync principal; a change
to abolished or superseded withdraws it with the reason. A withdrawn standard takes no further
change (as in the standards service): the same content and status again is ``unchanged``,
anything else is rejected with ``withdrawn``. An enterprise whose name, region, industry code or
address differs is updated (a null industry code or address keeps the stored one); a new name
or region re-indexes its standards. The item's result is ``updated`` when anything of it was
written, ``unchanged`` when nothing was: no version, no change event, no audit row.

Transactions: the body is received in full first, with none open (``sync.body``). Then each
chunk of CHUNK_ITEMS is decoded and checked with none open, and applied in a short transaction
of its own; chunk k+1 is decoded and checked while chunk k is written, so the database and the
checks work at the same time. A database failure part way leaves the chunks before it applied
(the response is then an error); the batch is idempotent, so sending it again completes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.auth import Principal
from services.kit.problems import FieldError, ValidationFailed
from services.kit.streams import Malformed
from services.registry import rules
from services.registry.enterprises import repository as enterprises
from services.registry.enterprises.service import validated_region, validated_uscc
from services.registry.standards import planner, repository, writer
from services.registry.standards.content import (
    UNSTORABLE,
    Checked,
    Vocabulary,
    check_content,
    searchable,
    unstorable_at,
)
from services.registry.standards.plan import EnterpriseState, FirmTarget, Outcome, State, Upsert
from services.registry.sync import body
from services.registry.sync.schemas import (
    SyncEnterprise,
    SyncItem,
    SyncItemResult,
    SyncReport,
    SyncTotals,
)

CHUNK_ITEMS = 1_000
# Items decoded or checked between two turns of the event loop (the chunk being written).
YIELD_EVERY = 25
MAX_ITEMS = 50_000
# Chunks of sync batches run one at a time: two batches racing on the same new source id
# would otherwise fail each other on the unique constraint instead of one seeing the other's.
SYNC_LOCK_KEY = 0x5359_4E43


@dataclass
class _Item:
    """One item of the batch: decoded and content-checked, or rejected with its reasons."""

    index: int
    source_id: str | None
    item: SyncItem | None = None
    checked: Checked | None = None
    code: str | None = None
    errors: list[FieldError] = field(default_factory=list)


# The code (None if refused), the region, and the codes and errors of what was wrong.
_FirmCheck = tuple[str | None, str, tuple[str, ...], tuple[FieldError, ...]]


def _field_errors(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(field=".".join(str(p) for p in err["loc"]) or "body", message=err["msg"])
        for err in exc.errors()
    ]


def _utf8(text: str) -> bool:
    """Whether text can be sent back (JSON may carry lone surrogates that UTF-8 cannot)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 4,300-digit number
        return Malformed(f"malformed JSON: {exc}")
    except RecursionError:
        return Malformed("malformed JSON: nested too deeply")


def _decode_line(index: int, line: bytes) -> _Item:
    """An NDJSON line validated in one pass of pydantic-core, when that can be trusted.

    A ``\\u`` escape may hide a NUL or a lone surrogate (refused naming the field, which
    only the decoded walk can do), and a line that fails is decoded again the slow way, so
    that its errors read exactly as they always have.
    """
    if b"\\u" not in line:
        try:
            item = SyncItem.model_validate_json(line)
        except ValidationError:
            pass
        else:
            return _Item(index, item.source_id, item=item)
    return _decode(index, _loads(line))


def _decode(index: int, raw: Any) -> _Item:
    if isinstance(raw, bytes):
        return _decode_line(index, raw)
    if isinstance(raw, Malformed):
        return _Item(
            index,
            None,
            code="malformed_json",
            errors=[FieldError(field="body", message=raw.message)],
        )
    if not isinstance(raw, dict):
        message = "an item is a JSON object"
        return _Item(
            index,
            None,
            code="validation_failed",
            errors=[FieldError(field="body", message=message)],
        )
    source_id = raw.get("source_id")
    source_id = source_id if isinstance(source_id, str) and _utf8(source_id) else None
    # Refused here, item by item, naming the field: keys too (a message would echo them).
    if (where := unstorable_at(raw)) is not None:
        errors = [FieldError(field=where, message=UNSTORABLE)]
        return _Item(index, source_id, code="validation_failed", errors=errors)
    try:
        item = SyncItem.model_validate(raw)
    except ValidationError as exc:
        return _Item(index, source_id, code="validation_failed", errors=_field_errors(exc))
    return _Item(index, item.source_id, item=item)


def _reject(it: _Item, codes: list[str], errors: list[FieldError]) -> None:
    it.code = codes[0] if len(set(codes)) == 1 else "validation_failed"
    it.errors = errors
    it.item = None


def _uscc_key(raw: str) -> str:
    """The form a stored enterprise would have: canonical if valid, else as a regulator kept it."""
    try:
        return rules.validate_uscc(raw)
    except rules.RuleError:
        return raw.strip().upper()


class _Run:
    """One sync request: the vocabularies it has loaded, and the results so far."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], principal: Principal) -> None:
        self.sessions = sessions
        self.principal = principal
        self.vocab: Vocabulary = {}
        self.looked_up: set[str] = set()
        # Enterprises recur across a batch, and their code checks are the costly part.
        self.keys: dict[str, str] = {}
        self.firm_checks: dict[tuple[str, str, str | None], _FirmCheck] = {}
        self.results: list[SyncItemResult] = []
        self.totals = SyncTotals()

    def _result(self, result: SyncItemResult) -> None:
        self.results.append(result)
        self.totals.received += 1
        setattr(self.totals, result.result, getattr(self.totals, result.result) + 1)

    def _rejected(self, it: _Item) -> None:
        self._result(
            SyncItemResult(
                index=it.index,
                source_id=it.source_id,
                result="rejected",
                errors=it.errors,
                code=it.code or "validation_failed",
            )
        )

    def report(self) -> SyncReport:
        return SyncReport(items=self.results, totals=self.totals)

    def _key(self, raw: str) -> str:
        if (key := self.keys.get(raw)) is None:
            key = self.keys[raw] = _uscc_key(raw)
        return key

    # ---- checks with no transaction open --------------------------------------------------

    async def check(self, items: list[_Item]) -> None:
        """Every content rule of each decoded item, and its search index; the enterprise's
        code needs stored state. Runs while the chunk before is being written, so it gives
        way to that chunk's statements every few items."""
        wanted = {it.item.standard.category for it in items if it.item} - self.looked_up
        if wanted:
            async with self.sessions() as session:
                self.vocab.update(await repository.vocabularies(session, wanted))
            self.looked_up |= wanted
        for n, it in enumerate(items, 1):
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if it.item is None:
                continue
            try:
                it.checked = check_content(it.item.standard, self.vocab, "standard.")
            except ValidationFailed as exc:
                it.code, it.errors = exc.code, list(exc.errors or [])
                continue
            # What a new standard or version of the item would index (see content_columns).
            searchable(it.checked, it.item.enterprise.name)

    # ---- one chunk, in one short transaction ----------------------------------------------

    async def apply(self, items: list[_Item]) -> None:
        if not items:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(select(func.pg_advisory_xact_lock(SYNC_LOCK_KEY)))
            while items:
                items = await self._apply_prefix(session, items)

    async def _firms(self, session: AsyncSession, usccs: set[str]) -> dict[str, EnterpriseState]:
        return await enterprises.lock_states(session, usccs, for_update=True)

    async def _apply_prefix(self, session: AsyncSession, items: list[_Item]) -> list[_Item]:
        """Apply items up to the first that depends on an earlier one; return the rest."""
        live = [it.item for it in items if it.item is not None]
        sources = {item.source_id for item in live}
        # Locks in the registry's order, enterprise before standard: the enterprises of the
        # items and of the standards already stored under their source ids (the same ones,
        # unless an item names another enterprise), then those standards.
        owners = await repository.owners_of_sources(session, sources)
        firms = await self._firms(session, {self._key(i.enterprise.uscc) for i in live} | owners)
        stored = await repository.lock_by_source(session, sources)
        intents: dict[int, Upsert] = {}
        for it in items:
            if (intent := self._intent(it, firms)) is not None:
                intents[it.index] = intent
        keys = {(u.firm.uscc, u.checked.standard_no_key) for u in intents.values()}
        state = State(
            enterprises=firms, by_source=stored, holders=await repository.holders(session, keys)
        )
        plan = planner.plan(state, list(intents.values()), self.principal, datetime.now(UTC))
        outcomes = iter(plan.outcomes)
        planned = len(plan.outcomes)
        rest: list[_Item] = []
        for position, it in enumerate(items):
            intent = intents.get(it.index)
            if intent is None:
                self._rejected(it)
                continue
            if planned == 0:
                rest = items[position:]
                break
            planned -= 1
            self._report(it, next(outcomes))
        await writer.execute(session, plan, self.principal)
        return rest

    def _intent(self, it: _Item, firms: dict[str, EnterpriseState]) -> Upsert | None:
        """The item as an upsert, or None (and the item rejected) if any rule failed."""
        item, checked = it.item, it.checked
        if item is None:
            return None
        uscc, region, firm_codes, firm_errors = self._check_enterprise(item.enterprise, firms)
        codes, errors = list(firm_codes), list(firm_errors)
        if checked is None:
            codes.append(it.code or "validation_failed")
            errors.extend(it.errors)
        if errors or uscc is None or checked is None:
            _reject(it, codes, errors)
            return None
        e = item.enterprise
        firm = FirmTarget(uscc, e.name, region, e.industry_code, e.address)
        return Upsert(item.source_id, firm, checked, item.status, item.withdrawn_reason)

    def _check_enterprise(self, e: SyncEnterprise, firms: dict[str, EnterpriseState]) -> _FirmCheck:
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

    def _report(self, it: _Item, outcome: Outcome) -> None:
        if outcome.refusal is not None:
            r = outcome.refusal
            it.code, it.errors = r.code, [FieldError(field=r.field, message=r.message)]
            self._rejected(it)
            return
        assert outcome.result != "refused"
        self._result(
            SyncItemResult(
                index=it.index,
                source_id=it.source_id,
                result=outcome.result,
                standard_id=outcome.standard_id,
                version=outcome.version,
            )
        )


async def sync(
    sessions: async_sessionmaker[AsyncSession],
    principal: Principal,
    content_type: str | None,
    chunks: AsyncIterator[bytes],
) -> SyncReport:
    """Receive the batch, then apply it in chunks; one result per item, in order."""
    received = await body.receive(content_type, chunks, MAX_ITEMS)
    run = _Run(sessions, principal)
    writing: asyncio.Task[None] | None = None
    try:
        pending: list[_Item] = []
        index = 0
        async for raw in received.entries():
            pending.append(_decode(index, raw))
            index += 1
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if len(pending) >= CHUNK_ITEMS:
                await run.check(pending)
                if writing is not None:
                    await writing
                # The database applies this chunk while the next one is decoded and checked.
                writing = asyncio.create_task(run.apply(pending))
                pending = []
        await run.check(pending)
        if writing is not None:
            await writing
        await run.apply(pending)
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writing
        received.close()
    return run.report()
