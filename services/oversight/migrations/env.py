from services.kit.migrations import run_env
from services.oversight.models import metadata

run_env(metadata, "oversight")
