"""A declaration's content (声明内容), checked: the rules every write path applies.

The vocabulary of its category (indicator codes and units), GTIN barcodes, the standard
number (normalised, keyed, typed), text the database can store; then what a standard row
derives from it: the canonical JSON and its hash (what "unchanged" means), the search text
and grams. Pure functions: the vocabulary is read by the repository and passed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.kit.problems import FieldError, ValidationFailed
from services.registry import rules
from services.registry.models import CategoryIndicator
from services.registry.standards.schemas import StandardContent

Vocabulary = dict[str, dict[str, CategoryIndicator]]
# Normalising can lengthen a number ("GBT1" -> "GB/T 1"); the column holds 128 characters.
STANDARD_NO_WIDTH = 128
UNSTORABLE = "text may not contain NUL characters or unpaired surrogates"


@dataclass(frozen=True)
class Checked:
    """Content that passed every rule, with what the standard row derives from it.

    ``json`` is the canonical JSON (sorted keys, no spaces) stored as the version's content;
    ``hash`` is its SHA-256, so equal content always has an equal hash.
    """

    content: StandardContent
    standard_no: str
    standard_no_key: str
    standard_type: str
    hash: str
    json: str = ""
    # The search text and grams by enterprise name, built once (see searchable).
    index: dict[str, tuple[str, list[str]]] = field(default_factory=dict, compare=False)


def canonical_json(content: StandardContent) -> str:
    return json.dumps(
        content.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def content_hash(content: StandardContent) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


# NUL (PostgreSQL text cannot hold it) or a surrogate (UTF-8 cannot; a str that came from
# UTF-8 or a JSON pair escape never holds one, so any is a lone one).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def unstorable_at(value: Any, path: str = "") -> str | None:
    """Where a decoded JSON value holds text the database cannot store (see unstorable)."""
    if isinstance(value, str):
        return path if unstorable(value) else None
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, child in items:
        if isinstance(key, str) and unstorable(key):
            return path or "body"
        if (found := unstorable_at(child, f"{path}.{key}" if path else str(key))) is not None:
            return found
    return None


def check_content(content: StandardContent, vocab: Vocabulary, prefix: str = "") -> Checked:
    """Apply the registry's rules; every broken rule is reported, each naming its field."""
    errors: list[FieldError] = []
    codes: list[str] = []

    def fail(field: str, message: str, code: str) -> None:
        errors.append(FieldError(field=prefix + field, message=message))
        codes.append(code)

    standard_no = key = kind = ""
    try:
        standard_no = rules.normalise_standard_no(content.standard_no)
        key = standard_no.replace(" ", "")  # rules.standard_no_key, without normalising again
        kind = rules.type_of_normalised(standard_no)
        if len(standard_no) > STANDARD_NO_WIDTH:
            fail("standard_no", "too long once normalised", "invalid_standard_no")
    except rules.RuleError as err:
        fail("standard_no", err.message, err.code)

    category = vocab.get(content.category)
    if category is None:
        fail("category", f"unknown category {content.category!r}", "unknown_category")
        category = {}

    # Copies are made only where a rule changes a value (most content is already canonical).
    products = content.products
    for i, product in enumerate(content.products):
        if product.barcode:
            try:
                barcode = rules.validate_gtin(product.barcode)
            except rules.RuleError as err:
                fail(f"products.{i}.barcode", err.message, err.code)
                continue
            if barcode != product.barcode:
                if products is content.products:
                    products = list(products)
                products[i] = product.model_copy(update={"barcode": barcode})

    indicators = content.indicators
    seen: set[str] = set()
    for i, indicator in enumerate(content.indicators):
        if indicator.code is not None:
            word = category.get(indicator.code)
            if word is None:
                if content.category in vocab:
                    fail(
                        f"indicators.{i}.code",
                        f"{indicator.code!r} is not in the vocabulary of {content.category}",
                        "unknown_indicator",
                    )
            else:
                if indicator.code in seen:
                    fail(f"indicators.{i}.code", "declared twice", "duplicate_indicator")
                seen.add(indicator.code)
                if indicator.unit is None:
                    if indicators is content.indicators:
                        indicators = list(indicators)
                    indicators[i] = indicator.model_copy(update={"unit": word.unit})
                elif indicator.unit != word.unit:
                    fail(
                        f"indicators.{i}.unit",
                        f"{indicator.code} is measured in {word.unit!r}",
                        "wrong_unit",
                    )

    if products is not content.products or indicators is not content.indicators:
        content = content.model_copy(update={"products": products, "indicators": indicators})
    canonical = canonical_json(content)
    try:
        # A NUL comes out of json.dumps escaped; a lone surrogate fails to encode.
        encoded = canonical.encode() if "\\u0000" not in canonical else None
    except UnicodeEncodeError:
        encoded = None
    if encoded is None and (where := unstorable_at(content.model_dump(mode="json"))):
        fail(where, UNSTORABLE, "validation_failed")
    if errors:
        raise ValidationFailed(
            "; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
            code=codes[0] if len(set(codes)) == 1 else "validation_failed",
            errors=errors,
        )
    digest = hashlib.sha256(encoded or canonical.encode()).hexdigest()
    return Checked(content, standard_no, key, kind, digest, canonical)


def searchable(checked: Checked, enterprise_name: str) -> tuple[str, list[str]]:
    """The search text and grams of a standard: its names, its number in both spellings,
    its products, and its enterprise's name."""
    if (known := checked.index.get(enterprise_name)) is not None:
        return known
    content = checked.content
    numbers = dict.fromkeys([checked.standard_no, checked.standard_no_key])
    texts = [content.name, enterprise_name, *numbers]
    for product in content.products:
        texts += [t for t in (product.name, product.generic_name, product.brand) if t]
    checked.index[enterprise_name] = index = rules.search_index(*texts)
    return index


def content_columns(checked: Checked, enterprise_name: str, region: str) -> dict[str, Any]:
    """The standard row's columns that derive from its content and its enterprise."""
    content = checked.content
    search_text, grams = searchable(checked, enterprise_name)
    return {
        "standard_no": checked.standard_no,
        "standard_no_key": checked.standard_no_key,
        "standard_type": checked.standard_type,
        "name": content.name,
        "category_code": content.category,
        "region": region,
        "publication_date": content.publication_date,
        "implementation_date": content.implementation_date,
        "search_text": search_text,
        "grams": grams,
    }
