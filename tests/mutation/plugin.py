"""pytest plugin loaded only by `make mutation` (`-p tests.mutation.plugin`): hypothesis runs derandomized and
smaller, so a mutant's verdict does not depend on the run's random seed and each mutant stays fast."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mutation",
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile("mutation")
