from services.kit.migrations import run_env
from services.registry.models import metadata

run_env(metadata, "registry")
