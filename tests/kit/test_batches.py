"""Lookups asked at about the same time, read by one statement (kit.batches), and read
connections given back without the caller waiting (kit.db)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from services.kit.batches import Batches
from services.kit.reads import Reader
from tests.kit.conftest import make_kit_app


class Squares:
    """A read_many that records the keys of each statement; it answers the even ones."""

    def __init__(self, pause: float = 0, fail: bool = False) -> None:
        self.statements: list[list[int]] = []
        self.pause = pause
        self.fail = fail

    async def __call__(self, keys: Sequence[int]) -> Mapping[int, int]:
        self.statements.append(list(keys))
        await asyncio.sleep(self.pause)
        if self.fail:
            raise LookupError("the statement failed")
        return {k: k * k for k in keys if k % 2 == 0}


async def test_keys_asked_in_one_turn_go_in_one_statement_and_each_gets_its_own():
    batches, squares = Batches(), Squares()
    answers = await asyncio.gather(*(batches.load("sq", k, squares, -1) for k in [2, 3, 4, 2]))
    assert answers == [4, -1, 16, 4]  # 3 has no answer: it gets the missing value
    assert squares.statements == [[2, 3, 4]], "one statement, the equal keys read once"
    assert (batches.statements, batches.keys) == (1, 3)


async def test_shapes_are_read_apart_and_a_full_batch_opens_another():
    batches, squares, cubes = Batches(max_keys=2), Squares(), Squares()
    loads = [batches.load("sq", k, squares, -1) for k in range(5)]
    loads.append(batches.load("cube", 6, cubes, -1))
    assert await asyncio.gather(*loads) == [0, -1, 4, -1, 16, 36]
    assert squares.statements == [[0, 1], [2, 3], [4]]
    assert cubes.statements == [[6]]


async def test_keys_asked_while_a_statement_is_out_go_in_the_next():
    batches, squares = Batches(), Squares(pause=0.05)
    first = asyncio.gather(*(batches.load("sq", k, squares, -1) for k in (2, 4)))
    await asyncio.sleep(0.01)  # the first statement is out
    second = asyncio.gather(*(batches.load("sq", k, squares, -1) for k in (4, 6)))
    assert await first == [4, 16]
    assert await second == [16, 36]
    assert squares.statements == [[2, 4], [4, 6]]


async def test_a_caller_going_away_leaves_the_statement_to_the_others():
    batches, squares = Batches(), Squares(pause=0.05)
    leaving = asyncio.create_task(batches.load("sq", 2, squares, -1))
    staying = asyncio.create_task(batches.load("sq", 2, squares, -1))
    other = asyncio.create_task(batches.load("sq", 4, squares, -1))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying == 4
    assert await other == 16
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert squares.statements == [[2, 4]]


async def test_an_error_of_the_statement_is_every_callers_and_the_next_batch_is_fresh():
    batches, failing = Batches(), Squares(pause=0.01, fail=True)
    leaving = asyncio.create_task(batches.load("sq", 6, failing, -1))
    loads = [asyncio.create_task(batches.load("sq", k, failing, -1)) for k in (2, 4)]
    await asyncio.sleep(0)
    leaving.cancel()
    for load in loads:
        with pytest.raises(LookupError, match="the statement failed"):
            await load
    assert await batches.load("sq", 8, Squares(), -1) == 64


async def test_answers_that_cannot_be_handed_out_are_every_callers_error():
    async def not_a_mapping(keys: list[int]) -> Any:
        return [k * k for k in keys]

    batches = Batches()
    loads = [batches.load("sq", k, not_a_mapping, -1) for k in (2, 4)]
    for outcome in await asyncio.wait_for(asyncio.gather(*loads, return_exceptions=True), 5):
        assert isinstance(outcome, AttributeError)


async def test_reads_give_their_connection_back_without_the_caller_waiting(database_url):
    app = make_kit_app(database_url, db_read_pool_size=2)
    db = app.state.db
    reader = Reader(db)
    try:
        # Forty reads through two connections: each one is given back for the next.
        # (A connection not given back would starve the pool: bounded, that fails here.)
        reads = (reader.fetchrow("SELECT $1::int AS n", n) for n in range(40))
        rows = await asyncio.wait_for(asyncio.gather(*reads), 10)
        assert [r["n"] for r in rows] == list(range(40))
        # A failed read gives its connection back too, outside any transaction.
        for _ in range(3):
            with pytest.raises(DBAPIError):
                await reader.fetch("SELECT 1 / 0")
        one = await asyncio.wait_for(reader.fetchrow("SELECT 1 AS one"), 10)
        assert one["one"] == 1
        pool = db._read_pool
        for _ in range(100):
            if pool.get_idle_size() == pool.get_size():
                break
            await asyncio.sleep(0.01)
        assert pool.get_size() <= 2
        assert pool.get_idle_size() == pool.get_size(), "every connection is back"
        # One given back as its caller leaves is waited for when the app stops.
        async with db.reader():
            pass
        assert db._releasing
    finally:
        await db.dispose()
    assert not db._releasing
