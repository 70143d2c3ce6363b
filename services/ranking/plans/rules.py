"""The rules a plan's content must follow, and the engine plan it becomes.

Pure functions, tested without HTTP. Every refusal names the field it is about
(``indicators[1].tiering.cuts``), so a body can fix its plan from the answer alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from services.clients.registry import CategoryRecord, VocabularyWord
from services.kit.problems import FieldError, ValidationFailed
from services.ranking import engine
from services.ranking.plans.schemas import IndicatorSpec, PlanContent


def content_hash(content: PlanContent) -> str:
    raw = json.dumps(content.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def _better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "higher" else a < b


def direction_of(spec: IndicatorSpec, vocab: Mapping[str, VocabularyWord]) -> str:
    if spec.direction is not None:
        return spec.direction
    word = vocab.get(spec.code)
    return word.direction if word is not None else "higher"


def _indicator_errors(
    i: int, spec: IndicatorSpec, categories: Mapping[str, CategoryRecord]
) -> list[FieldError]:
    at = f"indicators[{i}]"
    errors: list[FieldError] = []
    words: dict[str, VocabularyWord] = {}
    for code, cat in categories.items():
        word = next((w for w in cat.indicators if w.code == spec.code), None)
        if word is None:
            errors.append(
                FieldError(
                    field=f"{at}.code",
                    message=f"{spec.code} is not in the vocabulary of category {code}",
                )
            )
        else:
            words[code] = word
    if errors:
        return errors
    for code, word in words.items():
        if spec.unit != word.unit:
            errors.append(
                FieldError(
                    field=f"{at}.unit",
                    message=f"{spec.code} is in {word.unit!r} in {code}, not {spec.unit!r}",
                )
            )
        if spec.direction is not None and spec.direction != word.direction:
            errors.append(
                FieldError(
                    field=f"{at}.direction",
                    message=f"{spec.code} is {word.direction}-is-better in {code}",
                )
            )
    direction = spec.direction or next(iter(words.values())).direction
    if spec.weight < 0:
        errors.append(FieldError(field=f"{at}.weight", message="a weight must not be negative"))
    if spec.benchmark is not None and not _better(direction, spec.benchmark, spec.baseline):
        errors.append(
            FieldError(
                field=f"{at}.benchmark",
                message=f"the baseline is on the wrong side of the benchmark for a "
                f"{direction}-is-better indicator",
            )
        )
    errors.extend(_tiering_errors(at, spec, direction))
    return errors


def _tiering_errors(at: str, spec: IndicatorSpec, direction: str) -> list[FieldError]:
    tiering = spec.tiering
    if (tiering.cuts is None) == (tiering.quantiles is None):
        return [FieldError(field=f"{at}.tiering", message="give either cuts or quantiles")]
    if tiering.quantiles is not None:
        if tiering.quantiles < 2:
            return [FieldError(field=f"{at}.tiering.quantiles", message="k must be at least 2")]
        if tiering.quantiles > 100:
            return [FieldError(field=f"{at}.tiering.quantiles", message="k must be at most 100")]
        return []
    cuts = tiering.cuts or []
    if not cuts:
        return [FieldError(field=f"{at}.tiering.cuts", message="give at least one cut point")]
    for a, b in itertools.pairwise(cuts):
        if not _better(direction, a, b):
            return [
                FieldError(
                    field=f"{at}.tiering.cuts",
                    message="cut points must be in order, best first, without repeats",
                )
            ]
    if any(not _better(direction, c, spec.baseline) for c in cuts):
        return [
            FieldError(
                field=f"{at}.tiering.cuts",
                message="every cut point must be better than the baseline",
            )
        ]
    return []


def problems(
    content: PlanContent,
    key_area_categories: Sequence[str],
    categories: Mapping[str, CategoryRecord],
) -> list[FieldError]:
    """Everything wrong with a plan's content, in field order (empty when it is fine)."""
    errors: list[FieldError] = []
    for i, code in enumerate(content.categories):
        if code not in key_area_categories:
            errors.append(
                FieldError(
                    field=f"categories[{i}]", message=f"{code} is not a category of the key area"
                )
            )
        if code in content.categories[:i]:
            errors.append(FieldError(field=f"categories[{i}]", message=f"{code} listed twice"))
    if not content.indicators:
        errors.append(FieldError(field="indicators", message="a plan needs core indicators"))
    seen: set[str] = set()
    for i, spec in enumerate(content.indicators):
        if spec.code in seen:
            errors.append(
                FieldError(field=f"indicators[{i}].code", message=f"{spec.code} listed twice")
            )
        seen.add(spec.code)
        errors.extend(_indicator_errors(i, spec, categories))
    if content.indicators and all(s.weight == 0 for s in content.indicators):
        errors.append(FieldError(field="indicators", message="all weights are zero"))
    errors.extend(_selection_errors(content))
    if content.cycle.valid_to < content.cycle.valid_from:
        errors.append(FieldError(field="cycle.valid_to", message="the cycle ends before it starts"))
    return errors


def _selection_errors(content: PlanContent) -> list[FieldError]:
    sel = content.selection
    errors: list[FieldError] = []
    if sel.rule == "top_n" and (sel.n is None or sel.n < 1):
        errors.append(FieldError(field="selection.n", message="top N needs N of at least 1"))
    if sel.rule != "top_n" and sel.n is not None:
        errors.append(FieldError(field="selection.n", message="n only goes with top_n"))
    if sel.rule == "top_percent" and (sel.percent is None or not 0 < sel.percent <= 100):
        errors.append(
            FieldError(field="selection.percent", message="the percentage must be in (0, 100]")
        )
    if sel.rule != "top_percent" and sel.percent is not None:
        errors.append(
            FieldError(field="selection.percent", message="percent only goes with top_percent")
        )
    if sel.cap is not None and sel.cap < 1:
        errors.append(FieldError(field="selection.cap", message="a cap must be at least 1"))
    return errors


def check(
    content: PlanContent,
    key_area_categories: Sequence[str],
    categories: Mapping[str, CategoryRecord],
) -> None:
    """Raise a 422 naming every field that is wrong."""
    errors = problems(content, key_area_categories, categories)
    if not errors:
        try:
            to_engine(content, categories)
        except ValueError as exc:  # a rule of the engine this module does not know yet
            errors.append(FieldError(field="indicators", message=str(exc)))
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise ValidationFailed(detail, errors=errors)


def to_engine(
    content: PlanContent, categories: Mapping[str, CategoryRecord] | None = None
) -> tuple[engine.Plan, list[IndicatorSpec]]:
    """The engine's plan, and the eligibility-only (weight 0) indicators it leaves out.

    ``categories`` gives directions the content left to the vocabulary; a stored version
    always has them filled in (see ``with_directions``).
    """
    vocab: dict[str, VocabularyWord] = {}
    for cat in (categories or {}).values():
        vocab.update({w.code: w for w in cat.indicators})
    ranked: list[engine.Indicator] = []
    gates: list[IndicatorSpec] = []
    for spec in content.indicators:
        if spec.weight == 0:
            gates.append(spec)
            continue
        tiering = (
            engine.Tiering(cuts=tuple(spec.tiering.cuts))
            if spec.tiering.cuts
            else engine.Tiering(quantiles=spec.tiering.quantiles)
        )
        ranked.append(
            engine.Indicator(
                code=spec.code,
                direction=engine.Direction(direction_of(spec, vocab)),
                baseline=spec.baseline,
                benchmark=spec.benchmark,
                weight=spec.weight,
                tiering=tiering,
            )
        )
    sel = content.selection
    plan = engine.Plan(
        indicators=tuple(ranked),
        selection=engine.Selection(
            rule=engine.SelectionRule(sel.rule),
            n=sel.n,
            percent=sel.percent,
            cap=sel.cap,
            cap_ties=engine.CapTies(sel.cap_ties),
        ),
        method=engine.Method(content.method),
        reference=engine.Reference(content.reference),
        reference_k=content.reference_k,
    )
    return plan, gates


def with_directions(content: PlanContent, categories: Mapping[str, CategoryRecord]) -> PlanContent:
    """The content with each indicator's direction spelled out, as a version stores it."""
    vocab: dict[str, VocabularyWord] = {}
    for cat in categories.values():
        vocab.update({w.code: w for w in cat.indicators})
    indicators = [
        spec.model_copy(update={"direction": direction_of(spec, vocab)})
        for spec in content.indicators
    ]
    return content.model_copy(update={"indicators": indicators})


def engine_view(content: dict[str, Any]) -> PlanContent:
    return PlanContent.model_validate(content)
