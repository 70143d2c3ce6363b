"""Standard numbers (标准编号) as written: folded across full-width, spaces and dash variants,
normalised, keyed and typed (enterprise Q/, group T/, national GB, industry, local DB)."""

from __future__ import annotations

import re
from typing import Literal

from services.registry.rules.base import WHITESPACE, RuleError, nfkc

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
LOOSE_STANDARD_NO = re.compile(r"(?:GB|DB\d{2}|[QT]/|[A-Z]{2}/|[A-Z]{2}\d)[A-Z0-9/.\-]*")


def fold_standard_chars(raw: str) -> str:
    """NFKC, unify dashes/slashes, upper-case, collapse whitespace runs to one space."""
    text = nfkc(raw).translate(_CHAR_MAP).upper()
    return WHITESPACE.sub(" ", text).strip()


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
    text = fold_standard_chars(raw)
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
    return type_of_normalised(normalise_standard_no(normalised))


def type_of_normalised(canonical: str) -> StandardType:
    """:func:`standard_type` of a number already in :func:`normalise_standard_no` form."""
    prefix = canonical.split(" ", 1)[0]
    if prefix.startswith("Q/"):
        return "enterprise"
    if prefix.startswith("T/"):
        return "group"
    if prefix == "GB" or prefix.startswith("GB/"):
        return "national"
    if re.match(r"DB\d", prefix):
        return "local"
    return "industry"
