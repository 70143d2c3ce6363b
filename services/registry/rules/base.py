"""What every registry rule shares: the error it raises, Unicode folding, the date order.

Everything under ``rules`` is a plain function of its arguments: no database, no web framework,
no clock. Errors are :class:`RuleError`, with a stable machine ``code``, the ``field`` that was
wrong and a message in English and Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date


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


WHITESPACE = re.compile(r"\s+")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


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
