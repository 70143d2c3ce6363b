import copy
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from services.registry.rules import (
    FORMER_REGION_CODES,
    RuleError,
    normalise_standard_no,
    query_grams,
    query_variants,
    region_consistent,
    region_relation,
    search_grams,
    standard_no_key,
    standard_no_search_texts,
    standard_type,
    uscc_region,
    validate_date_order,
    validate_gtin,
    validate_region,
    validate_uscc,
)


def make_uscc(first17: str) -> str:
    return first17 + stdnum_uscc.calc_check_digit(first17)


# Tianjin codes built with stdnum's check-character algorithm.
BINHAI = "91120116MA05J0001C"  # 滨海新区
TANGGU = "91120107MA05J0002E"  # 塘沽区 (merged into Binhai New Area in 2009)
TIANJIN_CITY = "91120000MA05J00037"  # registered by the municipal authority
HEXI = "91120104MA05J00049"  # 河西区
BEIJING_HAIDIAN = "91110108MA01A0005R"
JIXIAN = "92120225MA05J0006Y"  # 蓟县, now 蓟州区 120119


# --- RuleError ---------------------------------------------------------------------------


def test_rule_error_shape():
    err = RuleError("invalid_uscc", "uscc", "bad", "错")
    assert (err.code, err.field, err.message, err.message_zh) == (
        "invalid_uscc",
        "uscc",
        "bad",
        "错",
    )
    assert str(err) == "bad"
    assert err.to_dict() == {
        "code": "invalid_uscc",
        "field": "uscc",
        "message": "bad",
        "message_zh": "错",
    }
    clone = copy.deepcopy(err)  # goes through __reduce__, like pickling
    assert (clone.code, clone.field, clone.message, clone.message_zh) == (
        "invalid_uscc",
        "uscc",
        "bad",
        "错",
    )


# --- USCC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341L",  # python-stdnum documentation example
        "914403001922038216",  # 华为技术有限公司
        "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
        BINHAI,
        TANGGU,
        TIANJIN_CITY,
        HEXI,
        JIXIAN,
        "N2120116MA05J0007E",  # GB 32100 allows a letter for the registering authority
    ],
)
def test_valid_uscc(code):
    assert validate_uscc(code) == code


def test_uscc_is_cleaned():
    assert validate_uscc(" 9112 0116 ma05 j000 1c ") == BINHAI
    assert validate_uscc("９１１２０１１６ＭＡ０５Ｊ０００１Ｃ") == BINHAI  # full-width
    assert validate_uscc("91120116MA05J0001C", field="credit_code") == BINHAI


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "A unified social credit code has 18 characters; got 0."),
        ("91120116MA05J0001", "A unified social credit code has 18 characters; got 17."),
        ("91120116MA05J0001CC", "A unified social credit code has 18 characters; got 19."),
    ],
)
def test_uscc_wrong_length(code, message):
    with pytest.raises(RuleError) as info:
        validate_uscc(code)
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_uscc",
        "uscc",
        message,
    )
    assert info.value.message_zh is not None
    assert "18位" in info.value.message_zh


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_uscc_forbidden_letters(letter):
    code = "91120116MA05J" + letter + "001C"
    with pytest.raises(RuleError) as info:
        validate_uscc(code)
    assert info.value.code == "invalid_uscc"
    assert info.value.message == (
        f"Character {letter!r} at position 14 is not allowed: use digits and capital letters "
        "except I, O, S, V and Z."
    )


def test_uscc_punctuation_is_a_bad_character():
    with pytest.raises(RuleError) as info:
        validate_uscc("91120116-MA05J0001")
    assert info.value.message.startswith("Character '-' at position 9 is not allowed")


def test_uscc_region_part_must_be_digits():
    code = make_uscc("9112A116MA05J0001")
    with pytest.raises(RuleError) as info:
        validate_uscc(code)
    assert info.value.message == "Positions 3-8 (the administrative division code) must be digits."


def test_uscc_bad_check_character():
    with pytest.raises(RuleError) as info:
        validate_uscc("91120116MA05J0001D")
    assert info.value.code == "invalid_uscc"
    assert info.value.message == (
        "The check character (position 18) does not match; the code has a typo."
    )
    # A single transposition is caught too.
    with pytest.raises(RuleError) as info:
        validate_uscc("91110000600037314L")
    assert (info.value.code, info.value.field) == ("invalid_uscc", "uscc")
    assert info.value.message.startswith("The check character (position 18) does not match")


def test_uscc_region():
    assert uscc_region(BINHAI) == "120116"
    assert uscc_region("91110000600037341L") == "110000"
    with pytest.raises(RuleError) as info:
        uscc_region("91120116MA05J0001D")
    assert (info.value.code, info.value.field) == ("invalid_uscc", "uscc")


# --- Regions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["120116", "120000", "110108", "150102", "650102", "710000", "810000", "820000"]
)
def test_valid_region(code):
    assert validate_region(code) == code


def test_region_is_cleaned():
    assert validate_region(" １２０１１６ ") == "120116"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("12011", "An administrative division code is six digits."),
        ("1201160", "An administrative division code is six digits."),
        ("12O116", "An administrative division code is six digits."),
        ("160101", "'16' is not a province-level division code."),
        ("240101", "'24' is not a province-level division code."),
        ("990000", "'99' is not a province-level division code."),
        ("000000", "'00' is not a province-level division code."),
    ],
)
def test_invalid_region(code, message):
    with pytest.raises(RuleError) as info:
        validate_region(code)
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_region",
        "region",
        message,
    )


def test_region_relation():
    assert region_relation(BINHAI, "120116") == "exact"
    assert region_relation(TANGGU, "120116") == "former"  # Binhai New Area merge, 2009
    assert region_relation(JIXIAN, "120119") == "former"  # 蓟县 -> 蓟州区, 2016
    assert region_relation(BINHAI, "120107") == "former"  # declared with the retired code
    assert region_relation(TIANJIN_CITY, "120116") == "contains"
    assert region_relation(BINHAI, "120000") == "contains"
    assert region_relation(HEXI, "120116") == "province"
    assert region_relation(BEIJING_HAIDIAN, "120116") == "none"


def test_region_consistent():
    assert region_consistent(BINHAI, "120116") is True
    assert region_consistent(TANGGU, "120116") is True
    assert region_consistent(make_uscc("91120108MA05J0009"), "120116") is True  # 汉沽
    assert region_consistent(make_uscc("91120109MA05J0009"), "120116") is True  # 大港
    assert region_consistent(HEXI, "120116") is True
    assert region_consistent(BEIJING_HAIDIAN, "120116") is False
    assert region_consistent(BINHAI, "110108") is False


def test_region_consistent_rejects_invalid_input():
    with pytest.raises(RuleError) as info:
        region_consistent(BINHAI, "1201")
    assert info.value.code == "invalid_region"
    with pytest.raises(RuleError) as info:
        region_consistent("91120116MA05J0001D", "120116")
    assert info.value.code == "invalid_uscc"


def test_former_codes_are_tianjin_and_point_to_current_codes():
    assert FORMER_REGION_CODES["120107"] == "120116"
    assert FORMER_REGION_CODES["120108"] == "120116"
    assert FORMER_REGION_CODES["120109"] == "120116"
    for old, new in FORMER_REGION_CODES.items():
        assert old[:2] == new[:2] == "12"
        assert new not in FORMER_REGION_CODES


# --- GTIN --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("73513537", "73513537"),  # GTIN-8
        ("012345678905", "012345678905"),  # GTIN-12 / UPC-A
        ("6901234567892", "6901234567892"),  # GTIN-13, GS1 China prefix 690
        ("98412345678908", "98412345678908"),  # GTIN-14
        ("690 1234 56789 2", "6901234567892"),
        ("６９０１２３４５６７８９２", "6901234567892"),
    ],
)
def test_valid_gtin(code, expected):
    assert validate_gtin(code) == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("6901234567893", "The barcode check digit does not match."),
        ("6901234567", "A barcode (GTIN) has 8, 12, 13 or 14 digits; got 10."),
        ("", "A barcode (GTIN) has 8, 12, 13 or 14 digits; got 0."),
        ("69012345678X", "A barcode (GTIN) contains digits only."),
    ],
)
def test_invalid_gtin(code, message):
    with pytest.raises(RuleError) as info:
        validate_gtin(code)
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_gtin",
        "gtin",
        message,
    )


# --- Standard numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "GB/T 1906.1-2015",
        "GB/T1906.1-2015",
        "ＧＢ／Ｔ　１９０６.1－２０１５",
        "GB/T 1906.1—2015",
        "GB/T 1906.1–2015",
        "GB/T 1906.1－2015",
        "GB/T 1906.1ー2015",
        "GB/T 1906.1～2015",
        "GB/T 1906.1~2015",
        "GB/T 1906.1 2015",
        "gb/t 1906.1-2015",
        "GB ∕ T 1906.1 - 2015",
        "GB⁄T 1906 .1-2015",
        " GB/T  1906.1-2015 ",
        "GBT 1906.1-2015",
    ],
)
def test_national_variants(raw):
    assert normalise_standard_no(raw) == "GB/T 1906.1-2015"
    assert standard_no_key(raw) == "GB/T1906.1-2015"


@pytest.mark.parametrize(
    "raw",
    [
        "Q/12TJ 0001-2021",
        "Q/12TJ0001-2021",
        "Q／12TJ 0001－2021",
        "Q /12TJ 0001-2021",
        "Q / 12TJ 0001 — 2021",
        "q/12tj 0001-2021",
        "Ｑ／１２ＴＪ　０００１—２０２１",
    ],
)
def test_enterprise_variants(raw):
    assert normalise_standard_no(raw) == "Q/12TJ 0001-2021"
    assert standard_no_key(raw) == "Q/12TJ0001-2021"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GB 12021.6-2017", "GB 12021.6-2017"),
        ("GB/Z 41275.1-2022", "GB/Z 41275.1-2022"),
        ("T/CAS115-2021", "T/CAS 115-2021"),
        ("t/cas 115—2021", "T/CAS 115-2021"),
        ("DB12/T1000-2020", "DB12/T 1000-2020"),
        ("DB12/524-2020", "DB12/ 524-2020"),  # mandatory local standard
        ("DB1201/T 15-2021", "DB1201/T 15-2021"),
        ("QB/T4098-2010", "QB/T 4098-2010"),
        ("NB/SH/T 0001-2019", "NB/SH/T 0001-2019"),
        ("YY0505-2012", "YY 0505-2012"),
        ("DB/T 15-2009", "DB/T 15-2009"),  # seismology industry standard, not local
        ("Q/12HP 3478-2016", "Q/12HP 3478-2016"),
        ("Q/TJ 0001S-2021", "Q/TJ 0001S-2021"),  # food-safety enterprise standard suffix
        ("Q/1201000012 001-2019", "Q/1201000012 001-2019"),  # written space is kept
        ("GB/T 1906.1", "GB/T 1906.1"),  # undated reference
    ],
)
def test_normalise_standard_no(raw, expected):
    assert normalise_standard_no(raw) == expected
    assert standard_no_key(raw) == expected.replace(" ", "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Not a standard number: it is empty."),
        ("   ", "Not a standard number: it is empty."),
        ("GB/T", "Not a standard number: it has no digits."),
        ("电饭锅", "Not a standard number: it has no digits."),
        ("AB 1234-2020", "Not a standard number: 'AB' is not a known sector code."),
        (
            "ISO 9001:2015",
            "Not a standard number: 'ISO 9001:2015' does not look like 'GB/T 1906.1-2015', "
            "'Q/12TJ 0001-2021' or similar.",
        ),
        (
            "GB/T 1906.1-0015",
            "Not a standard number: 'GB/T 1906.1-0015' does not look like 'GB/T 1906.1-2015', "
            "'Q/12TJ 0001-2021' or similar.",
        ),
        (
            "Q/1234-2020",
            "Not a standard number: 'Q/1234-2020' does not look like 'GB/T 1906.1-2015', "
            "'Q/12TJ 0001-2021' or similar.",
        ),
        (
            "12345",
            "Not a standard number: '12345' does not look like 'GB/T 1906.1-2015', "
            "'Q/12TJ 0001-2021' or similar.",
        ),
    ],
)
def test_invalid_standard_no(raw, message):
    with pytest.raises(RuleError) as info:
        normalise_standard_no(raw)
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_standard_no",
        "standard_no",
        message,
    )
    with pytest.raises(RuleError) as info:
        standard_no_key(raw)
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_standard_no",
        "standard_no",
        message,
    )


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("Q/12TJ 0001-2021", "enterprise"),
        ("T/CAS 115-2021", "group"),
        ("GB 12021.6-2017", "national"),
        ("GB/T 1906.1-2015", "national"),
        ("GB/Z 41275.1-2022", "national"),
        ("DB12/T 1000-2020", "local"),
        ("DB12/ 524-2020", "local"),
        ("QB/T 4098-2010", "industry"),
        ("JB/T 10223-2011", "industry"),
        ("HG/T 2161-2010", "industry"),
        ("SH/T 0358-1995", "industry"),
        ("YY 0505-2012", "industry"),
        ("QC/T 29106-2014", "industry"),
        ("TB/T 3139-2021", "industry"),
        ("NB/SH/T 0001-2019", "industry"),
        ("DB/T 15-2009", "industry"),
        ("q／12tj 0001—2021", "enterprise"),
    ],
)
def test_standard_type(raw, kind):
    assert standard_type(raw) == kind


def test_standard_type_rejects_non_standard():
    with pytest.raises(RuleError) as info:
        standard_type("hello")
    assert (info.value.code, info.value.field) == ("invalid_standard_no", "standard_no")


def test_standard_no_search_texts():
    assert standard_no_search_texts("gb/t 1906.1—2015") == ["GB/T 1906.1-2015", "GB/T1906.1-2015"]
    assert standard_no_search_texts("企业自定") == ["企业自定"]


# --- Search grams ------------------------------------------------------------------------


def test_search_grams_exact():
    assert search_grams("电饭锅") == ["电", "电饭", "锅", "饭", "饭锅"]
    assert search_grams("电饭锅", "电饭锅") == ["电", "电饭", "锅", "饭", "饭锅"]
    assert search_grams("Ｒｉce") == ["c", "ce", "e", "i", "ic", "r", "ri"]
    # Grams never span texts; whitespace-only grams are dropped; runs of spaces collapse.
    assert search_grams("电饭", "锅") == ["电", "电饭", "锅", "饭"]
    assert search_grams("a  b") == [" b", "a", "a ", "b"]
    assert search_grams("", "   ") == []


def test_query_grams_exact():
    assert query_grams("") == []
    assert query_grams("   ") == []
    assert query_grams("锅") == ["锅"]
    assert query_grams(" 锅 ") == ["锅"]
    assert query_grams("饭锅") == ["饭锅"]
    assert query_grams("电饭锅") == ["电饭", "饭锅"]
    assert query_grams("哈哈哈") == ["哈哈"]
    assert query_grams("GB") == ["gb"]


DOC = search_grams(
    "天津某某电器有限公司", "智能电饭锅", *standard_no_search_texts("GB/T 1906.1-2015")
)


def contains(grams: list[str], needed: list[str]) -> bool:
    return set(needed) <= set(grams)


@pytest.mark.parametrize(
    ("q", "hit"),
    [
        ("锅", True),
        ("饭锅", True),
        ("电饭锅", True),
        ("天津", True),
        ("电器", True),
        ("智能电饭锅", True),
        ("压", False),
        ("高压锅", False),
        ("饭电", False),  # bigram not present
        ("锅电", False),  # characters present, but not adjacent in this order anywhere
        ("gb/t 1906", True),
        ("GB/T1906", True),
    ],
)
def test_document_grams_cover_query_grams_iff_plausible(q, hit):
    assert contains(DOC, query_grams(q)) is hit


def test_gram_containment_can_be_a_false_positive():
    # Every bigram of "电饭电" occurs in "电饭 饭电" but the string does not: the service
    # re-checks candidates with a substring match.
    doc = search_grams("电饭 饭电")
    assert contains(doc, query_grams("电饭电"))
    assert "电饭电" not in "电饭 饭电"


@given(st.text(alphabet="电饭锅洗衣机天津滨海 ab1/-", min_size=1, max_size=30), st.data())
def test_any_substring_matches(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    assert contains(search_grams(text), query_grams(text[start:end]))


def test_query_variants():
    assert query_variants("") == []
    assert query_variants("电饭锅") == ["电饭锅"]
    assert query_variants("GB/T 1906") == ["GB/T 1906", "GB/T1906"]
    assert query_variants("gb/t1906") == ["gb/t1906"]  # grams are lower-case anyway
    assert query_variants("ｇｂ／ｔ 1906.1—2015") == ["ｇｂ／ｔ 1906.1—2015", "GB/T1906.1-2015"]
    assert query_variants("Q/12TJ 0001") == ["Q/12TJ 0001", "Q/12TJ0001"]
    assert query_variants("Q/12TJ") == ["Q/12TJ"]
    assert query_variants("GBT 1906") == ["GBT 1906", "GB/T1906"]


def test_standard_number_query_finds_document_by_key():
    doc = search_grams("电饭锅", *standard_no_search_texts("GB/T1906.1—2015"))
    for q in ["GB/T 1906.1-2015", "GB/T1906", "gb/t 1906", "ＧＢ／Ｔ１９０６"]:
        assert any(contains(doc, query_grams(v)) for v in query_variants(q)), q
    assert not any(contains(doc, query_grams(v)) for v in query_variants("GB/T 1907"))


# --- Dates -------------------------------------------------------------------------------


def test_validate_date_order():
    validate_date_order(date(2021, 3, 1), date(2021, 3, 1))
    validate_date_order(date(2021, 3, 1), date(2021, 4, 1))
    with pytest.raises(RuleError) as info:
        validate_date_order(date(2021, 3, 1), date(2021, 2, 28))
    assert (info.value.code, info.value.field, info.value.message) == (
        "invalid_date_order",
        "implementation_date",
        "Implementation date 2021-02-28 is before publication date 2021-03-01.",
    )
