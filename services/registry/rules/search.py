"""Search grams: the unigrams and bigrams of searchable text, so that Chinese substrings of
any length are found through a GIN index whatever the server's locale."""

from __future__ import annotations

import re

from services.registry.rules.base import RuleError, nfkc
from services.registry.rules.standard_numbers import (
    LOOSE_STANDARD_NO,
    fold_standard_chars,
    normalise_standard_no,
    standard_no_key,
)

#
# Documents store ``search_grams(name, product, standard_no, standard_no_key(standard_no), ...)``
# in a ``text[]`` column with a GIN index. A query ``q`` matches when, for some ``v`` in
# ``query_variants(q)``, ``grams @> query_grams(v)`` and then a substring re-check on the
# fields (grams only prove every bigram occurs somewhere, not that they are adjacent). This
# works for Chinese whatever the PostgreSQL locale or text-search configuration.


def _search_text(text: str) -> str:
    # str.split() splits on exactly the characters re's \s matches: runs become one space.
    return " ".join(nfkc(text).lower().split())


def search_text(*texts: str) -> str:
    """The normalised text a gram match is re-checked against (substring match)."""
    return "\n".join(t for t in (_search_text(raw) for raw in texts) if t)


def search_index(*texts: str) -> tuple[str, list[str]]:
    """``search_text(*texts)`` and ``search_grams(*texts)`` in one pass over the texts."""
    normalised = [t for t in map(_search_text, texts) if t]
    grams: set[str] = set()
    for text in set(normalised):
        grams.update(text)
        grams.update(map(str.__add__, text, text[1:]))
    grams.discard(" ")  # the only whitespace-only gram of a normalised text
    return "\n".join(normalised), sorted(grams)


def search_fragment(q: str) -> str:
    """A query variant in the same normal form as :func:`search_text`."""
    return _search_text(q)


def search_grams(*texts: str) -> list[str]:
    """All unigrams and bigrams of each text (NFKC, lower-case, whitespace runs -> one space).

    Grams never span two texts; whitespace-only grams are dropped; the result is deduplicated
    and sorted so the same document always yields the same array.
    """
    grams: set[str] = set()
    for raw in texts:
        text = _search_text(raw)
        grams.update(text)
        grams.update(text[i : i + 2] for i in range(len(text) - 1))
    return sorted(g for g in grams if not g.isspace())


def query_grams(q: str) -> list[str]:
    """Grams a document must contain to possibly match ``q``.

    Empty query -> ``[]`` (the caller decides what an empty search means), one character ->
    ``[char]``, two or more -> its distinct bigrams, sorted.
    """
    text = _search_text(q)
    if len(text) <= 1:
        return [text] if text else []
    return sorted({text[i : i + 2] for i in range(len(text) - 1)})


def query_variants(q: str) -> list[str]:
    """The query, plus its space-free standard-number form when it looks like one.

    ``"GB/T 1906"`` -> ``["GB/T 1906", "GB/T1906"]``; ``"电饭锅"`` -> ``["电饭锅"]``. A
    document matches if it matches any variant. Complete numbers use :func:`standard_no_key`
    (so ``gb/t 1906.1—2015`` finds ``GB/T1906.1-2015``); partial ones (no number yet, no year)
    just have their characters folded and spaces removed.
    """
    query = q.strip()
    if not query:
        return []
    variants = [query]
    folded = fold_standard_chars(query).replace(" ", "")
    if LOOSE_STANDARD_NO.fullmatch(folded) and any(c.isdigit() for c in folded):
        try:
            key = standard_no_key(query)
        except RuleError:
            key = re.sub(r"^GB([TZ])(?=\d|$)", r"GB/\1", folded)
        if _search_text(key) != _search_text(query):
            variants.append(key)
    return variants


def standard_no_search_texts(raw: str) -> list[str]:
    """Texts to index for a standard number: canonical and space-free forms (or ``raw``)."""
    try:
        canonical = normalise_standard_no(raw)
    except RuleError:
        return [raw]
    return list(dict.fromkeys([canonical, canonical.replace(" ", "")]))
