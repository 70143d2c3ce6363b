"""Sorting inside categories: the segmented sort every ranking pass is built on.

Rows of one category are contiguous (canonical order), so "per category" means "per
segment". Helpers here know nothing of plans or indicators.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["LayoutCache", "SegmentLayout", "descending_key", "per_row", "segment_starts"]


def per_row(per_category: NDArray[Any], category: NDArray[Any]) -> Any:
    """Broadcast a per-category parameter to rows; a scalar when all categories agree
    (the common case), which saves a gather per use."""
    if per_category.size == 0 or (per_category == per_category[0]).all():
        return per_category.dtype.type(per_category[0] if per_category.size else 0)
    return per_category[category]


def descending_key(x: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Map finite floats (no -0.0) to uint64 keys whose ascending order is the floats'
    descending order. Integer keys sort faster than floats and compare exactly."""
    u = x.view(np.uint64)
    out: NDArray[np.uint64] = u ^ (((u >> np.uint64(63)) - np.uint64(1)) >> np.uint64(1))
    return out


def segment_starts(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """First position of each segment, given the segment sizes."""
    out = np.zeros(counts.size, np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


class SegmentLayout:
    """Sorts keys within contiguous segments (categories) as rows of padded 2-D blocks.

    numpy sorts many short rows about twice as fast as one long array (log of the segment
    size instead of log n), and no second pass by category is needed. Segments are grouped
    by padded length (powers of two and 1.5x powers of two, so padding stays under half);
    the loop runs once per length class, not per segment. The layout depends only on the
    segment sizes, so it is built once and reused for every indicator with the same sizes.
    """

    _PAD = np.iinfo(np.uint64).max  # never a real key: that bit pattern is a NaN

    def __init__(self, counts: NDArray[np.int64]) -> None:
        self.size = int(counts.sum())
        starts = segment_starts(counts)
        live = np.flatnonzero(counts > 0)
        live_counts = counts[live]
        exp = np.ceil(np.log2(np.maximum(live_counts, 4))).astype(np.int64)
        width = np.left_shift(1, exp)
        smaller = (width // 4) * 3  # 1.5 x the next power of two down
        width = np.where(live_counts <= smaller, smaller, width)
        # Per block width: (width, block row, block column, position) of each element.
        self.blocks: list[tuple[int, NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]] = []
        for w in np.unique(width).tolist():
            segs = live[width == w]
            cnt = counts[segs]
            row = np.repeat(np.arange(segs.size), cnt)
            col = np.arange(int(cnt.sum())) - np.repeat(segment_starts(cnt), cnt)
            dest = np.repeat(starts[segs], cnt) + col  # element positions, segment order
            self.blocks.append((int(w), row, col, dest))

    def order(self, keys: NDArray[np.uint64], stable: bool) -> NDArray[np.intp]:
        """Positions sorted by key inside each segment; ``stable`` keeps equal keys in
        position order."""
        out = np.empty(self.size, np.intp)
        for w, row, col, dest in self.blocks:
            pad = np.full((int(row[-1]) + 1, w), self._PAD, np.uint64)
            pad[row, col] = keys[dest]
            idx = np.argsort(pad, axis=1, kind="stable" if stable else None)
            out[dest] = (dest - col) + idx[row, col]
        return out


class LayoutCache:
    """Segment layouts by segment sizes, shared by the passes of one run."""

    def __init__(self) -> None:
        self._layouts: dict[bytes, SegmentLayout] = {}

    def get(self, counts: NDArray[np.int64]) -> SegmentLayout:
        key = counts.tobytes()
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = SegmentLayout(counts)
        return layout
