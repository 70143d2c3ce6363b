from services.kit.migrations import run_env
from services.ranking.models import metadata

run_env(metadata, "ranking")
