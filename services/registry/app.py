"""The disclosure registry (企业标准自我声明公开): enterprises, standards, search, sync."""

from fastapi import FastAPI

from services.kit.app import build_app
from services.kit.fresh import Watched
from services.registry.categories.router import router as categories
from services.registry.changes.router import router as changes
from services.registry.enterprises.router import router as enterprises
from services.registry.exports.router import router as exports
from services.registry.models import kit_tables
from services.registry.settings import RegistrySettings
from services.registry.standards.router import router as standards
from services.registry.sync.router import router as sync

VERSION = "0.1.0"
# What the kept public reads (a standard, a search page, the catalogue) are read from; the
# triggers of registry_0006 notify the channel (kit.fresh).
KEPT_READS = Watched(
    "registry_changed",
    (
        "registry.standards",
        "registry.standard_versions",
        "registry.enterprises",
        "registry.categories",
        "registry.category_indicators",
    ),
)


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    return build_app(
        settings,
        title="Forerunner registry 企业标准自我声明公开",
        description=(
            "Enterprises, their self-declared standards (自我声明公开的标准) with immutable "
            "versions, the category catalogue, public search, bulk sync from the national "
            "platform, the change feed and bulk export."
        ),
        version=VERSION,
        routers=[standards, categories, enterprises, changes, sync, exports],
        tables=kit_tables,
        watched=KEPT_READS,
        kept_answer_prefixes=["/v1/standards", "/v1/categories"],
        integrity_codes={
            "pk_enterprises": "duplicate_uscc",
            "uq_standards_uscc_standard_no_key": "duplicate_standard_no",
        },
        # Bulk sync bodies are streamed and parsed in chunks; the item count is capped instead.
        body_limit_overrides={"/v1/sync": 256 * 1024 * 1024},
    )
