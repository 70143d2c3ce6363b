"""Canonical serialisation and SHA-256 digests of the engine's inputs and outputs.

Digests are what makes a stored run checkable: equal digests mean byte-identical inputs or
outcomes on any machine. The framing below is versioned by its tags; changing it changes
every digest, so it goes with an ``ENGINE_VERSION`` bump.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .canonical import Canonical

__all__ = ["Hasher", "canonical_json", "float_hex", "input_digest_of"]


def float_hex(x: Any) -> str | None:
    """A float as ``float.hex`` (exact, one spelling per value); NaN becomes None."""
    f = float(x)
    return None if math.isnan(f) else (f + 0.0).hex()


def _f8(a: NDArray[Any]) -> NDArray[np.float64]:
    """Canonical float bytes: one NaN bit pattern, no negative zero, little-endian."""
    out: NDArray[np.float64] = np.add(a, 0.0, dtype="<f8")  # -0.0 + 0.0 is 0.0
    nan = np.isnan(out)
    if nan.any():
        out[nan] = np.nan
    return out


def canonical_json(obj: Any) -> bytes:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


_CHUNK = 1 << 16  # elements per hashed piece: large arrays stream instead of being copied


class Hasher:
    """SHA-256 over tagged, length-prefixed frames, so no two inputs share a byte stream.

    Arrays are hashed as their little-endian bytes, flattened in C order; ``rows`` gathers
    them through a row permutation and ``floats`` canonicalises NaN and -0.0, piece by
    piece, so a digest never materialises a second copy of a million-row array.
    """

    def __init__(self, tag: str) -> None:
        self._h = hashlib.sha256()
        self.frame("tag", tag.encode())

    def _header(self, name: str, nbytes: int) -> None:
        self._h.update(name.encode() + b"\0" + nbytes.to_bytes(8, "little"))

    def frame(
        self,
        name: str,
        payload: bytes | NDArray[Any],
        rows: NDArray[np.intp] | None = None,
        floats: bool = False,
    ) -> None:
        if not isinstance(payload, np.ndarray):
            self._header(name, len(payload))
            self._h.update(payload)
            return
        flat = payload if rows is not None else np.ascontiguousarray(payload).reshape(-1)
        count = flat.shape[0] if rows is None else rows.shape[0]
        per_row = flat.dtype.itemsize * (int(np.prod(flat.shape[1:])) if rows is not None else 1)
        self._header(name, count * per_row)
        for lo in range(0, count, _CHUNK):
            piece = flat[lo : lo + _CHUNK] if rows is None else flat[rows[lo : lo + _CHUNK]]
            piece = _f8(piece) if floats else np.ascontiguousarray(piece)
            self._h.update(piece.reshape(-1).view(np.uint8).data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def input_digest_of(canon: Canonical) -> str:
    """SHA-256 of the canonical inputs (see ``EngineResult.input_digest``)."""
    h = Hasher("forerunner.ranking.input/1")
    excluded = sorted((canon.id_of(r), why) for r, why in canon.pre_excluded.items())
    h.frame(
        "header",
        canonical_json(
            {
                "indicator_codes": list(canon.indicator_codes),
                "plans": [
                    [code, plan.canonical()]
                    for code, plan in zip(canon.category_codes, canon.plans, strict=True)
                ],
                "excluded": [list(e) for e in excluded],
            }
        ),
    )
    h.frame("standard_ids", canon.input_ids, rows=canon.order)
    h.frame("standard_numbers", canon.input_numbers, rows=canon.order)
    h.frame("category", canon.category.astype("<i8"))
    # Indicator-major ([m, n]) like the engine's own layout; cells a plan does not use are
    # blanked so that they can not change the digest.
    used = canon.applies.T[:, canon.category]
    missing = used & canon.missing_t
    h.frame("values", np.where(used & ~missing, canon.values_t, np.nan), floats=True)
    h.frame("missing", missing.astype(np.uint8))
    return h.hexdigest()
