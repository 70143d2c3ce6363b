"""The chain's hashing on its own: canonical bytes equal RFC 8785's, and verification finds
the first entry that does not hold."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from services.oversight.notices.chain import (
    GENESIS,
    NotCanonical,
    canonical,
    check_value,
    link,
    verify_entries,
)

keys = st.from_regex(r"^[a-z][a-z0-9_]{0,10}$", fullmatch=True)
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_canonical_bytes_are_rfc8785(value):
    check_value(value)
    assert canonical(value) == rfc8785.dumps(value)


def test_control_characters_and_chinese_as_rfc8785():
    value = {"b": '公示\u2028\x01\x1f"\\\n', "a": [1, None, True]}
    assert canonical(value) == rfc8785.dumps(value)
    assert canonical(value).startswith(b'{"a":[1,null,true],"b":"\xe5')


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"x": 1.5}, "integers"),
        ({"x": 2**53}, "within"),
        ({"Bad Key": 1}, "snake_case"),
        ({"x": "\ud800"}, "surrogate"),
        ({"x": {1, 2}}, "not a JSON value"),
    ],
)
def test_values_the_chain_cannot_hold_are_refused(value, message):
    with pytest.raises(NotCanonical, match=message):
        check_value(value)


def chain(n):
    prev, out = GENESIS, []
    for seq in range(1, n + 1):
        entry = canonical({"seq": seq, "id": f"n{seq}", "title": f"公告{seq}"}).decode()
        h = link(prev, entry.encode())
        out.append({"seq": seq, "id": f"n{seq}", "prev_hash": prev, "hash": h, "entry": entry})
        prev = h
    return out


def test_an_intact_chain_verifies():
    entries = chain(5)
    last, head, failure = verify_entries(entries, strict=True)
    assert (last, head, failure) == (5, entries[-1]["hash"], None)


def test_changed_entry_is_the_first_failure():
    entries = chain(5)
    entries[2]["entry"] = entries[2]["entry"].replace("公告3", "公告X")
    last, _, failure = verify_entries(entries)
    assert last == 2
    assert failure is not None
    assert failure.seq == 3
    assert "hash" in failure.reason


def test_removed_entry_is_found():
    entries = chain(5)
    del entries[1]
    _, _, failure = verify_entries(entries)
    assert failure is not None
    assert failure.seq == 2


def test_entry_rehashed_after_a_change_breaks_the_next_link():
    entries = chain(4)
    entries[1]["entry"] = entries[1]["entry"].replace("公告2", "公告Y")
    entries[1]["hash"] = link(entries[0]["hash"], entries[1]["entry"].encode())
    _, _, failure = verify_entries(entries)
    assert failure is not None
    assert failure.seq == 3


def test_strict_mode_refuses_non_canonical_text_with_a_matching_hash():
    entries = chain(2)
    loose = json.dumps(json.loads(entries[1]["entry"]), indent=1)
    entries[1]["entry"] = loose
    entries[1]["hash"] = link(entries[0]["hash"], loose.encode())
    assert verify_entries(entries)[2] is None
    failure = verify_entries(entries, strict=True)[2]
    assert failure is not None
    assert "canonical" in failure.reason
