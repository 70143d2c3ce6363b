"""Pure validation and normalisation rules for the registry service.

Everything here is a plain function of its arguments: no database, no web framework, no clock.
Check-digit algorithms come from python-stdnum (``stdnum.cn.uscc``, ``stdnum.ean``); this module
adds the structure checks, the messages and the Chinese-specific normalisation around them.

Errors are raised as :class:`RuleError`, which carries a stable machine code (``invalid_uscc``,
``invalid_region``, ``invalid_gtin``, ``invalid_standard_no``, ``invalid_date_order``), the name
of the offending field and a human message in English plus Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

from stdnum import ean
from stdnum.cn import uscc as stdnum_uscc

__all__ = [
    "FORMER_REGION_CODES",
    "INDUSTRY_CODES",
    "PROVINCE_CODES",
    "RegionRelation",
    "RuleError",
    "StandardType",
    "normalise_standard_no",
    "query_grams",
    "query_variants",
    "region_consistent",
    "region_relation",
    "search_fragment",
    "search_grams",
    "search_text",
    "standard_no_key",
    "standard_no_search_texts",
    "standard_type",
    "uscc_region",
    "validate_date_order",
    "validate_gtin",
    "validate_region",
    "validate_uscc",
]


class RuleError(ValueError):
    """A value broke a registry rule.

    ``code`` is stable and machine-readable (for API error bodies and client logic), ``field``
    names the input that was wrong, ``message`` is English and ``message_zh`` Chinese.
    """

    def __init__(self, code: str, field: str, message: str, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.message_zh = message_zh

    def to_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "message_zh": self.message_zh,
        }

    def __repr__(self) -> str:
        return f"RuleError({self.code!r}, {self.field!r}, {self.message!r})"

    def __reduce__(self) -> tuple[type[RuleError], tuple[str, str, str, str | None]]:
        return (RuleError, (self.code, self.field, self.message, self.message_zh))


_WHITESPACE = re.compile(r"\s+")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# --------------------------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015)
# --------------------------------------------------------------------------------------------

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
    value = _WHITESPACE.sub("", _nfkc(code)).upper()
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


# --------------------------------------------------------------------------------------------
# Administrative divisions (GB/T 2260)
# --------------------------------------------------------------------------------------------

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
    value = _WHITESPACE.sub("", _nfkc(code))
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


# --------------------------------------------------------------------------------------------
# Barcodes
# --------------------------------------------------------------------------------------------


def validate_gtin(code: str, *, field: str = "gtin") -> str:
    """Return a GTIN-8/12/13/14 (EAN/UPC) without separators or raise ``invalid_gtin``."""
    value = re.sub(r"[\s\-]", "", _nfkc(code))
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


# --------------------------------------------------------------------------------------------
# Standard numbers
# --------------------------------------------------------------------------------------------

StandardType = Literal["enterprise", "group", "national", "industry", "local"]

_INDUSTRY_CODE_LIST = (
    "AQ BB CB CH CJ CY DA DB DL DZ EJ FZ GA GH GM GY HB HG HJ HS HY JB JC JG JR JT JY LB LD LS "
    "LY MH MT MZ NB NY QB QC QJ QX RB SB SC SF SH SJ SL SN SW SY TB TD TY WB WH WJ WM WS WW XB "
    "XF YB YC YD YJ YS YY YZ ZY"
)
INDUSTRY_CODES: frozenset[str] = frozenset(_INDUSTRY_CODE_LIST.split())
"""Two-letter sector codes of Chinese industry standards (行业标准代号), e.g. QB 轻工,
QC 汽车, SH 石油化工, NB 能源 (also in compounds such as ``NB/SH/T``), DB 地震 (``DB/T``)."""

# After NFKC: hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar,
# minus, small/full-width hyphen-minus that NFKC left alone, katakana prolonged sound mark
# (an IME slip for a dash), wave dashes and tilde.
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d\u30fc\uff70\u301c\uff5e~"
_SLASHES = "\u2044\u2215\uff0f\u29f8"
_CHAR_MAP = str.maketrans({**dict.fromkeys(_DASHES, "-"), **dict.fromkeys(_SLASHES, "/")})

# National prefix with optional /T or /Z; local DBnn/ or DBnnnn/ with optional T; enterprise
# Q/<code> and group T/<code>; industry: two-letter sector codes, possibly compound (NB/SH/T).
_PREFIX = (
    r"GB(?:/[TZ])?"
    r"|DB\d{2}(?:\d{2})?/T?"
    r"|[QT]/[A-Z0-9]+"
    r"|[A-Z]{2}(?:/[A-Z]{2})*(?:/[TZ])?"
)
# Same, but with the organisation code of Q/ and T/ inferred when no space was written:
# optional digits, a letter, then the shortest run of letters/digits before the number.
_PREFIX_INFERRED = _PREFIX.replace(r"[QT]/[A-Z0-9]+", r"[QT]/\d*[A-Z][A-Z0-9]*?")
_NUMBER = r"\d+(?:\.\d+)*[A-Z]?"
_YEAR = r"(?:-(?:19|20)\d{2})?"
_SPACED = re.compile(rf"(?P<prefix>{_PREFIX}) (?P<rest>{_NUMBER}{_YEAR})")
_COMPACT = re.compile(rf"(?P<prefix>{_PREFIX_INFERRED})(?P<rest>{_NUMBER}{_YEAR})")
_LOOSE = re.compile(r"(?:GB|DB\d{2}|[QT]/|[A-Z]{2}/|[A-Z]{2}\d)[A-Z0-9/.\-]*")


def _fold_standard_chars(raw: str) -> str:
    """NFKC, unify dashes/slashes, upper-case, collapse whitespace runs to one space."""
    text = _nfkc(raw).translate(_CHAR_MAP).upper()
    return _WHITESPACE.sub(" ", text).strip()


def _bad_standard_no(field: str, why: str, why_zh: str) -> RuleError:
    return RuleError(
        "invalid_standard_no",
        field,
        f"Not a standard number: {why}.",
        f"标准编号不合法：{why_zh}。",
    )


def normalise_standard_no(raw: str, *, field: str = "standard_no") -> str:
    """Canonical form of a Chinese standard number, e.g. ``GB/T 1906.1-2015``.

    Folds full-width characters (NFKC), dash variants (‐ ‑ ‒ – — ― − － ー ～ ~) to ``-``,
    slash variants (／ ⁄ ∕) to ``/``, lower case to upper case, ``GBT``/``GBZ`` to
    ``GB/T``/``GB/Z`` and a year written after a space (``GB/T 1906.1 2015``) to ``-2015``.
    The result is ``<prefix> <number>[-<year>]`` with exactly one space, for instance
    ``GB 12021.6-2017``, ``GB/T 1906.1-2015``, ``QB/T 4098-2010``, ``NB/SH/T 0001-2019``,
    ``DB12/T 1000-2020``, ``DB12/ 524-2020``, ``T/CAS 115-2021``, ``Q/12TJ 0001-2021``.

    For ``Q/`` and ``T/`` the organisation code may itself end in digits, so a space written
    between code and number is kept where it is; without one the code is taken to end at its
    last letter (``Q/12TJ0001-2021`` -> ``Q/12TJ 0001-2021``).

    Raises ``RuleError('invalid_standard_no')`` for anything else (empty, no digits, unknown
    prefix, year not 19xx/20xx, ...).
    """
    text = _fold_standard_chars(raw)
    if not text:
        raise _bad_standard_no(field, "it is empty", "为空")
    if not any(c.isdigit() for c in text):
        raise _bad_standard_no(field, "it has no digits", "缺少数字编号")
    # No spaces around punctuation: "Q / 12TJ" -> "Q/12TJ", "1906 .1 - 2015" -> "1906.1-2015".
    text = re.sub(r" ?([/.\-]) ?", r"\1", text)
    # A year written after a space instead of a dash.
    text = re.sub(r"(?<=\d) ((?:19|20)\d{2})$", r"-\1", text)
    text = re.sub(r"^GB([TZ])(?=[\s\d])", r"GB/\1", text)
    text = re.sub(r"^GB([TZ])$", r"GB/\1", text)

    match = _SPACED.fullmatch(text) if text.count(" ") == 1 else None
    if match is None:
        match = _COMPACT.fullmatch(text.replace(" ", ""))
    if match is not None:
        prefix = match["prefix"]
        if re.fullmatch(r"[A-Z]{2}(?:/[A-Z]{2})*(?:/[TZ])?", prefix) and prefix[:2] != "GB":
            sectors = [part for part in prefix.split("/") if len(part) == 2]
            unknown = [part for part in sectors if part not in INDUSTRY_CODES]
            if unknown:
                raise _bad_standard_no(
                    field,
                    f"{unknown[0]!r} is not a known sector code",
                    f"“{unknown[0]}”不是已知的行业标准代号",
                )
        return f"{prefix} {match['rest']}"
    raise _bad_standard_no(
        field,
        f"{raw.strip()!r} does not look like 'GB/T 1906.1-2015', 'Q/12TJ 0001-2021' or similar",
        f"“{raw.strip()}”不符合“GB/T 1906.1-2015”“Q/12TJ 0001-2021”等格式",
    )


def standard_no_key(raw: str, *, field: str = "standard_no") -> str:
    """Matching/uniqueness key: the canonical form with all spaces removed.

    ``GB/T1906.1-2015``, ``gb/t 1906.1—2015`` and ``ＧＢ／Ｔ　１９０６.1－２０１５`` all give
    ``GB/T1906.1-2015``.
    """
    return normalise_standard_no(raw, field=field).replace(" ", "")


def standard_type(normalised: str) -> StandardType:
    """Kind of standard from the prefix of a (normalised or raw) standard number.

    ``Q/`` enterprise, ``T/`` group, ``GB`` national (GB, GB/T, GB/Z), ``DB<digits>`` local,
    any other sector code (QB, JB, HG, SH, YY, QC, NB/SH, DB/T seismology, ...) industry.
    """
    prefix = normalise_standard_no(normalised).split(" ", 1)[0]
    if prefix.startswith("Q/"):
        return "enterprise"
    if prefix.startswith("T/"):
        return "group"
    if prefix == "GB" or prefix.startswith("GB/"):
        return "national"
    if re.match(r"DB\d", prefix):
        return "local"
    return "industry"


# --------------------------------------------------------------------------------------------
# Search grams
# --------------------------------------------------------------------------------------------
#
# Documents store ``search_grams(name, product, standard_no, standard_no_key(standard_no), ...)``
# in a ``text[]`` column with a GIN index. A query ``q`` matches when, for some ``v`` in
# ``query_variants(q)``, ``grams @> query_grams(v)`` and then a substring re-check on the
# fields (grams only prove every bigram occurs somewhere, not that they are adjacent). This
# works for Chinese whatever the PostgreSQL locale or text-search configuration.


def _search_text(text: str) -> str:
    return _WHITESPACE.sub(" ", _nfkc(text).lower()).strip()


def search_text(*texts: str) -> str:
    """The normalised text a gram match is re-checked against (substring match)."""
    return "\n".join(t for t in (_search_text(raw) for raw in texts) if t)


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
    folded = _fold_standard_chars(query).replace(" ", "")
    if _LOOSE.fullmatch(folded) and any(c.isdigit() for c in folded):
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


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def validate_date_order(
    publication: date,
    implementation: date,
    *,
    field: str = "implementation_date",
) -> None:
    """Raise ``invalid_date_order`` if a standard is implemented before it is published."""
    if implementation < publication:
        raise RuleError(
            "invalid_date_order",
            field,
            f"Implementation date {implementation.isoformat()} is before publication date "
            f"{publication.isoformat()}.",
            f"实施日期{implementation.isoformat()}早于发布日期{publication.isoformat()}。",
        )
