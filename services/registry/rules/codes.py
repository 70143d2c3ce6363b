"""Identifier codes: the unified social credit code (GB 32100-2015, check digit from
python-stdnum), its administrative division (GB/T 2260), and GTIN barcodes (python-stdnum)."""

from __future__ import annotations

import re
from typing import Literal

from stdnum import ean
from stdnum.cn import uscc as stdnum_uscc

from services.registry.rules.base import WHITESPACE, RuleError, nfkc

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_ALPHABET_SET = frozenset(USCC_ALPHABET)


def validate_uscc(code: str, *, field: str = "uscc") -> str:
    """Return the canonical form of a 统一社会信用代码 or raise ``RuleError('invalid_uscc')``.

    Full-width characters are folded (NFKC), all whitespace is removed and letters are
    upper-cased. The code must then be 18 characters from ``0-9 A-Y`` without I, O, S, V, Z;
    positions 3-8 (the GB/T 2260 region of the registering authority) must be digits and the
    last character must match the GB 32100-2015 check character (computed by
    ``stdnum.cn.uscc``).

    Unlike ``stdnum.cn.uscc.validate``, positions 1-2 may be letters, as GB 32100 allows for
    registering authorities such as ``N`` (agriculture) or ``Y`` (other).
    """
    value = WHITESPACE.sub("", nfkc(code)).upper()
    if len(value) != 18:
        raise RuleError(
            "invalid_uscc",
            field,
            f"A unified social credit code has 18 characters; got {len(value)}.",
            f"统一社会信用代码应为18位，实际为{len(value)}位。",
        )
    for position, char in enumerate(value, start=1):
        if char not in _USCC_ALPHABET_SET:
            raise RuleError(
                "invalid_uscc",
                field,
                f"Character {char!r} at position {position} is not allowed: use digits and "
                "capital letters except I, O, S, V and Z.",
                f"第{position}位字符“{char}”不合法：只能使用数字和除I、O、S、V、Z以外的大写字母。",
            )
    if not value[2:8].isdigit():
        raise RuleError(
            "invalid_uscc",
            field,
            "Positions 3-8 (the administrative division code) must be digits.",
            "第3～8位（登记管理机关行政区划码）应为数字。",
        )
    if stdnum_uscc.calc_check_digit(value[:17]) != value[17]:
        raise RuleError(
            "invalid_uscc",
            field,
            "The check character (position 18) does not match; the code has a typo.",
            "校验码（第18位）不正确，请核对代码。",
        )
    return value


def uscc_region(code: str) -> str:
    """Positions 3-8 (1-based) of a valid USCC: the GB/T 2260 division code of its registrar."""
    return validate_uscc(code)[2:8]


PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 16)]
    + [str(n) for n in range(21, 24)]
    + [str(n) for n in range(31, 38)]
    + [str(n) for n in range(41, 47)]
    + [str(n) for n in range(50, 55)]
    + [str(n) for n in range(61, 66)]
    + ["71", "81", "82"]
)
"""Province-level prefixes of GB/T 2260 (Tianjin is ``12``)."""

FORMER_REGION_CODES: dict[str, str] = {
    # 2009: Tanggu, Hangu and Dagang districts merged into Binhai New Area.
    "120107": "120116",  # 塘沽区 -> 滨海新区
    "120108": "120116",  # 汉沽区 -> 滨海新区
    "120109": "120116",  # 大港区 -> 滨海新区
    # Counties that became districts (new code).
    "120222": "120114",  # 武清县 -> 武清区 (2000)
    "120224": "120115",  # 宝坻县 -> 宝坻区 (2001)
    "120221": "120117",  # 宁河县 -> 宁河区 (2015)
    "120223": "120118",  # 静海县 -> 静海区 (2015)
    "120225": "120119",  # 蓟县 -> 蓟州区 (2016)
}
"""Retired Tianjin division codes and the code that replaced them.

USCCs keep the region of the authority that issued them, so codes issued before a
re-organisation still carry the old division.
"""

_REGION = re.compile(r"\d{6}")


def validate_region(code: str, *, field: str = "region") -> str:
    """Return a six-digit GB/T 2260 division code or raise ``RuleError('invalid_region')``.

    The first two digits must be a province-level code (11-15, 21-23, 31-37, 41-46, 50-54,
    61-65, 71, 81, 82). Retired codes (e.g. 120107) are accepted: they are still real codes.
    """
    value = WHITESPACE.sub("", nfkc(code))
    if not _REGION.fullmatch(value):
        raise RuleError(
            "invalid_region",
            field,
            "An administrative division code is six digits.",
            "行政区划代码应为6位数字。",
        )
    if value[:2] not in PROVINCE_CODES:
        raise RuleError(
            "invalid_region",
            field,
            f"{value[:2]!r} is not a province-level division code.",
            f"“{value[:2]}”不是省级行政区划代码。",
        )
    return value


RegionRelation = Literal["exact", "former", "contains", "province", "none"]


def _covers(upper: str, lower: str) -> bool:
    """True if ``upper`` is the province or prefecture-level code that contains ``lower``."""
    if upper == lower[:2] + "0000":
        return True
    return upper[4:] == "00" and upper[:4] == lower[:4]


def region_relation(uscc: str, region: str) -> RegionRelation:
    """How the region in a USCC relates to a declared division code.

    * ``exact``: positions 3-8 equal ``region``;
    * ``former``: one is a retired code replaced by the other (:data:`FORMER_REGION_CODES`,
      e.g. a USCC from 120107 Tanggu for an enterprise declared in 120116 Binhai New Area);
    * ``contains``: one is the province or prefecture-level code containing the other
      (e.g. a USCC issued by the municipal authority 120000 for a company in 120116);
    * ``province``: different districts of the same province (the enterprise moved);
    * ``none``: different provinces.

    Raises ``RuleError`` if either argument is invalid.
    """
    u = uscc_region(uscc)
    r = validate_region(region)
    if u == r:
        return "exact"
    if FORMER_REGION_CODES.get(u) == r or FORMER_REGION_CODES.get(r) == u:
        return "former"
    if _covers(u, r) or _covers(r, u):
        return "contains"
    if u[:2] == r[:2]:
        return "province"
    return "none"


def region_consistent(uscc: str, region: str) -> bool:
    """True unless the USCC's region lies in a different province from ``region``.

    Any relation other than ``none`` in :func:`region_relation` is consistent; callers that
    need to tell a same-district match from a same-province one use that function instead.
    """
    return region_relation(uscc, region) != "none"


def validate_gtin(code: str, *, field: str = "gtin") -> str:
    """Return a GTIN-8/12/13/14 (EAN/UPC) without separators or raise ``invalid_gtin``."""
    value = re.sub(r"[\s\-]", "", nfkc(code))
    if not re.fullmatch(r"[0-9]*", value):
        raise RuleError(
            "invalid_gtin",
            field,
            "A barcode (GTIN) contains digits only.",
            "商品条码只能包含数字。",
        )
    if len(value) not in (8, 12, 13, 14):
        raise RuleError(
            "invalid_gtin",
            field,
            f"A barcode (GTIN) has 8, 12, 13 or 14 digits; got {len(value)}.",
            f"商品条码应为8、12、13或14位，实际为{len(value)}位。",
        )
    if ean.calc_check_digit(value[:-1]) != value[-1]:
        raise RuleError(
            "invalid_gtin",
            field,
            "The barcode check digit does not match.",
            "商品条码校验位不正确。",
        )
    return value
