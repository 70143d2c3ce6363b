"""The registry's category catalogue as ranking sees it: checked names and vocabularies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request

from services.clients.registry import CategoryRecord, RegistryClient
from services.kit.http import ServiceError, ServiceNotFound
from services.kit.problems import FieldError, ServiceUnavailable, ValidationFailed


async def registry_of(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryClient, Depends(registry_of)]


async def categories(
    registry: RegistryClient, codes: Sequence[str], field: str = "categories"
) -> dict[str, CategoryRecord]:
    """Each category with its vocabulary; an unknown one is a 422 naming it (``field[i]``)."""
    found: dict[str, CategoryRecord] = {}
    errors: list[FieldError] = []
    for i, code in enumerate(codes):
        if code in found:
            continue
        try:
            found[code] = await registry.get_category(code)
        except ServiceNotFound:
            errors.append(FieldError(field=f"{field}[{i}]", message=f"unknown category {code}"))
        except ServiceError as exc:
            raise ServiceUnavailable(
                f"the registry could not be asked about category {code}; try again later",
                code="registry_unavailable",
            ) from exc
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ValidationFailed(detail, code="unknown_category", errors=errors)
    return found
