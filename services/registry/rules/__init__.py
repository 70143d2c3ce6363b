"""The registry's rules, one module per topic; this package re-exports their public names.

- ``base``: :class:`RuleError`, Unicode folding, the date order.
- ``codes``: USCC (GB 32100-2015), administrative divisions (GB/T 2260), GTIN barcodes.
- ``standard_numbers``: standard numbers as written, normalised, keyed and typed.
- ``search``: the grams and query variants of Chinese search.
"""

from services.registry.rules.base import RuleError, validate_date_order
from services.registry.rules.codes import (
    FORMER_REGION_CODES,
    PROVINCE_CODES,
    RegionRelation,
    region_consistent,
    region_relation,
    uscc_region,
    validate_gtin,
    validate_region,
    validate_uscc,
)
from services.registry.rules.search import (
    query_grams,
    query_variants,
    search_fragment,
    search_grams,
    search_index,
    search_text,
    standard_no_search_texts,
)
from services.registry.rules.standard_numbers import (
    INDUSTRY_CODES,
    StandardType,
    normalise_standard_no,
    standard_no_key,
    standard_type,
    type_of_normalised,
)

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
    "search_index",
    "search_text",
    "standard_no_key",
    "standard_no_search_texts",
    "standard_type",
    "type_of_normalised",
    "uscc_region",
    "validate_date_order",
    "validate_gtin",
    "validate_region",
    "validate_uscc",
]
